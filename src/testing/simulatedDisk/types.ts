/**
 * The simulated disk's public types: its fault knobs, crash variants, images, and the handle a test steers it by.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Duration from "effect/Duration"
import type * as Layer from "effect/Layer"

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
