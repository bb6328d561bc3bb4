/**
 * The rules of the `Wal` and `SnapshotStore` ports, written once for every backend. A backend (files, memory, and
 * later a database table or a Durable Object's storage) supplies only primitives: create, append to, read and
 * delete a segment; stage, publish, remove and read snapshots. `make` derives the ports and enforces everything
 * the contract promises: seq contiguity and record size, the segment-roll rule, the retention floor (two
 * snapshots, and no segment deleted past the older one), `Compacted`, snapshot seqs within the log, read-only
 * refusal, and the port-failed latch. Segment sizes are counted here, in the file format's framing, so every
 * backend rolls segments at the same records.
 */
import { Effect, Option, Stream } from "effect"
import { StorageFailed, WalCorrupt } from "../domain/errors.ts"
import * as FailureLatch from "./FailureLatch.ts"
import { mustRoll, type StorageLimits } from "./Limits.ts"
import { assertWritable, batchBytes } from "./RecordCodec.ts"
import { segmentHeaderBytes } from "./SegmentHeader.ts"
import type { Snapshot, SnapshotStore } from "./SnapshotStore.ts"
import { type DurabilityLost, portFailed } from "./StorageError.ts"
import type { RecoveryReport, SnapshotFallback, TornTail, Wal, WalRecord } from "./Wal.ts"

/** Both ports over one store. */
export interface Storage {
  readonly wal: Wal
  readonly snapshots: SnapshotStore
}

/**
 * A segment as the core tracks it: records `firstSeq..lastSeq` (`lastSeq = firstSeq - 1` while empty) in `bytes`
 * of framed log, and the backend's own `handle`. The core updates `lastSeq` and `bytes` in place once a step is
 * durable, so a backend may keep these very objects as its durable state (the memory backend does).
 */
export interface Segment<S> {
  readonly firstSeq: number
  lastSeq: number
  bytes: number
  readonly handle: S
}

/** Failures of a primitive: `DurabilityLost` latches the port, `StorageFailed` fails that call only. */
type PrimitiveError = StorageFailed | DurabilityLost

export interface LogPrimitives<S> {
  /** Names a segment in errors. */
  readonly describe: (segment: S) => string
  /**
   * Creates an empty segment for records from `firstSeq` on, durably, and makes it the one `append` writes to.
   * Any failure latches the port: the log may be left between two segments.
   */
  readonly create: (firstSeq: number) => Effect.Effect<S, PrimitiveError>
  /**
   * Appends the records (already checked: contiguous, within `recordBytesMax`) to the newest segment, which holds
   * `segment.bytes` bytes, and makes them durable. A failed write must leave the segment as it was, or fail
   * with `DurabilityLost` if it cannot.
   */
  readonly append: (segment: Segment<S>, records: ReadonlyArray<WalRecord>) => Effect.Effect<void, PrimitiveError>
  /** The segment's records with seq in `fromSeq..toSeq`, in order, checked on the way back. */
  readonly read: (
    segment: Segment<S>,
    fromSeq: number,
    toSeq: number,
  ) => Effect.Effect<Iterable<WalRecord>, StorageFailed | WalCorrupt>
  /** Deletes a sealed segment durably. */
  readonly remove: (segment: S) => Effect.Effect<void, PrimitiveError>
}

export interface SnapshotPrimitives {
  /** Names a snapshot in errors. */
  readonly describe: (lastSeq: number) => string
  /**
   * Makes the snapshot durable where no reader looks yet (outside every lock: it can be large), and returns the
   * step that publishes it, which runs under the compaction lock.
   */
  readonly stage: (snapshot: Snapshot) => Effect.Effect<Effect.Effect<void, PrimitiveError>, PrimitiveError>
  /** Deletes a published snapshot durably. */
  readonly remove: (lastSeq: number) => Effect.Effect<void, PrimitiveError>
  /**
   * The newest valid snapshot among `retained` (newest first) that the log, starting at `logFirstSeq` in segment
   * `logFirst`, still covers; `WalCorrupt` when falling back would lose history.
   */
  readonly readLatest: (
    retained: ReadonlyArray<number>,
    logFirstSeq: number,
    logFirst: string,
  ) => Effect.Effect<Option.Option<Snapshot>, StorageFailed | WalCorrupt>
}

/** What a backend found when it opened its store. */
export interface Opened<S> {
  /** Where errors about the store as a whole point (a directory, "memory:"). */
  readonly location: string
  readonly limits: StorageLimits
  /** Refuse every write with `StorageFailed { reason: "ReadOnly" }`. */
  readonly readOnly: boolean
  /** Validated, contiguous segments, oldest first; empty for a new store (the core creates the first). */
  readonly segments: Array<Segment<S>>
  /** The published snapshots' seqs, newest first, after `finish` below. */
  readonly snapshotSeqs: ReadonlyArray<number>
  /** The snapshot recovery chose, already read and checked, handed to the first `latest` instead of a re-read. */
  readonly chosenSnapshot: Option.Option<Snapshot>
  /**
   * The repairs and the rest of opening, run only once the core has found the snapshot choice sound: moves aside
   * the newer snapshots that failed validation (reported as fallbacks) and readies the log for appends.
   */
  readonly finish: Effect.Effect<ReadonlyArray<SnapshotFallback>, PrimitiveError>
  readonly tornTail: Option.Option<TornTail>
  readonly tmpFilesRemoved: ReadonlyArray<string>
}

const snapshotsRetainedCount = 2

/**
 * Derives both ports from a backend's primitives and what it found at open. Fails with `WalCorrupt` when the
 * chosen snapshot claims records the log does not hold, before any repair is made.
 */
export const make = <S>(
  opened: Opened<S>,
  log: LogPrimitives<S>,
  snapshotFiles: SnapshotPrimitives,
): Effect.Effect<Storage, StorageFailed | WalCorrupt> =>
  Effect.gen(function* () {
    const { location, limits, readOnly, segments } = opened
    const latch = FailureLatch.make()
    const last = () => segments[segments.length - 1]!
    const refuseWrite = (operation: string) =>
      new StorageFailed({ operation, path: location, reason: "ReadOnly", message: "opened read-only" })
    const checkWritable = (operation: string) =>
      readOnly ? Effect.fail(refuseWrite(operation)) : latch.check(operation, location)

    if (segments.length === 0) {
      const handle = yield* latch.guardAll(log.create(1))
      segments.push({ firstSeq: 1, lastSeq: 0, bytes: segmentHeaderBytes, handle })
    }
    const chosen = Option.getOrUndefined(opened.chosenSnapshot)
    if (chosen !== undefined && chosen.lastSeq > last().lastSeq)
      return yield* new WalCorrupt({
        file: log.describe(last().handle),
        offset: last().bytes,
        seq: last().lastSeq + 1,
        reason: `${snapshotFiles.describe(chosen.lastSeq)} covers seq ${chosen.lastSeq} but the log ends at seq ${last().lastSeq}`,
      })
    const snapshotFallbacks = yield* latch.guard(opened.finish)
    const state = {
      chosenAtOpen: opened.chosenSnapshot,
      /** Snapshot seqs published, newest first. */
      retained: opened.snapshotSeqs,
    }
    // Appends and rotation share a lock: the active segment and the end of `segments`. Compaction's steps
    // (publishing snapshots, retention, deleting from the front of `segments`) have their own: Effect's semaphore
    // lets a running fiber take a free permit before a woken waiter runs, so under a steady stream of appends a
    // compaction queued on their lock never got it.
    const serialized = (yield* Effect.makeSemaphore(1)).withPermits(1)
    const serializedCompaction = (yield* Effect.makeSemaphore(1)).withPermits(1)

    const rotateUnlocked = Effect.suspend(() => {
      const current = last()
      if (current.lastSeq < current.firstSeq) return Effect.void
      const firstSeq = current.lastSeq + 1
      return Effect.map(latch.guardAll(log.create(firstSeq)), (handle) => {
        segments.push({ firstSeq, lastSeq: firstSeq - 1, bytes: segmentHeaderBytes, handle })
      })
    })

    // Per batch: plain combinators, no generator, and the size computed once for the roll rule and the count.
    const appendTo = (segment: Segment<S>, records: ReadonlyArray<WalRecord>, size: number) =>
      Effect.zipRight(
        latch.guard(log.append(segment, records)),
        Effect.sync(() => {
          segment.bytes += size
          segment.lastSeq += records.length
        }),
      )
    const append = (records: ReadonlyArray<WalRecord>): Effect.Effect<void, StorageFailed> =>
      serialized(
        Effect.suspend(() => {
          if (readOnly) return Effect.fail(refuseWrite("append"))
          const failed = latch.failure()
          if (failed !== undefined) return Effect.fail(portFailed("append", log.describe(last().handle), failed))
          if (records.length === 0) return Effect.void
          const current = last()
          for (let i = 0; i < records.length; i++)
            assertWritable(records[i]!, current.lastSeq + 1 + i, limits.recordBytesMax)
          const size = batchBytes(records)
          if (!mustRoll(limits, current.bytes, current.lastSeq >= current.firstSeq, size))
            return appendTo(current, records, size)
          return Effect.zipRight(
            rotateUnlocked,
            Effect.suspend(() => appendTo(last(), records, size)),
          )
        }),
      )

    const read = (fromSeq: number): Stream.Stream<WalRecord, StorageFailed | WalCorrupt> =>
      Stream.unwrap(
        Effect.suspend(() => {
          const failed = latch.failure()
          if (failed !== undefined) return Effect.fail(portFailed("read", location, failed))
          const first = segments[0]!
          if (Math.max(fromSeq, 1) < first.firstSeq)
            return Effect.fail(
              new StorageFailed({
                operation: "read",
                path: log.describe(first.handle),
                reason: "Compacted",
                message: `seq ${fromSeq} was compacted away; the log starts at seq ${first.firstSeq}`,
              }),
            )
          const toSeq = last().lastSeq
          // Copies: the stream reads each segment as it was when it started, whatever appends do meanwhile.
          const wanted = segments.filter((s) => s.lastSeq >= fromSeq && s.firstSeq <= toSeq).map((s) => ({ ...s }))
          return Effect.succeed(
            Stream.fromIterable(wanted).pipe(
              Stream.mapEffect((s) => log.read(s, fromSeq, toSeq)),
              Stream.flattenIterables,
            ),
          )
        }),
      )

    const deleteSegmentsUpTo = (upToSeq: number): Effect.Effect<void, StorageFailed> =>
      serializedCompaction(
        Effect.gen(function* () {
          yield* checkWritable("delete-segments")
          const floor = Math.min(upToSeq, state.retained[snapshotsRetainedCount - 1] ?? 0)
          while (segments.length > 1 && segments[0]!.lastSeq <= floor) {
            yield* latch.guard(log.remove(segments[0]!.handle))
            segments.shift()
          }
        }),
      )

    const wal: Wal = {
      lastSeq: Effect.sync(() => last().lastSeq),
      firstSeq: Effect.sync(() => segments[0]!.firstSeq),
      append,
      read,
      rotate: serialized(Effect.zipRight(checkWritable("rotate"), rotateUnlocked)),
      deleteSegmentsUpTo,
      segments: Effect.sync(() =>
        segments.map((s) => ({ firstSeq: s.firstSeq, lastSeq: s.lastSeq, bytes: s.bytes }) as const),
      ),
      recovery: recoveryReport(opened, segments, snapshotFallbacks),
    }

    const publish = (lastSeq: number, step: Effect.Effect<void, PrimitiveError>) =>
      serializedCompaction(
        Effect.gen(function* () {
          yield* checkWritable("snapshot-write")
          yield* latch.guard(step)
          state.chosenAtOpen = Option.none()
          state.retained = [lastSeq, ...state.retained.filter((s) => s !== lastSeq)].sort((a, b) => b - a)
          while (state.retained.length > snapshotsRetainedCount) {
            yield* latch.guard(snapshotFiles.remove(state.retained.at(-1)!))
            state.retained = state.retained.slice(0, -1)
          }
        }),
      )

    const snapshots: SnapshotStore = {
      write: (snapshot) =>
        Effect.gen(function* () {
          yield* checkWritable("snapshot-write")
          const lastSeq = last().lastSeq
          if (!Number.isSafeInteger(snapshot.lastSeq) || snapshot.lastSeq < 0 || snapshot.lastSeq > lastSeq)
            return yield* Effect.dieMessage(
              `snapshot lastSeq ${snapshot.lastSeq} is outside the durable log (0..${lastSeq})`,
            )
          yield* publish(snapshot.lastSeq, yield* latch.guard(snapshotFiles.stage(snapshot)))
        }),
      latest: Effect.gen(function* () {
        yield* latch.check("snapshot-latest", location)
        const chosenAtOpen = state.chosenAtOpen
        state.chosenAtOpen = Option.none()
        if (Option.isSome(chosenAtOpen)) return chosenAtOpen
        const first = segments[0]!
        return yield* snapshotFiles.readLatest(state.retained, first.firstSeq, log.describe(first.handle))
      }),
    }
    return { wal, snapshots }
  })

const recoveryReport = <S>(
  opened: Opened<S>,
  segments: ReadonlyArray<Segment<S>>,
  snapshotFallbacks: ReadonlyArray<SnapshotFallback>,
): RecoveryReport => ({
  tornTail: opened.tornTail,
  tmpFilesRemoved: opened.tmpFilesRemoved,
  snapshotFallbacks,
  segments: segments.length,
  records: segments.reduce((n, s) => n + s.lastSeq - s.firstSeq + 1, 0),
})
