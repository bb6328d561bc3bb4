/**
 * The write-ahead log port: the registry's only durable history. The registry actor codes against this interface.
 * `WalCore.make` derives it from a backend's primitives (files: `FileStorage.ts`, memory: `MemoryStorage.ts`), so
 * every backend keeps the same rules; the contract suite in `test/storage/Storage.contract.ts` runs against each.
 */
import { Context, type Effect, type Option, type Stream } from "effect"
import type { StorageFailed, WalCorrupt } from "../domain/errors.ts"

/** One log entry. `type` is 1..255 (0 is invalid so zero-filled space never reads as a record). */
export interface WalRecord {
  readonly seq: number
  readonly type: number
  readonly payload: Uint8Array
}

/** A torn tail that open-time recovery cut off the newest segment. */
export interface TornTail {
  readonly file: string
  /** Where the first bad record started; the segment now ends here. */
  readonly offset: number
  readonly bytesDropped: number
  /** 1 for a partial or damaged record, 0 when the dropped bytes were only zero fill. */
  readonly recordsDropped: number
  /** Where the dropped bytes were copied before truncating; absent when opened read-only (nothing was changed). */
  readonly brokenFile?: string
  readonly reason: string
}

/** A snapshot that failed validation at open and was moved aside because an older one plus the log covers it. */
export interface SnapshotFallback {
  readonly file: string
  readonly reason: string
  /** Where it was moved; absent when opened read-only (it was skipped, not moved). */
  readonly brokenFile?: string
}

/** What open-time recovery did. Every repair is listed; nothing is repaired silently. */
export interface RecoveryReport {
  readonly tornTail: Option.Option<TornTail>
  readonly tmpFilesRemoved: ReadonlyArray<string>
  readonly snapshotFallbacks: ReadonlyArray<SnapshotFallback>
  /** Segments found, and records validated in them. */
  readonly segments: number
  readonly records: number
}

/** A segment as the port sees it (firstSeq..lastSeq; lastSeq = firstSeq - 1 when it holds no records). */
export interface SegmentInfo {
  readonly firstSeq: number
  readonly lastSeq: number
  readonly bytes: number
}

export interface Wal {
  /** Highest durable seq (0 when empty). */
  readonly lastSeq: Effect.Effect<number>
  /** Lowest seq the log still holds, after compaction deleted older segments (1 when nothing was deleted). */
  readonly firstSeq: Effect.Effect<number>
  /**
   * Appends records whose seqs must be exactly lastSeq+1, lastSeq+2, … (a violation, a type outside 1..255 or a
   * record above `recordBytesMax` is a defect). One write + one sync; resolves only after the sync returned, and no
   * record of the batch is visible through `read` or `lastSeq` before that.
   * A failed write is truncated back and fails this batch only; a failed sync (or truncate) fails the port: every
   * later call fails with `StorageFailed` until reopened. A sync is never retried.
   * The records' payloads are the caller's again once the append resolved, whatever its outcome: a backend copies
   * what it keeps.
   */
  readonly append: (records: ReadonlyArray<WalRecord>) => Effect.Effect<void, StorageFailed>
  /**
   * Every durable record with seq >= fromSeq, in seq order, without gaps, up to the lastSeq at the time the stream
   * starts. Fails with `StorageFailed` (reason "Compacted") if fromSeq is below `firstSeq`, and with `WalCorrupt`
   * if a record fails validation on the way back from disk.
   */
  readonly read: (fromSeq: number) => Stream.Stream<WalRecord, StorageFailed | WalCorrupt>
  /** Seals the current segment and starts a new one (compaction step 1). A no-op when the current one is empty. */
  readonly rotate: Effect.Effect<void, StorageFailed>
  /**
   * Deletes, oldest first, whole sealed segments all of whose records have seq <= upToSeq (compaction step 3).
   * Never deletes past the older of the two retained snapshots, so a corrupt newest snapshot can still fall back
   * to the previous one plus the log; never deletes the current segment.
   */
  readonly deleteSegmentsUpTo: (upToSeq: number) => Effect.Effect<void, StorageFailed>
  /** The segments, oldest first (for compaction decisions, metrics and tests). */
  readonly segments: Effect.Effect<ReadonlyArray<SegmentInfo>>
  /** What open-time recovery did. */
  readonly recovery: RecoveryReport
  /**
   * Fails with the failure that latched the port (a failed fsync, a removed data directory), if one did; checks
   * nothing itself, so a health probe costs no IO.
   */
  readonly health: Effect.Effect<void, StorageFailed>
}

/** The WAL service. */
export const Wal: Context.Tag<Wal, Wal> = Context.GenericTag<Wal>("@visutility/model-registry/Wal")
