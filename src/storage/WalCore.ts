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
import * as Mutex from "./Mutex.ts"
import { assertWritable, batchBytes } from "./RecordCodec.ts"
import { segmentHeaderBytes } from "./SegmentHeader.ts"
import type { Snapshot, SnapshotStore, SnapshotToWrite } from "./SnapshotStore.ts"
import { type DurabilityLost, portFailed } from "./StorageError.ts"
import type { RecoveryReport, SnapshotFallback, TornTail, Wal, WalRecord } from "./Wal.ts"

/** Both ports over one store. */
export interface Storage {
  readonly wal: Wal
  readonly snapshots: SnapshotStore
  /**
   * Runs the backend's `checkPlace` now, or as the first step of the append in progress, and latches the port if
   * the store is gone; every append that starts after this was called runs after the check.
   */
  readonly checkPlace: Effect.Effect<void, StorageFailed>
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
export type PrimitiveError = StorageFailed | DurabilityLost

export interface LogPrimitives<S> {
  /** Names a segment in errors. */
  readonly describe: (segment: S) => string
  /**
   * Creates an empty segment for records from `firstSeq` on, durably, and makes it the one `append` writes to.
   * A failure must leave the log as it was (the partial segment removed durably), so the roll can be retried on
   * the next batch, or fail with `DurabilityLost` if it cannot.
   */
  readonly create: (firstSeq: number) => Effect.Effect<S, PrimitiveError>
  /**
   * Appends the records (already checked: contiguous, within `recordBytesMax`) to the newest segment, which holds
   * `segment.bytes` bytes, and makes them durable. A failed write must leave the segment as it was, or fail
   * with `DurabilityLost` if it cannot.
   */
  readonly append: (segment: Segment<S>, records: ReadonlyArray<WalRecord>) => Effect.Effect<void, PrimitiveError>
  /**
   * The segment's records with seq in `fromSeq..toSeq`, in order, all checked before the effect succeeds (a bad
   * one fails it); the iterable may make them as it is walked, so a reader need not hold them all.
   */
  readonly read: (
    segment: Segment<S>,
    fromSeq: number,
    toSeq: number,
  ) => Effect.Effect<Iterable<WalRecord>, StorageFailed | WalCorrupt>
  /**
   * False for a segment this backend can no longer append to (one an earlier release wrote in an older format):
   * the next append starts a new segment first. Absent: every segment is appendable.
   */
  readonly appendable?: (segment: S) => boolean
  /** Deletes a sealed segment durably. */
  readonly remove: (segment: S) => Effect.Effect<void, PrimitiveError>
  /**
   * For a store that can vanish under the process (a directory): fails with `DurabilityLost` once it is gone or
   * replaced, since writes would then be acknowledged into nothing. Run before every roll and by `checkPlace`.
   */
  readonly checkPlace?: Effect.Effect<void, PrimitiveError>
}

export interface SnapshotPrimitives {
  /** Names a snapshot in errors. */
  readonly describe: (lastSeq: number) => string
  /**
   * Makes the snapshot durable where no reader looks yet (outside every lock: it can be large), and returns the
   * step that publishes it, which runs under the compaction lock.
   */
  readonly stage: (snapshot: SnapshotToWrite) => Effect.Effect<Effect.Effect<void, PrimitiveError>, PrimitiveError>
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

/** What every derived operation shares: the backend, the segment list, the latch and the two locks. */
interface Core<S> {
  readonly opened: Opened<S>
  readonly log: LogPrimitives<S>
  readonly snapshotFiles: SnapshotPrimitives
  readonly segments: Array<Segment<S>>
  readonly latch: FailureLatch.FailureLatch
  readonly state: {
    chosenAtOpen: Option.Option<Snapshot>
    /** Snapshot seqs published, newest first. */
    retained: ReadonlyArray<number>
    /** `checkPlace` was asked for and has not run yet: the next append runs it first. */
    placeCheckDue: boolean
  }
  /** Appends and rotation: the active segment and the end of `segments`. */
  readonly serialized: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Publishing snapshots, retention, and deleting from the front of `segments`. */
  readonly serializedCompaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

const last = <S>(core: Core<S>) => core.segments[core.segments.length - 1]!

const refuseWrite = <S>(core: Core<S>, operation: string) =>
  new StorageFailed({ operation, path: core.opened.location, reason: "ReadOnly", message: "opened read-only" })

const checkWritable = <S>(core: Core<S>, operation: string) =>
  core.opened.readOnly ? Effect.fail(refuseWrite(core, operation)) : core.latch.check(operation, core.opened.location)

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
    const { segments } = opened
    const latch = FailureLatch.make()
    if (segments.length === 0) {
      const handle = yield* latch.guardAll(log.create(1))
      segments.push({ firstSeq: 1, lastSeq: 0, bytes: segmentHeaderBytes, handle })
    }
    const newest = segments[segments.length - 1]!
    const chosen = Option.getOrUndefined(opened.chosenSnapshot)
    if (chosen !== undefined && chosen.lastSeq > newest.lastSeq)
      return yield* new WalCorrupt({
        file: log.describe(newest.handle),
        offset: newest.bytes,
        seq: newest.lastSeq + 1,
        reason: `${snapshotFiles.describe(chosen.lastSeq)} covers seq ${chosen.lastSeq} but the log ends at seq ${newest.lastSeq}`,
      })
    const snapshotFallbacks = yield* latch.guard(opened.finish)
    // Compaction's steps have their own lock, so that publishing a snapshot never waits behind an append's fsync.
    const core: Core<S> = {
      opened,
      log,
      snapshotFiles,
      segments,
      latch,
      state: { chosenAtOpen: opened.chosenSnapshot, retained: opened.snapshotSeqs, placeCheckDue: false },
      serialized: Mutex.make().withLock,
      serializedCompaction: Mutex.make().withLock,
    }
    return {
      wal: makeWal(core, snapshotFallbacks),
      snapshots: makeSnapshotStore(core),
      checkPlace: Effect.suspend(() => {
        core.state.placeCheckDue = true
        return core.serialized(Effect.suspend(() => (core.state.placeCheckDue ? checkPlaceNow(core) : Effect.void)))
      }),
    }
  })

const makeWal = <S>(core: Core<S>, snapshotFallbacks: ReadonlyArray<SnapshotFallback>): Wal => {
  const { segments, serialized } = core
  const rotateUnlocked = rotate(core)
  return {
    lastSeq: Effect.sync(() => last(core).lastSeq),
    firstSeq: Effect.sync(() => segments[0]!.firstSeq),
    append: append(core, rotateUnlocked),
    read: read(core),
    rotate: serialized(Effect.zipRight(checkWritable(core, "rotate"), rotateUnlocked)),
    deleteSegmentsUpTo: deleteSegmentsUpTo(core),
    segments: Effect.sync(() =>
      segments.map((s) => ({ firstSeq: s.firstSeq, lastSeq: s.lastSeq, bytes: s.bytes }) as const),
    ),
    recovery: recoveryReport(core.opened, segments, snapshotFallbacks),
    health: Effect.suspend(() => {
      const failed = core.latch.failure()
      return failed === undefined ? Effect.void : Effect.fail(failed)
    }),
  }
}

/** Runs the backend's place check under the appends' lock; a store found gone latches the port. */
const checkPlaceNow = <S>(core: Core<S>): Effect.Effect<void, StorageFailed> =>
  Effect.suspend(() => {
    core.state.placeCheckDue = false
    const failed = core.latch.failure()
    if (failed !== undefined) return Effect.fail(portFailed("check-place", core.opened.location, failed))
    return core.log.checkPlace === undefined ? Effect.void : core.latch.guard(core.log.checkPlace)
  })

/**
 * Seals the newest segment and starts the next one; a no-op while the newest holds no records. The place is
 * checked first: a new segment in a directory re-created under the same name would be acknowledged into a log
 * whose earlier segments are gone. A failed creation that the backend undid (a full disk) fails this call only:
 * the segment list is unchanged, so the next append rolls again.
 */
const rotate = <S>(core: Core<S>): Effect.Effect<void, StorageFailed> =>
  Effect.suspend(() => {
    const current = last(core)
    if (current.lastSeq < current.firstSeq) return Effect.void
    const firstSeq = current.lastSeq + 1
    return Effect.zipRight(
      checkPlaceNow(core),
      Effect.map(core.latch.guard(core.log.create(firstSeq)), (handle) => {
        core.segments.push({ firstSeq, lastSeq: firstSeq - 1, bytes: segmentHeaderBytes, handle })
      }),
    )
  })

/** The hot path: plain combinators, no generator, and the batch size computed once for the roll rule and count. */
const append = <S>(core: Core<S>, rotateUnlocked: Effect.Effect<void, StorageFailed>) => {
  const { latch, log, opened } = core
  const { limits, readOnly } = opened
  // One match for the latch and the count: each combinator is an interpreter step and an allocation per batch.
  const appendTo = (segment: Segment<S>, records: ReadonlyArray<WalRecord>, size: number) =>
    Effect.matchEffect(log.append(segment, records), {
      onFailure: latch.onError,
      onSuccess: () => {
        segment.bytes += size
        segment.lastSeq += records.length
        return Effect.void
      },
    })
  // Plain, not suspended: it runs inside the append's own suspend, and a place check before it changes no segment.
  const appendChecked = (records: ReadonlyArray<WalRecord>): Effect.Effect<void, StorageFailed> => {
    const current = last(core)
    for (let i = 0; i < records.length; i++) assertWritable(records[i]!, current.lastSeq + 1 + i, limits.recordBytesMax)
    const size = batchBytes(records)
    const hasRecords = current.lastSeq >= current.firstSeq
    if (!mustRoll(limits, current.bytes, hasRecords, size) && (log.appendable?.(current.handle) ?? true))
      return appendTo(current, records, size)
    return Effect.zipRight(
      rotateUnlocked,
      Effect.suspend(() => appendTo(last(core), records, size)),
    )
  }
  return (records: ReadonlyArray<WalRecord>): Effect.Effect<void, StorageFailed> =>
    core.serialized(
      Effect.suspend(() => {
        if (readOnly) return Effect.fail(refuseWrite(core, "append"))
        const failed = latch.failure()
        if (failed !== undefined) return Effect.fail(portFailed("append", log.describe(last(core).handle), failed))
        if (records.length === 0) return Effect.void
        if (core.state.placeCheckDue) return Effect.zipRight(checkPlaceNow(core), appendChecked(records))
        return appendChecked(records)
      }),
    )
}

const read =
  <S>(core: Core<S>) =>
  (fromSeq: number): Stream.Stream<WalRecord, StorageFailed | WalCorrupt> =>
    Stream.unwrap(
      Effect.suspend(() => {
        const failed = core.latch.failure()
        if (failed !== undefined) return Effect.fail(portFailed("read", core.opened.location, failed))
        const first = core.segments[0]!
        if (Math.max(fromSeq, 1) < first.firstSeq)
          return Effect.fail(
            new StorageFailed({
              operation: "read",
              path: core.log.describe(first.handle),
              reason: "Compacted",
              message: `seq ${fromSeq} was compacted away; the log starts at seq ${first.firstSeq}`,
            }),
          )
        const toSeq = last(core).lastSeq
        // Copies: the stream reads each segment as it was when it started, whatever appends do meanwhile.
        const wanted = core.segments.filter((s) => s.lastSeq >= fromSeq && s.firstSeq <= toSeq).map((s) => ({ ...s }))
        // One segment at a time, and its records in chunks of Stream's default size: a reader holds a segment's
        // records as a backend keeps them and a chunk's decoded events, never the whole log's.
        return Effect.succeed(
          Stream.fromIterable(wanted).pipe(
            Stream.mapEffect((s) => core.log.read(s, fromSeq, toSeq)),
            Stream.flatMap((records) => Stream.fromIterable(records)),
          ),
        )
      }),
    )

/** Never past the older retained snapshot, so a corrupt newest one can still fall back to it plus the log. */
const deleteSegmentsUpTo =
  <S>(core: Core<S>) =>
  (upToSeq: number): Effect.Effect<void, StorageFailed> =>
    core.serializedCompaction(
      Effect.gen(function* () {
        yield* checkWritable(core, "delete-segments")
        const { segments } = core
        const floor = Math.min(upToSeq, core.state.retained[snapshotsRetainedCount - 1] ?? 0)
        while (segments.length > 1 && segments[0]!.lastSeq <= floor) {
          yield* core.latch.guard(core.log.remove(segments[0]!.handle))
          segments.shift()
        }
      }),
    )

const makeSnapshotStore = <S>(core: Core<S>): SnapshotStore => {
  const { latch, snapshotFiles, state } = core
  const publish = (lastSeq: number, step: Effect.Effect<void, PrimitiveError>) =>
    core.serializedCompaction(
      Effect.gen(function* () {
        yield* checkWritable(core, "snapshot-write")
        yield* latch.guard(step)
        state.chosenAtOpen = Option.none()
        state.retained = [lastSeq, ...state.retained.filter((s) => s !== lastSeq)].sort((a, b) => b - a)
        while (state.retained.length > snapshotsRetainedCount) {
          yield* latch.guard(snapshotFiles.remove(state.retained.at(-1)!))
          state.retained = state.retained.slice(0, -1)
        }
      }),
    )
  return {
    write: (snapshot) =>
      Effect.gen(function* () {
        yield* checkWritable(core, "snapshot-write")
        const lastSeq = last(core).lastSeq
        if (!Number.isSafeInteger(snapshot.lastSeq) || snapshot.lastSeq < 0 || snapshot.lastSeq > lastSeq)
          return yield* Effect.dieMessage(
            `snapshot lastSeq ${snapshot.lastSeq} is outside the durable log (0..${lastSeq})`,
          )
        // Staged outside every lock, so appends go on while a large snapshot is written.
        yield* publish(snapshot.lastSeq, yield* latch.guard(snapshotFiles.stage(snapshot)))
      }),
    latest: Effect.gen(function* () {
      yield* latch.check("snapshot-latest", core.opened.location)
      const chosenAtOpen = state.chosenAtOpen
      state.chosenAtOpen = Option.none()
      if (Option.isSome(chosenAtOpen)) return chosenAtOpen
      const first = core.segments[0]!
      return yield* snapshotFiles.readLatest(state.retained, first.firstSeq, core.log.describe(first.handle))
    }),
  }
}

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
