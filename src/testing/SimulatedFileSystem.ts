/**
 * A deterministic, faulty, in-memory disk behind @effect/platform's `FileSystem`.
 *
 * The storage layer does all its IO through `FileSystem`, so running it on this disk lets a test crash it at any
 * I/O, tear its unsynced writes, and inject EIO / ENOSPC / short writes / slow fsyncs, all driven by one seed and
 * replayable byte for byte. With every fault knob at 0 it behaves like a correct POSIX disk (see the differential
 * test against the real one), so a bug found here is a bug in the code under test, not in the simulation.
 *
 * Model (see `makeSimulatedDisk` for the full contract):
 * - Inodes. A file inode has a DURABLE image (what survives power loss) and a VOLATILE image (what reads see: the
 *   page cache), plus the ordered list of data operations (writes, truncates) issued since its last fsync.
 *   `File.sync` applies that list to the durable image.
 * - Directory entries. Each directory has DURABLE entries and VOLATILE entries, plus the ordered list of entry
 *   operations (create, link, rename, unlink, mkdir) since its last fsync. Only an fsync of the DIRECTORY itself
 *   (`fs.open(dir, { flag: "r" })` then `sync`) makes them durable. Like Linux without journaling guarantees,
 *   fsync of a file does NOT make its own name durable, and a rename across directories needs both fsynced.
 * - Crash. `crash(variant)` throws away the volatile state and invalidates every open handle. See `CrashVariant`.
 *
 * The module imports no `node:` module and touches no runtime global, so the kit runs on Node, Deno and edge
 * runtimes. Time comes from Effect's `Clock` (so `TestClock` drives slow fsyncs), randomness from the disk's own
 * seeded PRNG.
 */
import { type PlatformError, SystemError, type SystemErrorReason } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Bytes } from "./Bytes.ts"
import { makePrng, type Prng } from "./Prng.ts"
import { layerSimulatedPath, normalizeSimulatedPath, pathComponents } from "./SimulatedPath.ts"

// ---------------------------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------------------------

/**
 * What a crash does to state that was not yet durable.
 *
 * - `"drop"`: power loss with a disk that had written nothing unsynced. Every file reverts to its durable image and
 *   every directory to its durable entries.
 * - `"keep"`: a process crash (kill -9) on a healthy kernel. The page cache survives, so every volatile byte and
 *   entry becomes durable. Only the open handles die.
 * - `"torn512"` / `"torn4096"`: power loss in the middle of writeback, with a disk that writes in issue order.
 *   - Files: the data operations issued since the file's last fsync are cut into pieces at absolute 512 B / 4 KiB
 *     sector boundaries (a truncate is one piece). A seeded count n in [0, pieces] of them, in issue order, is
 *     applied to the durable image. If n < pieces and piece n is a write, it is then torn one of three ways, each
 *     with probability 1/3: `none` (it did not land), `partial` (its first m bytes landed, m seeded in
 *     [1, length-1]; a 1-byte piece cannot be partial and counts as `none`), or `zero` (its byte range reads as
 *     zeros: the size update landed but the data did not, which also extends the file if the piece was past EOF).
 *   - Directories: a seeded prefix of the entry operations since the directory's last fsync is applied, each
 *     operation atomic (a rename within one directory is one operation; across directories it is two, one per
 *     directory, which is why both must be fsynced).
 *   Files and directories are visited in inode-creation order, so the draws are deterministic.
 *
 * After any crash, inodes no longer reachable from "/" through durable entries are gone.
 */
export type CrashVariant = "drop" | "keep" | "torn512" | "torn4096"

/** Every crash variant, in a fixed order, for enumeration loops. */
export const crashVariants: ReadonlyArray<CrashVariant> = ["drop", "keep", "torn512", "torn4096"]

/**
 * When a fault fires, evaluated once per eligible I/O.
 *
 * - a number p, or `{ probability: p }`: fires with probability p, drawn from the disk's seeded fault stream
 *   (0 and 1 consume no draw);
 * - `{ atIo: k }`: fires on the I/O whose 1-based index (`ioCount` after it) is k, if that I/O is eligible;
 * - `{ fromIo: k }`: fires on every eligible I/O with index ≥ k.
 */
export type FaultTrigger =
  | number
  | { readonly probability: number }
  | { readonly atIo: number }
  | { readonly fromIo: number }

/**
 * The fault knobs. Every knob is off when absent.
 *
 * Eligibility: "write" I/Os are `File.write`, `File.writeAll`, the data step of `writeFile` and `copyFile`;
 * "read" I/Os are `File.read`, `File.readAlloc`, `readFile` and the read step of `copyFile`; "sync" I/Os are
 * `File.sync` on a file or a directory.
 */
export interface FaultConfig {
  /** Halt the disk before this I/O, as a power cut would: it and every later I/O fail until `crash()`. */
  readonly crash?: FaultTrigger
  /** Fail ANY I/O with EIO (the SQLite-style "fail the k-th I/O" knob). Same effects as the specific knobs. */
  readonly eio?: FaultTrigger
  /** Fail a write with EIO; nothing lands. */
  readonly eioOnWrite?: FaultTrigger
  /** Fail a read with EIO; the position does not move. */
  readonly eioOnRead?: FaultTrigger
  /**
   * Fail an fsync with EIO. As on Linux since 4.13 ("fsyncgate"), the failed writeback is forgotten: reads still
   * see the data, but it is no longer pending, so a later fsync succeeds without making it durable.
   */
  readonly eioOnSync?: FaultTrigger
  /**
   * ENOSPC after a partial write: a seeded prefix of m bytes, m in [0, length-1], lands in the volatile image, then
   * the call fails. `writeAll` advances the position by m (as Node's chunked writeAll does); `write` does not move
   * it (Node moves it only on success). The error has reason "Unknown" like @effect/platform-node's, a
   * `description` starting with "ENOSPC:", `syscall: "write"`, and a `cause` carrying `code: "ENOSPC"`.
   */
  readonly enospcOnWrite?: FaultTrigger
  /** `File.write` (only) lands and reports m bytes, m seeded in [1, length-1]. `writeAll` loops like Node's. */
  readonly shortWrite?: FaultTrigger
  /** An fsync sleeps `slowSyncDelay` (Effect.sleep, so TestClock controls it) before it takes effect. */
  readonly slowSync?: FaultTrigger
  /** How long a slow fsync sleeps. Default 100 millis. */
  readonly slowSyncDelay?: Duration.DurationInput
}

/** The knobs that inject something, as counted in `SimulatedDisk.faults`. */
export type FaultKind = Exclude<keyof FaultConfig, "slowSyncDelay">

/** How many faults of each kind were injected since the disk was made. */
export type FaultStats = { readonly [K in FaultKind]: number }

/** A disk's contents as plain data: directories and files, sorted by path. Hard links appear once per name. */
export interface DiskImage {
  readonly directories: ReadonlyArray<string>
  readonly files: ReadonlyArray<readonly [path: string, bytes: Uint8Array]>
}

/** What one `crash()` did. */
export interface CrashReport {
  readonly variant: CrashVariant
  /** How many crashes this disk has been through, this one included. */
  readonly epoch: number
  /** Unsynced file data pieces (after sector splitting for torn variants; operations otherwise), and how many landed. */
  readonly filePieces: number
  readonly filePiecesLanded: number
  /** Unsynced directory entry operations, and how many landed. */
  readonly dirOps: number
  readonly dirOpsLanded: number
  /** How many files ended with a torn (partial or zeroed) piece. */
  readonly tornPieces: number
}

export interface SimulatedDiskOptions {
  /** Seeds every fault draw and every torn crash. Default 0. */
  readonly seed?: number | string
  /** Initial fault knobs (all off by default). */
  readonly faults?: FaultConfig
  /** Initial contents, fully durable. Default: an empty root. */
  readonly image?: DiskImage
  /** Keep only the last N trace lines (default: keep all). The I/O count is unaffected. */
  readonly traceMax?: number
}

/**
 * A handle on one simulated disk. All state is in memory and mutated synchronously inside the `FileSystem`
 * effects, so a test (or a simulator) can inspect and steer it between effects.
 */
export interface SimulatedDisk {
  /** The `FileSystem` service over this disk. */
  readonly fileSystem: FileSystem.FileSystem
  /** `FileSystem` only. */
  readonly layer: Layer.Layer<FileSystem.FileSystem>
  /** `FileSystem` plus a runtime-neutral POSIX `Path` whose working directory is "/". */
  readonly layerWithPath: Layer.Layer<FileSystem.FileSystem | Path.Path>
  /** Count of I/Os that reached the disk (including those that failed with an injected or a POSIX error). */
  readonly ioCount: number
  /** How many crashes the disk has been through. Handles opened in an earlier epoch are dead. */
  readonly epoch: number
  /** True once a halt fired (`crashAfterIo`, the `crash` knob or `halt()`): every I/O fails until `crash()`. */
  readonly halted: boolean
  /** Faults injected so far, per knob. */
  readonly faults: FaultStats
  /** Handles opened and not yet closed (their scope is still open), across epochs. */
  readonly openFiles: number
  /** The trace: one short line per I/O, fault, halt and crash. Same seed and operations ⇒ identical lines. */
  readonly trace: ReadonlyArray<string>
  /** The trace as one string, lines joined by "\n". */
  readonly traceText: () => string
  /** The PRNG state of the fault stream now (serializable; for logging a reproducer). */
  readonly seedState: () => { readonly faults: number; readonly crash: number }
  /** Replaces every fault knob. */
  readonly setFaults: (faults: FaultConfig) => void
  /**
   * Halts the disk when `ioCount` would exceed `k` (an absolute index: use `disk.ioCount + k` for "k more"). The
   * I/O numbered k+1 fails with `isHaltError` true and is not counted; the disk stays halted until `crash()`.
   * `undefined` cancels. A crash also cancels it.
   */
  readonly crashAfterIo: (k: number | undefined) => void
  /** Halts the disk now (the same state `crashAfterIo` reaches). */
  readonly halt: () => void
  /** Loses the volatile state per `variant` (default "drop") and revives a halted disk. See `CrashVariant`. */
  readonly crash: (variant?: CrashVariant, options?: { readonly seed?: number | string }) => CrashReport
  /**
   * An independent copy of the whole disk: contents (durable, volatile, pending operations), counters, halt state,
   * knobs, trace and PRNG states. It has no open handles. Use it to explore several crash variants of one moment.
   */
  readonly fork: () => SimulatedDisk
  /** What would survive a "drop" crash now. */
  readonly durableImage: () => DiskImage
  /** What reads see now. */
  readonly volatileImage: () => DiskImage
  /** A 64-bit hash (16 hex digits) of `durableImage()` or `volatileImage()`, to count distinct crash states. */
  readonly fingerprint: (which?: "durable" | "volatile") => string
}

// ---------------------------------------------------------------------------------------------------------------
// Errors, shaped like @effect/platform-node's (platform-node-shared/src/internal/error.ts)
// ---------------------------------------------------------------------------------------------------------------

type Errno =
  | "ENOENT"
  | "EEXIST"
  | "EISDIR"
  | "ENOTDIR"
  | "ENOTEMPTY"
  | "EBADF"
  | "EINVAL"
  | "EIO"
  | "ENOSPC"
  | "EPERM"
  | "EBUSY"

const errnoTable: Record<Errno, readonly [reason: SystemErrorReason, text: string, errno: number]> = {
  ENOENT: ["NotFound", "no such file or directory", -2],
  EEXIST: ["AlreadyExists", "file already exists", -17],
  EISDIR: ["BadResource", "illegal operation on a directory", -21],
  ENOTDIR: ["BadResource", "not a directory", -20],
  ENOTEMPTY: ["Unknown", "directory not empty", -39],
  EBADF: ["Unknown", "bad file descriptor", -9],
  EINVAL: ["Unknown", "invalid argument", -22],
  EIO: ["Unknown", "i/o error", -5],
  ENOSPC: ["Unknown", "no space left on device", -28],
  EPERM: ["Unknown", "operation not permitted", -1],
  EBUSY: ["Busy", "resource busy or locked", -16],
}

const haltMarker = "simulatedHalt"
const haltNote = "simulated power loss: disk halted"

interface ErrorSite {
  readonly method: string
  readonly syscall: string
  readonly target: string | number
  readonly dest?: string
}

const makeError = (code: Errno, site: ErrorSite, note?: string): SystemError => {
  const [reason, text] = errnoTable[code]
  const where =
    typeof site.target === "number"
      ? ""
      : site.dest !== undefined
        ? ` '${site.target}' -> '${site.dest}'`
        : ` '${site.target}'`
  const message = `${code}: ${text}${note === undefined ? "" : ` (${note})`}, ${site.syscall}${where}`
  const cause = Object.assign(new Error(message), { code, errno: errnoTable[code][2], syscall: site.syscall })
  if (note === haltNote) Object.assign(cause, { [haltMarker]: true })
  return new SystemError({
    reason,
    module: "FileSystem",
    method: site.method,
    pathOrDescriptor: site.target,
    syscall: site.syscall,
    description: message,
    cause,
  })
}

/** True for the error of an I/O refused because the disk is halted (see `crashAfterIo`). */
export const isHaltError = (error: unknown): boolean =>
  error instanceof SystemError &&
  typeof error.cause === "object" &&
  error.cause !== null &&
  (error.cause as Record<string, unknown>)[haltMarker] === true

/** The errno-like code ("ENOSPC", "EIO", "ENOENT", …) carried by a simulated (or Node) SystemError, if any. */
export const errorCode = (error: unknown): string | undefined => {
  if (!(error instanceof SystemError)) return undefined
  const cause = error.cause as { readonly code?: unknown } | undefined
  if (typeof cause?.code === "string") return cause.code
  const match = /^([A-Z][A-Z0-9_]+):/.exec(error.description ?? "")
  return match?.[1]
}

const fail = (code: Errno, site: ErrorSite, note?: string): never => {
  throw makeError(code, site, note)
}

// ---------------------------------------------------------------------------------------------------------------
// Inodes
// ---------------------------------------------------------------------------------------------------------------

type FileOp =
  | { readonly _tag: "write"; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly _tag: "truncate"; readonly length: number }

/** One atomic directory operation: a set of entry changes; `undefined` removes the entry. */
type DirOp = ReadonlyArray<readonly [name: string, id: number | undefined]>

interface Times {
  mtimeMs: number
  atimeMs: number
  birthtimeMs: number
  mode: number
  uid: number
  gid: number
}

interface FileNode extends Times {
  readonly kind: "file"
  readonly id: number
  durable: Bytes
  volatile: Bytes
  pending: Array<FileOp>
}

interface DirNode extends Times {
  readonly kind: "dir"
  readonly id: number
  durable: Map<string, number>
  volatile: Map<string, number>
  pending: Array<DirOp>
}

type Node = FileNode | DirNode

const rootId = 1
const fileMode = 0o100644
const dirMode = 0o040755
const defaultSlowSync = Duration.millis(100)

interface OpenMode {
  readonly read: boolean
  readonly write: boolean
  readonly append: boolean
  readonly create: boolean
  readonly exclusive: boolean
  readonly truncate: boolean
}

const openModes: Record<FileSystem.OpenFlag, OpenMode> = {
  r: { read: true, write: false, append: false, create: false, exclusive: false, truncate: false },
  "r+": { read: true, write: true, append: false, create: false, exclusive: false, truncate: false },
  w: { read: false, write: true, append: false, create: true, exclusive: false, truncate: true },
  wx: { read: false, write: true, append: false, create: true, exclusive: true, truncate: true },
  "w+": { read: true, write: true, append: false, create: true, exclusive: false, truncate: true },
  "wx+": { read: true, write: true, append: false, create: true, exclusive: true, truncate: true },
  a: { read: false, write: true, append: true, create: true, exclusive: false, truncate: false },
  ax: { read: false, write: true, append: true, create: true, exclusive: true, truncate: false },
  "a+": { read: true, write: true, append: true, create: true, exclusive: false, truncate: false },
  "ax+": { read: true, write: true, append: true, create: true, exclusive: true, truncate: false },
}

interface DiskState {
  inodes: Map<number, Node>
  nextId: number
  nextFd: number
  tempCounter: number
  ioCount: number
  epoch: number
  halted: boolean
  haltAfter: number | undefined
  config: FaultConfig
  stats: Record<FaultKind, number>
  trace: Array<string>
  faultRng: Prng
  crashRng: Prng
  openFiles: number
}

const emptyStats = (): Record<FaultKind, number> => ({
  crash: 0,
  eio: 0,
  eioOnWrite: 0,
  eioOnRead: 0,
  eioOnSync: 0,
  enospcOnWrite: 0,
  shortWrite: 0,
  slowSync: 0,
})

const cloneNode = (node: Node): Node =>
  node.kind === "file"
    ? { ...node, durable: node.durable.clone(), volatile: node.volatile.clone(), pending: [...node.pending] }
    : { ...node, durable: new Map(node.durable), volatile: new Map(node.volatile), pending: [...node.pending] }

// ---------------------------------------------------------------------------------------------------------------
// The disk
// ---------------------------------------------------------------------------------------------------------------

/**
 * Makes a simulated disk. Paths are POSIX; relative paths resolve against "/". The disk starts with an empty,
 * durable root (or `options.image`, fully durable).
 *
 * I/O accounting: every `FileSystem` call that reaches the disk counts one I/O, except `writeFile`, `copyFile` and
 * `makeTempFile`, which count two (open/create, then data), so a crash can fall between creating a file and
 * filling it. `File` methods count one each, except `seek` (no syscall) and closing (never fails, never counts).
 * A call on a closed, crashed-epoch or wrong-mode handle fails with EBADF (or EISDIR / EINVAL like Linux) before
 * reaching the disk and is not counted. An I/O refused because the disk is halted is not counted.
 *
 * Not simulated: symbolic links (`symlink` fails with EPERM, `readLink` with EINVAL since nothing is a link),
 * `watch` (fails with EPERM), permissions (`chmod`/`chown` are recorded but never enforced), disk capacity (ENOSPC
 * only through the knob). `readDirectory` lists names sorted by UTF-16 code units, where Linux uses hash order.
 */
export const makeSimulatedDisk = (options: SimulatedDiskOptions = {}): SimulatedDisk => {
  const root = makePrng(options.seed ?? 0)
  const state: DiskState = {
    inodes: new Map(),
    nextId: rootId + 1,
    nextFd: 3,
    tempCounter: 0,
    ioCount: 0,
    epoch: 0,
    halted: false,
    haltAfter: undefined,
    config: options.faults ?? {},
    stats: emptyStats(),
    trace: [],
    faultRng: root.fork(),
    crashRng: root.fork(),
    openFiles: 0,
  }
  state.inodes.set(rootId, newDir(rootId, 0))
  if (options.image !== undefined) loadImage(state, options.image)
  return makeHandle(state, options.traceMax)
}

function newDir(id: number, now: number): DirNode {
  return {
    kind: "dir",
    id,
    durable: new Map(),
    volatile: new Map(),
    pending: [],
    mtimeMs: now,
    atimeMs: now,
    birthtimeMs: now,
    mode: dirMode,
    uid: 0,
    gid: 0,
  }
}

function newFile(id: number, now: number, mode?: number): FileNode {
  return {
    kind: "file",
    id,
    durable: new Bytes(),
    volatile: new Bytes(),
    pending: [],
    mtimeMs: now,
    atimeMs: now,
    birthtimeMs: now,
    mode: mode === undefined ? fileMode : 0o100000 | (mode & 0o7777),
    uid: 0,
    gid: 0,
  }
}

function loadImage(state: DiskState, image: DiskImage): void {
  const ensureDir = (components: ReadonlyArray<string>): DirNode => {
    let dir = state.inodes.get(rootId) as DirNode
    for (const name of components) {
      const id = dir.volatile.get(name)
      let next = id === undefined ? undefined : state.inodes.get(id)
      if (next === undefined) {
        next = newDir(state.nextId++, 0)
        state.inodes.set(next.id, next)
        dir.volatile.set(name, next.id)
        dir.durable.set(name, next.id)
      }
      if (next.kind !== "dir") throw new Error(`image: ${components.join("/")} crosses a file`)
      dir = next
    }
    return dir
  }
  for (const path of image.directories) ensureDir(pathComponents(path))
  for (const [path, bytes] of image.files) {
    const components = pathComponents(path)
    const name = components.pop()
    if (name === undefined) throw new Error("image: a file cannot be the root")
    const dir = ensureDir(components)
    const file = newFile(state.nextId++, 0)
    file.durable = new Bytes(bytes)
    file.volatile = new Bytes(bytes)
    state.inodes.set(file.id, file)
    dir.volatile.set(name, file.id)
    dir.durable.set(name, file.id)
  }
}

function makeHandle(state: DiskState, traceMax: number | undefined): SimulatedDisk {
  const log = (line: string): void => {
    state.trace.push(line)
    if (traceMax !== undefined && state.trace.length > traceMax * 2)
      state.trace.splice(0, state.trace.length - traceMax)
  }
  const traceView = (): Array<string> =>
    traceMax !== undefined && state.trace.length > traceMax ? state.trace.slice(-traceMax) : state.trace

  const fileSystem = makeFileSystem(state, log)
  const layer = Layer.succeed(FileSystem.FileSystem, fileSystem)
  const disk: SimulatedDisk = {
    fileSystem,
    layer,
    layerWithPath: Layer.merge(layer, layerSimulatedPath),
    get ioCount() {
      return state.ioCount
    },
    get epoch() {
      return state.epoch
    },
    get halted() {
      return state.halted
    },
    get faults() {
      return { ...state.stats }
    },
    get openFiles() {
      return state.openFiles
    },
    get trace() {
      return [...traceView()]
    },
    traceText: () => traceView().join("\n"),
    seedState: () => ({ faults: state.faultRng.state, crash: state.crashRng.state }),
    setFaults: (faults) => {
      state.config = faults
    },
    crashAfterIo: (k) => {
      state.haltAfter = k
    },
    halt: () => {
      if (!state.halted) log(`halt manual at ${state.ioCount}`)
      state.halted = true
    },
    crash: (variant = "drop", crashOptions) => {
      const rng = crashOptions?.seed === undefined ? state.crashRng : makePrng(crashOptions.seed)
      const report = crashDisk(state, variant, rng)
      log(
        `crash ${variant} epoch=${report.epoch} file=${report.filePiecesLanded}/${report.filePieces} ` +
          `dir=${report.dirOpsLanded}/${report.dirOps} torn=${report.tornPieces}`,
      )
      return report
    },
    fork: () => {
      const inodes = new Map<number, Node>()
      for (const [id, node] of state.inodes) inodes.set(id, cloneNode(node))
      return makeHandle(
        {
          ...state,
          inodes,
          stats: { ...state.stats },
          trace: [...state.trace],
          faultRng: makePrng(state.faultRng.state),
          crashRng: makePrng(state.crashRng.state),
          openFiles: 0,
        },
        traceMax,
      )
    },
    durableImage: () => imageOf(state, "durable"),
    volatileImage: () => imageOf(state, "volatile"),
    fingerprint: (which = "durable") => fingerprintOf(imageOf(state, which)),
  }
  return disk
}

// ---------------------------------------------------------------------------------------------------------------
// Crash
// ---------------------------------------------------------------------------------------------------------------

function crashDisk(state: DiskState, variant: CrashVariant, rng: Prng): CrashReport {
  state.epoch++
  state.halted = false
  state.haltAfter = undefined
  const sector = variant === "torn512" ? 512 : variant === "torn4096" ? 4096 : 0
  let filePieces = 0
  let filePiecesLanded = 0
  let dirOps = 0
  let dirOpsLanded = 0
  let tornPieces = 0
  const ids = [...state.inodes.keys()].sort((a, b) => a - b)
  for (const id of ids) {
    const node = state.inodes.get(id)!
    if (node.kind === "file") {
      if (variant === "keep") {
        filePieces += node.pending.length
        filePiecesLanded += node.pending.length
        node.durable = node.volatile.clone()
      } else if (variant === "drop") {
        filePieces += node.pending.length
      } else if (node.pending.length > 0) {
        const pieces = splitPieces(node.pending, sector)
        const landed = rng.int(pieces.length + 1)
        filePieces += pieces.length
        filePiecesLanded += landed
        for (let i = 0; i < landed; i++) applyFileOp(node.durable, pieces[i]!)
        const next = pieces[landed]
        if (next !== undefined && next._tag === "write") {
          const tear = rng.int(3)
          if (tear === 1 && next.bytes.length > 1) {
            applyFileOp(node.durable, { ...next, bytes: next.bytes.subarray(0, 1 + rng.int(next.bytes.length - 1)) })
            tornPieces++
          } else if (tear === 2) {
            applyFileOp(node.durable, { ...next, bytes: new Uint8Array(next.bytes.length) })
            tornPieces++
          }
        }
      }
      node.pending = []
      node.volatile = node.durable.clone()
    } else {
      dirOps += node.pending.length
      if (variant === "keep") {
        dirOpsLanded += node.pending.length
        node.durable = new Map(node.volatile)
      } else if (variant !== "drop" && node.pending.length > 0) {
        const landed = rng.int(node.pending.length + 1)
        dirOpsLanded += landed
        for (let i = 0; i < landed; i++) applyDirOp(node.durable, node.pending[i]!)
      }
      node.pending = []
      node.volatile = new Map(node.durable)
    }
  }
  collectGarbage(state)
  return { variant, epoch: state.epoch, filePieces, filePiecesLanded, dirOps, dirOpsLanded, tornPieces }
}

function splitPieces(ops: ReadonlyArray<FileOp>, sector: number): Array<FileOp> {
  const pieces: Array<FileOp> = []
  for (const op of ops) {
    if (op._tag === "truncate") {
      pieces.push(op)
      continue
    }
    let start = 0
    while (start < op.bytes.length) {
      const offset = op.offset + start
      const end = Math.min(op.bytes.length, start + (sector - (offset % sector)))
      pieces.push({ _tag: "write", offset, bytes: op.bytes.subarray(start, end) })
      start = end
    }
  }
  return pieces
}

function applyFileOp(target: Bytes, op: FileOp): void {
  if (op._tag === "write") target.write(op.offset, op.bytes)
  else target.truncate(op.length)
}

function applyDirOp(target: Map<string, number>, op: DirOp): void {
  for (const [name, id] of op) {
    if (id === undefined) target.delete(name)
    else target.set(name, id)
  }
}

function collectGarbage(state: DiskState): void {
  const live = new Set<number>([rootId])
  const stack = [rootId]
  while (stack.length > 0) {
    const node = state.inodes.get(stack.pop()!)
    if (node?.kind !== "dir") continue
    for (const id of node.durable.values()) {
      if (live.has(id)) continue
      live.add(id)
      stack.push(id)
    }
  }
  for (const id of [...state.inodes.keys()]) if (!live.has(id)) state.inodes.delete(id)
}

// ---------------------------------------------------------------------------------------------------------------
// Images and fingerprints
// ---------------------------------------------------------------------------------------------------------------

function imageOf(state: DiskState, which: "durable" | "volatile"): DiskImage {
  const directories: Array<string> = []
  const files: Array<readonly [string, Uint8Array]> = []
  // A directory can be reachable twice in a durable image made of independently-synced directories; list it once.
  const seen = new Set<number>()
  const walk = (dir: DirNode, path: string): void => {
    if (seen.has(dir.id)) return
    seen.add(dir.id)
    const entries = [...dir[which].entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    for (const [name, id] of entries) {
      const node = state.inodes.get(id)
      const child = path === "/" ? `/${name}` : `${path}/${name}`
      if (node === undefined) continue
      if (node.kind === "dir") {
        directories.push(child)
        walk(node, child)
      } else {
        files.push([child, node[which].copyOut()])
      }
    }
  }
  walk(state.inodes.get(rootId) as DirNode, "/")
  const byPath = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
  directories.sort(byPath)
  files.sort(([a], [b]) => byPath(a, b))
  return { directories, files }
}

/** A 64-bit hash (two independent 32-bit lanes) of an image, as 16 hex digits. */
export const fingerprintOf = (image: DiskImage): string => {
  let h1 = 0x811c9dc5
  let h2 = 0x9747b28c
  const byte = (b: number) => {
    h1 = Math.imul(h1 ^ b, 0x01000193)
    h2 = Math.imul(h2 ^ b, 0x5bd1e995)
    h2 ^= h2 >>> 15
  }
  const text = (s: string) => {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      byte(c & 0xff)
      byte(c >>> 8)
    }
    byte(0)
  }
  for (const dir of image.directories) text(`d${dir}`)
  for (const [path, bytes] of image.files) {
    text(`f${path}:${bytes.length}`)
    for (const b of bytes) byte(b)
  }
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, "0")
  return hex(h1) + hex(h2)
}

// ---------------------------------------------------------------------------------------------------------------
// The FileSystem service
// ---------------------------------------------------------------------------------------------------------------

interface FsContext {
  readonly state: DiskState
  readonly log: (line: string) => void
}

/** Runs a synchronous disk operation, turning thrown SystemErrors into failures and reading the Effect clock. */
const run = <A>(body: (now: number) => A): Effect.Effect<A, PlatformError> =>
  Effect.clockWith((clock) =>
    Effect.suspend(() => {
      try {
        return Effect.succeed(body(clock.unsafeCurrentTimeMillis()))
      } catch (error) {
        if (error instanceof SystemError) return Effect.fail(error)
        throw error
      }
    }),
  )

function fires(ctx: FsContext, trigger: FaultTrigger | undefined, io: number): boolean {
  if (trigger === undefined) return false
  if (typeof trigger === "number") return ctx.state.faultRng.chance(trigger)
  if ("probability" in trigger) return ctx.state.faultRng.chance(trigger.probability)
  if ("atIo" in trigger) return io === trigger.atIo
  return io >= trigger.fromIo
}

/** An injected fault: counted, traced, and reported to the caller. */
function inject(ctx: FsContext, kind: FaultKind, io: number, what: string): void {
  ctx.state.stats[kind]++
  ctx.log(`${io} !${kind} ${what}`)
}

/**
 * The gate every I/O passes: refuses it when the disk is halted (or halts it), counts it, and applies the generic
 * `eio` knob. Returns the I/O's index and whether the `eio` knob fired (the caller applies the EIO per its kind).
 */
function enter(ctx: FsContext, site: ErrorSite, detail: string): { io: number; eio: boolean } {
  const { state } = ctx
  const what = `${site.syscall} ${site.target}${site.dest === undefined ? "" : ` ${site.dest}`}${detail}`
  if (state.halted) {
    ctx.log(`x ${what}`)
    fail("EIO", site, haltNote)
  }
  const io = state.ioCount + 1
  if (state.haltAfter !== undefined && io > state.haltAfter) {
    state.halted = true
    ctx.log(`halt at ${io} ${what}`)
    fail("EIO", site, haltNote)
  }
  if (fires(ctx, state.config.crash, io)) {
    state.halted = true
    state.stats.crash++
    ctx.log(`halt at ${io} !crash ${what}`)
    fail("EIO", site, haltNote)
  }
  state.ioCount = io
  ctx.log(`${io} ${what}`)
  const eio = fires(ctx, state.config.eio, io)
  if (eio) inject(ctx, "eio", io, what)
  return { io, eio }
}

function getDir(state: DiskState, id: number): DirNode {
  return state.inodes.get(id) as DirNode
}

interface Resolved {
  readonly parent: DirNode
  readonly name: string
  readonly node: Node | undefined
  readonly path: string
}

/** Resolves a path through volatile entries. Missing or non-directory ancestors fail like POSIX. */
function resolve(state: DiskState, rawPath: string, site: ErrorSite): Resolved {
  const components = pathComponents(rawPath)
  const path = `/${components.join("/")}`
  let dir = getDir(state, rootId)
  if (components.length === 0) return { parent: dir, name: "", node: dir, path }
  for (let i = 0; i < components.length - 1; i++) {
    const id = dir.volatile.get(components[i]!)
    const next = id === undefined ? undefined : state.inodes.get(id)
    if (next === undefined) fail("ENOENT", site)
    if (next!.kind !== "dir") fail("ENOTDIR", site)
    dir = next as DirNode
  }
  const name = components[components.length - 1]!
  const id = dir.volatile.get(name)
  return { parent: dir, name, node: id === undefined ? undefined : state.inodes.get(id), path }
}

function dirChange(dir: DirNode, op: DirOp, now: number): void {
  applyDirOp(dir.volatile, op)
  dir.pending.push(op)
  dir.mtimeMs = now
}

function fileChange(node: FileNode, op: FileOp, now: number): void {
  applyFileOp(node.volatile, op)
  // Keep a private copy: the caller may reuse its buffer, and a torn crash replays these bytes later.
  node.pending.push(op._tag === "write" ? { ...op, bytes: op.bytes.slice() } : op)
  node.mtimeMs = now
}

function countLinks(state: DiskState, target: Node): number {
  if (target.kind === "dir") {
    let subdirs = 0
    for (const id of target.volatile.values()) if (state.inodes.get(id)?.kind === "dir") subdirs++
    return 2 + subdirs
  }
  let links = 0
  for (const node of state.inodes.values()) {
    if (node.kind !== "dir") continue
    for (const id of node.volatile.values()) if (id === target.id) links++
  }
  return links
}

function infoOf(state: DiskState, node: Node): FileSystem.File.Info {
  const size = node.kind === "file" ? node.volatile.length : 4096
  return {
    type: node.kind === "file" ? "File" : "Directory",
    mtime: Option.some(new Date(node.mtimeMs)),
    atime: Option.some(new Date(node.atimeMs)),
    birthtime: Option.some(new Date(node.birthtimeMs)),
    dev: 1,
    ino: Option.some(node.id),
    mode: node.mode,
    nlink: Option.some(countLinks(state, node)),
    uid: Option.some(node.uid),
    gid: Option.some(node.gid),
    rdev: Option.some(0),
    size: FileSystem.Size(size),
    blksize: Option.some(FileSystem.Size(4096)),
    blocks: Option.some(Math.ceil(size / 512)),
  }
}

/** Lands `bytes` at `offset` under the write knobs. Returns how many bytes the caller may report as written. */
function landWrite(
  ctx: FsContext,
  node: FileNode,
  offset: number,
  bytes: Uint8Array,
  gate: { io: number; eio: boolean },
  site: ErrorSite,
  allowShort: boolean,
  now: number,
  onPartial: (landed: number) => void,
): number {
  const { state } = ctx
  const what = `${site.syscall} ${site.target}`
  if (gate.eio) fail("EIO", site)
  if (fires(ctx, state.config.eioOnWrite, gate.io)) {
    inject(ctx, "eioOnWrite", gate.io, what)
    fail("EIO", site)
  }
  if (bytes.length > 0 && fires(ctx, state.config.enospcOnWrite, gate.io)) {
    const landed = state.faultRng.int(bytes.length)
    inject(ctx, "enospcOnWrite", gate.io, `${what} ${landed}/${bytes.length}`)
    if (landed > 0) fileChange(node, { _tag: "write", offset, bytes: bytes.subarray(0, landed) }, now)
    onPartial(landed)
    fail("ENOSPC", site)
  }
  if (allowShort && bytes.length > 1 && fires(ctx, state.config.shortWrite, gate.io)) {
    const landed = 1 + state.faultRng.int(bytes.length - 1)
    inject(ctx, "shortWrite", gate.io, `${what} ${landed}/${bytes.length}`)
    fileChange(node, { _tag: "write", offset, bytes: bytes.subarray(0, landed) }, now)
    return landed
  }
  if (bytes.length > 0) fileChange(node, { _tag: "write", offset, bytes }, now)
  return bytes.length
}

function readFault(ctx: FsContext, gate: { io: number; eio: boolean }, site: ErrorSite): void {
  if (gate.eio) fail("EIO", site)
  if (fires(ctx, ctx.state.config.eioOnRead, gate.io)) {
    inject(ctx, "eioOnRead", gate.io, `${site.syscall} ${site.target}`)
    fail("EIO", site)
  }
}

/** Creates, truncates or opens `path` per `mode`, as open(2) does. */
function openNode(ctx: FsContext, path: string, mode: OpenMode, site: ErrorSite, now: number, perm?: number): Node {
  const { state } = ctx
  const target = resolve(state, path, site)
  if (target.node !== undefined) {
    if (mode.create && mode.exclusive) fail("EEXIST", site)
    if (target.node.kind === "dir") {
      if (mode.write) fail("EISDIR", site)
      return target.node
    }
    if (mode.truncate && mode.write && target.node.volatile.length > 0) {
      fileChange(target.node, { _tag: "truncate", length: 0 }, now)
    }
    return target.node
  }
  if (!mode.create || target.name === "") fail("ENOENT", site)
  const file = newFile(state.nextId++, now, perm)
  state.inodes.set(file.id, file)
  dirChange(target.parent, [[target.name, file.id]], now)
  return file
}

class SimulatedFile implements FileSystem.File {
  readonly [FileSystem.FileTypeId]: FileSystem.FileTypeId = FileSystem.FileTypeId
  private position = 0n
  closed = false

  constructor(
    private readonly ctx: FsContext,
    readonly fd: FileSystem.File.Descriptor,
    private readonly node: Node,
    private readonly path: string,
    private readonly mode: OpenMode,
    private readonly epoch: number,
  ) {}

  private site(method: string, syscall: string): ErrorSite {
    return { method, syscall, target: this.fd }
  }

  /** Handle misuse fails before the disk sees it, so it is not counted. */
  private check(method: string, syscall: string, needs: "read" | "write" | "any"): void {
    const site = this.site(method, syscall)
    if (this.closed) fail("EBADF", site, "closed handle")
    if (this.epoch !== this.ctx.state.epoch) fail("EBADF", site, "handle opened before a simulated crash")
    if (needs === "read" && this.node.kind === "dir") fail("EISDIR", site)
    if (needs === "read" && !this.mode.read) fail("EBADF", site)
    if (needs === "write" && !this.mode.write) fail("EBADF", site)
  }

  private gate(method: string, syscall: string, detail: string) {
    return enter(this.ctx, { method, syscall, target: this.path }, detail)
  }

  get stat(): Effect.Effect<FileSystem.File.Info, PlatformError> {
    return run(() => {
      this.check("stat", "fstat", "any")
      const gate = this.gate("stat", "fstat", "")
      if (gate.eio) fail("EIO", this.site("stat", "fstat"))
      return infoOf(this.ctx.state, this.node)
    })
  }

  seek(offset: FileSystem.SizeInput, from: FileSystem.SeekMode): Effect.Effect<void> {
    return Effect.sync(() => {
      const delta = FileSystem.Size(offset)
      this.position = from === "start" ? delta : this.position + delta
    })
  }

  get sync(): Effect.Effect<void, PlatformError> {
    const { state } = this.ctx
    return Effect.flatMap(
      run(() => {
        this.check("sync", "fsync", "any")
        const gate = this.gate("sync", "fsync", this.node.kind === "dir" ? " dir" : "")
        const what = `fsync ${this.path}`
        const eio = gate.eio || fires(this.ctx, state.config.eioOnSync, gate.io)
        if (eio && !gate.eio) inject(this.ctx, "eioOnSync", gate.io, what)
        const slow = fires(this.ctx, state.config.slowSync, gate.io)
        if (slow) inject(this.ctx, "slowSync", gate.io, what)
        return { eio, slow }
      }),
      ({ eio, slow }) => {
        const finish = run(() => {
          const site = this.site("sync", "fsync")
          if (state.halted) fail("EIO", site, haltNote)
          if (this.epoch !== state.epoch) fail("EBADF", site, "handle opened before a simulated crash")
          const node = this.node
          if (eio) {
            // fsyncgate: the failed writeback is forgotten; it will never become durable through this sync.
            node.pending = []
            fail("EIO", site)
          }
          if (node.kind === "file") for (const op of node.pending) applyFileOp(node.durable, op)
          else for (const op of node.pending) applyDirOp(node.durable, op)
          node.pending = []
        })
        return slow ? Effect.zipRight(Effect.sleep(state.config.slowSyncDelay ?? defaultSlowSync), finish) : finish
      },
    )
  }

  read(buffer: Uint8Array): Effect.Effect<FileSystem.Size, PlatformError> {
    return run(() => {
      // Node's fs.read answers a 0-byte read itself, without a syscall, whatever the descriptor.
      if (buffer.length === 0) return FileSystem.Size(0)
      this.check("read", "read", "read")
      const gate = this.gate("read", "read", ` @${this.position} ${buffer.length}`)
      readFault(this.ctx, gate, this.site("read", "read"))
      const n = this.copyOut(buffer)
      return FileSystem.Size(n)
    })
  }

  readAlloc(size: FileSystem.SizeInput): Effect.Effect<Option.Option<Uint8Array>, PlatformError> {
    return run(() => {
      if (Number(size) === 0) return Option.none()
      this.check("readAlloc", "read", "read")
      const gate = this.gate("readAlloc", "read", ` @${this.position} ${size}`)
      readFault(this.ctx, gate, this.site("readAlloc", "read"))
      const buffer = new Uint8Array(Number(size))
      const n = this.copyOut(buffer)
      return n === 0 ? Option.none() : Option.some(n === buffer.length ? buffer : buffer.slice(0, n))
    })
  }

  private copyOut(buffer: Uint8Array): number {
    const data = (this.node as FileNode).volatile.view()
    const start = Number(this.position)
    const n = Math.max(0, Math.min(buffer.length, data.length - start))
    if (n > 0) buffer.set(data.subarray(start, start + n))
    this.position += BigInt(n)
    return n
  }

  truncate(length?: FileSystem.SizeInput): Effect.Effect<void, PlatformError> {
    return run((now) => {
      const site = this.site("truncate", "ftruncate")
      if (this.closed || this.epoch !== this.ctx.state.epoch) this.check("truncate", "ftruncate", "any")
      // ftruncate(2) on a descriptor not open for writing is EINVAL on Linux.
      if (!this.mode.write || this.node.kind === "dir") fail("EINVAL", site)
      // Node's FileImpl passes `length ? Number(length) : undefined`, so 0n and undefined both mean 0.
      const len = length ? Number(length) : 0
      const gate = this.gate("truncate", "ftruncate", ` ${len}`)
      if (gate.eio) fail("EIO", site)
      fileChange(this.node as FileNode, { _tag: "truncate", length: len }, now)
      if (!this.mode.append && this.position > BigInt(len)) this.position = BigInt(len)
    })
  }

  write(buffer: Uint8Array): Effect.Effect<FileSystem.Size, PlatformError> {
    return run((now) => {
      this.check("write", "write", "write")
      const node = this.node as FileNode
      const offset = this.mode.append ? node.volatile.length : Number(this.position)
      const gate = this.gate("write", "write", ` @${offset} +${buffer.length}`)
      const written = landWrite(this.ctx, node, offset, buffer, gate, this.site("write", "write"), true, now, () => {})
      if (!this.mode.append) this.position += BigInt(written)
      return FileSystem.Size(written)
    })
  }

  writeAll(buffer: Uint8Array): Effect.Effect<void, PlatformError> {
    return run((now) => {
      this.check("writeAll", "write", "write")
      const node = this.node as FileNode
      const offset = this.mode.append ? node.volatile.length : Number(this.position)
      const gate = this.gate("writeAll", "write", ` @${offset} +${buffer.length}`)
      const site = this.site("writeAll", "write")
      const advance = (n: number) => {
        if (!this.mode.append) this.position += BigInt(n)
      }
      const written = landWrite(this.ctx, node, offset, buffer, gate, site, false, now, advance)
      if (written === 0) {
        // Node's writeAll treats a 0-byte write as WriteZero, even for an empty buffer.
        throw new SystemError({
          module: "FileSystem",
          method: "writeAll",
          reason: "WriteZero",
          pathOrDescriptor: this.fd,
          description: "write returned 0 bytes written",
        })
      }
      advance(written)
    })
  }
}

// Table-like: one entry per `FileSystem` method, each a few lines over the shared gate and resolver. It is long
// only because the interface is wide; splitting it would scatter the one place that shows every method's faults.
function makeFileSystem(state: DiskState, log: (line: string) => void): FileSystem.FileSystem {
  const ctx: FsContext = { state, log }
  const site = (method: string, syscall: string, target: string, dest?: string): ErrorSite =>
    dest === undefined ? { method, syscall, target } : { method, syscall, target, dest }
  /** The gate for I/Os with no data: the generic `eio` knob fails them outright. */
  const gated = (s: ErrorSite, detail = ""): void => {
    if (enter(ctx, s, detail).eio) fail("EIO", s)
  }

  const open = (
    path: string,
    options?: FileSystem.OpenFileOptions,
  ): Effect.Effect<FileSystem.File, PlatformError, Scope.Scope> => {
    const flag = options?.flag ?? "r"
    const mode = openModes[flag]
    return Effect.acquireRelease(
      run((now) => {
        const s = site("open", "open", path)
        gated(s, ` ${flag}`)
        const node = openNode(ctx, path, mode, s, now, options?.mode)
        state.openFiles++
        const fd = FileSystem.FileDescriptor(state.nextFd++)
        return new SimulatedFile(ctx, fd, node, normalizeSimulatedPath(path), mode, state.epoch)
      }),
      (file) =>
        Effect.sync(() => {
          file.closed = true
          state.openFiles--
        }),
    )
  }

  const removeEntry = (target: Resolved, now: number) => {
    dirChange(target.parent, [[target.name, undefined]], now)
  }

  const makeDirectory = (path: string, options?: FileSystem.MakeDirectoryOptions) =>
    run((now) => {
      const s = site("makeDirectory", "mkdir", path)
      gated(s)
      const components = pathComponents(path)
      if (options?.recursive) {
        let dir = getDir(state, rootId)
        for (let i = 0; i < components.length; i++) {
          const name = components[i]!
          const id = dir.volatile.get(name)
          let next = id === undefined ? undefined : state.inodes.get(id)
          if (next === undefined) {
            next = newDir(state.nextId++, now)
            state.inodes.set(next.id, next)
            dirChange(dir, [[name, next.id]], now)
          }
          // mkdir -p: a file as the last component is EEXIST, as an ancestor ENOTDIR.
          if (next.kind !== "dir") fail(i === components.length - 1 ? "EEXIST" : "ENOTDIR", s)
          dir = next as DirNode
        }
        return
      }
      const target = resolve(state, path, s)
      if (target.node !== undefined) fail("EEXIST", s)
      const dir = newDir(state.nextId++, now)
      state.inodes.set(dir.id, dir)
      dirChange(target.parent, [[target.name, dir.id]], now)
    })

  const makeTempDirectory = (options?: FileSystem.MakeTempDirectoryOptions) =>
    run((now) => {
      const base = options?.directory ?? "/tmp"
      const s = site("makeTempDirectory", "mkdtemp", base)
      gated(s)
      let parent = resolve(state, base, s)
      if (parent.node === undefined && normalizeSimulatedPath(base) === "/tmp") {
        const tmp = newDir(state.nextId++, now)
        state.inodes.set(tmp.id, tmp)
        dirChange(parent.parent, [[parent.name, tmp.id]], now)
        parent = { ...parent, node: tmp }
      }
      if (parent.node === undefined) fail("ENOENT", s)
      if (parent.node!.kind !== "dir") fail("ENOTDIR", s)
      const dir = parent.node as DirNode
      // Names come from a counter, not the fault PRNG, so making temp dirs never shifts fault draws.
      let name: string
      do {
        state.tempCounter++
        name = `${options?.prefix ?? ""}${(Math.imul(state.tempCounter, 0x9e3779b1) >>> 0).toString(36).padStart(6, "0").slice(-6)}`
      } while (dir.volatile.has(name))
      const created = newDir(state.nextId++, now)
      state.inodes.set(created.id, created)
      dirChange(dir, [[name, created.id]], now)
      const basePath = normalizeSimulatedPath(base)
      return basePath === "/" ? `/${name}` : `${basePath}/${name}`
    })

  const remove = (path: string, options?: FileSystem.RemoveOptions) =>
    run((now) => {
      const s = site("remove", "rm", path)
      gated(s)
      let target: Resolved
      try {
        target = resolve(state, path, s)
      } catch (error) {
        // rm -f ignores a missing path, even a missing ancestor, but not an ancestor that is a file (ENOTDIR).
        if (options?.force && error instanceof SystemError && error.reason === "NotFound") return
        throw error
      }
      if (target.node === undefined) {
        if (options?.force) return
        fail("ENOENT", { ...s, syscall: "lstat" })
      }
      if (target.name === "") fail("EPERM", s)
      if (target.node!.kind === "dir" && !options?.recursive) {
        throw new SystemError({
          reason: "Unknown",
          module: "FileSystem",
          method: "remove",
          pathOrDescriptor: path,
          syscall: "rm",
          description: `Path is a directory: rm returned EISDIR (is a directory) ${path}`,
          cause: Object.assign(new Error("ERR_FS_EISDIR"), { code: "ERR_FS_EISDIR", syscall: "rm" }),
        })
      }
      removeEntry(target, now)
    })

  const makeTempFile = (options?: FileSystem.MakeTempFileOptions) =>
    Effect.flatMap(makeTempDirectory(options), (directory) =>
      run((now) => {
        state.tempCounter++
        const name = `${(Math.imul(state.tempCounter, 0x85ebca6b) >>> 0).toString(16).padStart(8, "0")}${options?.suffix ?? ""}`
        const path = `${directory}/${name}`
        const s = site("makeTempFile", "open", path)
        gated(s)
        openNode(ctx, path, openModes["w+"], s, now)
        return path
      }),
    )

  const rename = (oldPath: string, newPath: string) =>
    run((now) => {
      const s = site("rename", "rename", oldPath, newPath)
      gated(s)
      const from = resolve(state, oldPath, s)
      const to = resolve(state, newPath, s)
      if (from.node === undefined) fail("ENOENT", s)
      const moving = from.node!
      if (from.path === to.path) return
      if (from.name === "" || to.name === "") fail("EBUSY", s)
      if (moving.kind === "dir" && `${to.path}/`.startsWith(`${from.path}/`)) fail("EINVAL", s)
      if (to.node !== undefined) {
        // Linux checks "the target is an ancestor of the source" (lock_rename's trap) before the types.
        if (`${from.path}/`.startsWith(`${to.path}/`)) fail("ENOTEMPTY", s)
        if (moving.kind === "file" && to.node.kind === "dir") fail("EISDIR", s)
        if (moving.kind === "dir" && to.node.kind === "file") fail("ENOTDIR", s)
        if (to.node.kind === "dir" && to.node.volatile.size > 0) fail("ENOTEMPTY", s)
        if (to.node.id === moving.id) return
      }
      if (from.parent.id === to.parent.id) {
        dirChange(
          from.parent,
          [
            [from.name, undefined],
            [to.name, moving.id],
          ],
          now,
        )
      } else {
        dirChange(to.parent, [[to.name, moving.id]], now)
        dirChange(from.parent, [[from.name, undefined]], now)
      }
    })

  const readFile = (path: string) =>
    run(() => {
      const s = site("readFile", "open", path)
      const gate = enter(ctx, s, "")
      readFault(ctx, gate, s)
      const target = resolve(state, path, s)
      if (target.node === undefined) fail("ENOENT", s)
      if (target.node!.kind === "dir") fail("EISDIR", { ...s, syscall: "read", target: path })
      return (target.node as FileNode).volatile.copyOut()
    })

  const writeFile = (path: string, data: Uint8Array, options?: FileSystem.WriteFileOptions) =>
    run((now) => {
      const flag = options?.flag ?? "w"
      const mode = openModes[flag]
      const s = site("writeFile", "open", path)
      gated(s, ` ${flag}`)
      const node = openNode(ctx, path, mode, s, now, options?.mode)
      if (!mode.write) fail("EBADF", { ...s, syscall: "write" })
      const file = node as FileNode
      const offset = mode.append ? file.volatile.length : 0
      const ws = site("writeFile", "write", path)
      const gate = enter(ctx, ws, ` @${offset} +${data.length}`)
      landWrite(ctx, file, offset, data, gate, ws, false, now, () => {})
    })

  const copyFile = (fromPath: string, toPath: string) =>
    run((now) => {
      const s = site("copyFile", "copyfile", fromPath, toPath)
      const gate = enter(ctx, s, "")
      readFault(ctx, gate, s)
      const from = resolve(state, fromPath, s)
      if (from.node === undefined) fail("ENOENT", s)
      const to = resolve(state, toPath, s)
      if (to.node?.kind === "dir") fail("EISDIR", s)
      if (from.node!.kind === "dir") {
        // libuv opens (creating or truncating) the destination, fails to read the directory, then unlinks it.
        if (to.node !== undefined) dirChange(to.parent, [[to.name, undefined]], now)
        fail("EISDIR", s)
      }
      const data = (from.node as FileNode).volatile.copyOut()
      const ws = site("copyFile", "write", toPath)
      const writeGate = enter(ctx, ws, ` +${data.length}`)
      const node = openNode(ctx, toPath, openModes.w, s, now)
      landWrite(ctx, node as FileNode, 0, data, writeGate, ws, false, now, () => {})
    })

  const copy = (fromPath: string, toPath: string, options?: FileSystem.CopyOptions) =>
    run((now) => {
      const s = site("copy", "cp", fromPath, toPath)
      gated(s)
      const from = resolve(state, fromPath, s)
      if (from.node === undefined) fail("ENOENT", s)
      const copyInto = (node: Node, dest: string) => {
        const target = resolve(state, dest, s)
        if (node.kind === "file") {
          if (target.node?.kind === "dir") fail("EISDIR", s)
          if (target.node !== undefined && !options?.overwrite) return
          const created = openNode(ctx, dest, openModes.w, s, now) as FileNode
          if (node.volatile.length > 0)
            fileChange(created, { _tag: "write", offset: 0, bytes: node.volatile.view() }, now)
          return
        }
        if (target.node === undefined) {
          const dir = newDir(state.nextId++, now)
          state.inodes.set(dir.id, dir)
          dirChange(target.parent, [[target.name, dir.id]], now)
        } else if (target.node.kind !== "dir") fail("ENOTDIR", s)
        const names = [...node.volatile.keys()].sort()
        for (const name of names) copyInto(state.inodes.get(node.volatile.get(name)!)!, `${target.path}/${name}`)
      }
      if (from.node!.kind === "dir") {
        const into = resolve(state, toPath, s).path
        if (`${into}/`.startsWith(`${from.path}/`)) fail("EINVAL", s)
      }
      copyInto(from.node!, toPath)
    })

  const readDirectory = (path: string, options?: FileSystem.ReadDirectoryOptions) =>
    run(() => {
      const s = site("readDirectory", "scandir", path)
      gated(s)
      const target = resolve(state, path, s)
      if (target.node === undefined) fail("ENOENT", s)
      if (target.node!.kind !== "dir") fail("ENOTDIR", s)
      const out: Array<string> = []
      const walk = (dir: DirNode, prefix: string) => {
        for (const [name, id] of dir.volatile) {
          const rel = prefix === "" ? name : `${prefix}/${name}`
          out.push(rel)
          const child = state.inodes.get(id)
          if (options?.recursive && child?.kind === "dir") walk(child, rel)
        }
      }
      walk(target.node as DirNode, "")
      return out.sort()
    })

  const simple =
    <Args extends ReadonlyArray<unknown>>(
      method: string,
      syscall: string,
      apply: (node: Node, now: number, ...args: Args) => void,
    ) =>
    (path: string, ...args: Args) =>
      run((now) => {
        const s = site(method, syscall, path)
        gated(s)
        const target = resolve(state, path, s)
        if (target.node === undefined) fail("ENOENT", s)
        apply(target.node!, now, ...args)
      })

  return FileSystem.make({
    access: simple("access", "access", () => {}),
    chmod: simple("chmod", "chmod", (node, now, mode: number) => {
      node.mode = (node.mode & ~0o7777) | (mode & 0o7777)
      node.mtimeMs = now
    }),
    chown: simple("chown", "chown", (node, _now, uid: number, gid: number) => {
      node.uid = uid
      node.gid = gid
    }),
    utimes: simple("utimes", "utime", (node, _now, atime: Date | number, mtime: Date | number) => {
      node.atimeMs = typeof atime === "number" ? atime * 1000 : atime.getTime()
      node.mtimeMs = typeof mtime === "number" ? mtime * 1000 : mtime.getTime()
    }),
    copy,
    copyFile,
    link: (fromPath, toPath) =>
      run((now) => {
        const s = site("link", "link", fromPath, toPath)
        gated(s)
        const from = resolve(state, fromPath, s)
        if (from.node === undefined) fail("ENOENT", s)
        if (from.node!.kind === "dir") fail("EPERM", s)
        const to = resolve(state, toPath, s)
        if (to.node !== undefined) fail("EEXIST", s)
        dirChange(to.parent, [[to.name, from.node!.id]], now)
      }),
    makeDirectory,
    makeTempDirectory,
    // Node dies if the cleanup fails; here the disk may be halted or crashed by design, so cleanup is best effort.
    makeTempDirectoryScoped: (options) =>
      Effect.acquireRelease(makeTempDirectory(options), (dir) => Effect.ignore(remove(dir, { recursive: true }))),
    makeTempFile,
    makeTempFileScoped: (options) =>
      Effect.acquireRelease(makeTempFile(options), (file) =>
        Effect.ignore(remove(file.slice(0, file.lastIndexOf("/")), { recursive: true })),
      ),
    open,
    readDirectory,
    readFile,
    // Nothing on this disk is a symbolic link, so readlink(2) of an existing path is EINVAL.
    readLink: (path) =>
      run(() => {
        const s = site("readLink", "readlink", path)
        gated(s)
        const target = resolve(state, path, s)
        return fail(target.node === undefined ? "ENOENT" : "EINVAL", s)
      }),
    realPath: (path) =>
      run(() => {
        const s = site("realPath", "realpath", path)
        gated(s)
        const target = resolve(state, path, s)
        if (target.node === undefined) fail("ENOENT", s)
        return target.path
      }),
    remove,
    rename,
    stat: (path) =>
      run(() => {
        const s = site("stat", "stat", path)
        gated(s)
        const target = resolve(state, path, s)
        if (target.node === undefined) fail("ENOENT", s)
        return infoOf(state, target.node!)
      }),
    symlink: (fromPath, toPath) =>
      run(() => {
        const s = site("symlink", "symlink", fromPath, toPath)
        gated(s)
        return fail("EPERM", s, "the simulated disk has no symbolic links")
      }),
    truncate: (path, length) =>
      run((now) => {
        const s = site("truncate", "open", path)
        gated(s, ` ${length ?? 0}`)
        const target = resolve(state, path, s)
        if (target.node === undefined) fail("ENOENT", s)
        if (target.node!.kind === "dir") fail("EISDIR", s)
        fileChange(
          target.node as FileNode,
          { _tag: "truncate", length: length === undefined ? 0 : Number(length) },
          now,
        )
      }),
    watch: (path) =>
      Stream.fail(makeError("EPERM", site("watch", "watch", path), "the simulated disk does not support watch")),
    writeFile,
  })
}
