/**
 * `Wal` and `SnapshotStore` in memory, for tests and edge runtimes. A `MemoryStore` plays the role of the data
 * directory: it outlives the layer, so closing and reopening a layer over the same store models a restart. It keeps
 * the file implementation's observable rules (segment rolling, retention, lock, compaction bounds) so the same
 * contract suite passes against both; it has no crashes and no corruption to recover from.
 */
import { Context, Effect, Layer, Option, type Scope, Stream } from "effect"
import { DirectoryLocked, type InvalidInput, StorageFailed } from "../domain/errors.ts"
import { mustRoll, type StorageLimits, validateLimits } from "./Limits.ts"
import { assertWritable, batchBytes } from "./RecordCodec.ts"
import { segmentHeaderBytes } from "./SegmentHeader.ts"
import { type Snapshot, SnapshotStore } from "./SnapshotStore.ts"
import { Wal, type WalRecord } from "./Wal.ts"

interface MemorySegment {
  readonly firstSeq: number
  readonly records: Array<WalRecord>
  bytes: number
}

/** The durable contents of a memory "directory". Treat it as opaque; share it between opens to model restarts. */
export interface MemoryStore {
  readonly segments: Array<MemorySegment>
  /** Newest first. */
  snapshots: Array<Snapshot>
  locked: boolean
}

export const makeMemoryStore = (): MemoryStore => ({
  segments: [{ firstSeq: 1, records: [], bytes: segmentHeaderBytes }],
  snapshots: [],
  locked: false,
})

/** The directory name memory stores report in errors. */
export const memoryDirectory = "memory:"

const snapshotsRetainedCount = 2

/**
 * Opens a memory store for the current scope. Fails with `DirectoryLocked` (pid 0) while another open of the
 * same store is live, like a second process on a data directory.
 */
export const makeMemoryStorage = (
  store: MemoryStore,
  limitInput: Partial<StorageLimits> = {},
): Effect.Effect<
  { readonly wal: Wal; readonly snapshots: SnapshotStore },
  DirectoryLocked | InvalidInput,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const limits = yield* validateLimits(limitInput)
    if (store.locked) return yield* new DirectoryLocked({ directory: memoryDirectory, pid: 0 })
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        store.locked = true
      }),
      () =>
        Effect.sync(() => {
          store.locked = false
        }),
    )
    const { segments } = store
    const current = () => segments[segments.length - 1]!
    const lastSeqOf = (s: MemorySegment) => s.firstSeq + s.records.length - 1
    const lastSeq = () => lastSeqOf(current())
    const mutex = yield* Effect.makeSemaphore(1)

    const rotateUnlocked = () => {
      if (current().records.length > 0)
        segments.push({ firstSeq: lastSeq() + 1, records: [], bytes: segmentHeaderBytes })
    }

    const wal: Wal = {
      lastSeq: Effect.sync(lastSeq),
      firstSeq: Effect.sync(() => segments[0]!.firstSeq),
      append: (records) =>
        mutex.withPermits(1)(
          Effect.sync(() => {
            if (records.length === 0) return
            for (let i = 0; i < records.length; i++)
              assertWritable(records[i]!, lastSeq() + 1 + i, limits.recordBytesMax)
            const size = batchBytes(records)
            if (mustRoll(limits, current().bytes, current().records.length > 0, size)) rotateUnlocked()
            const target = current()
            for (const r of records)
              target.records.push({ seq: r.seq, type: r.type, payload: new Uint8Array(r.payload) })
            target.bytes += size
          }),
        ),
      read: (fromSeq) =>
        Stream.unwrap(
          Effect.suspend(() => {
            const firstSeq = segments[0]!.firstSeq
            if (Math.max(fromSeq, 1) < firstSeq)
              return Effect.fail(
                new StorageFailed({
                  operation: "read",
                  path: memoryDirectory,
                  reason: "Compacted",
                  message: `seq ${fromSeq} was compacted away; the log starts at seq ${firstSeq}`,
                }),
              )
            const out: Array<WalRecord> = []
            for (const s of segments) for (const r of s.records) if (r.seq >= fromSeq) out.push(r)
            return Effect.succeed(Stream.fromIterable(out))
          }),
        ),
      rotate: mutex.withPermits(1)(Effect.sync(rotateUnlocked)),
      deleteSegmentsUpTo: (upToSeq) =>
        mutex.withPermits(1)(
          Effect.sync(() => {
            const floor = Math.min(upToSeq, store.snapshots[snapshotsRetainedCount - 1]?.lastSeq ?? 0)
            while (segments.length > 1 && lastSeqOf(segments[0]!) <= floor) segments.shift()
          }),
        ),
      segments: Effect.sync(() =>
        segments.map((s) => ({ firstSeq: s.firstSeq, lastSeq: lastSeqOf(s), bytes: s.bytes }) as const),
      ),
      recovery: {
        tornTail: Option.none(),
        tmpFilesRemoved: [],
        snapshotFallbacks: [],
        segments: segments.length,
        records: segments.reduce((n, s) => n + s.records.length, 0),
      },
    }

    const snapshots: SnapshotStore = {
      write: (snapshot) =>
        mutex.withPermits(1)(
          Effect.suspend(() => {
            if (!Number.isSafeInteger(snapshot.lastSeq) || snapshot.lastSeq < 0 || snapshot.lastSeq > lastSeq())
              return Effect.dieMessage(
                `snapshot lastSeq ${snapshot.lastSeq} is outside the durable log (0..${lastSeq()})`,
              )
            const copy = { lastSeq: snapshot.lastSeq, state: new Uint8Array(snapshot.state) }
            store.snapshots = [copy, ...store.snapshots.filter((s) => s.lastSeq !== snapshot.lastSeq)]
              .sort((a, b) => b.lastSeq - a.lastSeq)
              .slice(0, snapshotsRetainedCount)
            return Effect.void
          }),
        ),
      latest: Effect.sync(() => Option.fromNullable(store.snapshots[0])),
    }
    return { wal, snapshots }
  })

/**
 * Provides `Wal` and `SnapshotStore` over a memory store (a fresh one by default). Pass the same store to a later
 * layer to model closing and reopening the registry.
 */
export const layerMemory = (
  store: MemoryStore = makeMemoryStore(),
  limits: Partial<StorageLimits> = {},
): Layer.Layer<Wal | SnapshotStore, DirectoryLocked | InvalidInput> =>
  Layer.scopedContext(
    Effect.map(makeMemoryStorage(store, limits), (s) =>
      Context.make(Wal, s.wal).pipe(Context.add(SnapshotStore, s.snapshots)),
    ),
  )
