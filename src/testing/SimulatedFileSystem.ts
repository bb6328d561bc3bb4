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
 * The parts live in `simulatedDisk/`: the public types, the inodes, the errors, the crash, the images and the
 * `FileSystem` service; this module assembles a disk from them and hands out its handle.
 *
 * The module imports no `node:` module and touches no runtime global, so the kit runs on Node, Deno and edge
 * runtimes. Time comes from Effect's `Clock` (so `TestClock` drives slow fsyncs), randomness from the disk's own
 * seeded PRNG.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Layer from "effect/Layer"
import { makePrng } from "./Prng.ts"
import { layerSimulatedPath } from "./SimulatedPath.ts"
import { crashDisk } from "./simulatedDisk/crash.ts"
import { makeFileSystem } from "./simulatedDisk/fileSystem.ts"
import { fingerprintOf, imageOf, loadImage } from "./simulatedDisk/images.ts"
import { cloneNode, type DiskState, emptyStats, type Node, newDir, rootId } from "./simulatedDisk/inodes.ts"
import type { SimulatedDisk, SimulatedDiskOptions } from "./simulatedDisk/types.ts"

export { errorCode, isHaltError } from "./simulatedDisk/errors.ts"
export { fingerprintOf } from "./simulatedDisk/images.ts"
export * from "./simulatedDisk/types.ts"

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
