/**
 * `Wal` and `SnapshotStore` in memory, for tests and edge runtimes. A `MemoryStore` plays the role of the data
 * directory: it outlives the layer, so closing and reopening a layer over the same store models a restart. The
 * ports' rules (segment rolling, retention, compaction bounds) come from `WalCore`, so the same contract suite
 * passes against this and the file backend; this module adds only the primitives and the lock. It has no crashes
 * and no corruption to recover from.
 */
import { Context, Effect, Layer, Option, type Scope } from "effect"
import { DirectoryLocked, type InvalidInput, type StorageFailed, type WalCorrupt } from "../domain/errors.ts"
import { concatBytes, partsOf } from "./ByteParts.ts"
import { type StorageLimits, validateLimits } from "./Limits.ts"
import { type Snapshot, SnapshotStore } from "./SnapshotStore.ts"
import { Wal, type WalRecord } from "./Wal.ts"
import * as WalCore from "./WalCore.ts"

/** The durable contents of a memory "directory". Treat it as opaque; share it between opens to model restarts. */
export interface MemoryStore {
  /** The core's own segment list: it updates it in place, so it survives a close. */
  readonly segments: Array<WalCore.Segment<Array<WalRecord>>>
  /** Newest first. */
  snapshots: Array<Snapshot>
  locked: boolean
}

export const makeMemoryStore = (): MemoryStore => ({ segments: [], snapshots: [], locked: false })

/** The directory name memory stores report in errors. */
export const memoryDirectory = "memory:"

const logPrimitives: WalCore.LogPrimitives<Array<WalRecord>> = {
  describe: () => memoryDirectory,
  create: () => Effect.sync(() => []),
  append: (segment, records) =>
    Effect.sync(() => {
      // Copies: the caller may reuse its buffers once the append resolved.
      for (const r of records) segment.handle.push({ seq: r.seq, type: r.type, payload: new Uint8Array(r.payload) })
    }),
  read: (segment, fromSeq, toSeq) =>
    Effect.sync(() => segment.handle.filter((r) => r.seq >= fromSeq && r.seq <= toSeq)),
  // The core drops the segment from the store's list, which is all there is to delete.
  remove: () => Effect.void,
}

const snapshotPrimitives = (store: MemoryStore): WalCore.SnapshotPrimitives => ({
  describe: () => memoryDirectory,
  stage: (snapshot) =>
    Effect.sync(() => {
      const copy = { lastSeq: snapshot.lastSeq, state: concatBytes(partsOf(snapshot.state)) }
      return Effect.sync(() => {
        store.snapshots = [copy, ...store.snapshots.filter((s) => s.lastSeq !== copy.lastSeq)].sort(
          (a, b) => b.lastSeq - a.lastSeq,
        )
      })
    }),
  remove: (lastSeq) =>
    Effect.sync(() => {
      store.snapshots = store.snapshots.filter((s) => s.lastSeq !== lastSeq)
    }),
  readLatest: () => Effect.sync(() => Option.fromNullable(store.snapshots[0])),
})

/**
 * Opens a memory store for the current scope. Fails with `DirectoryLocked` (pid 0) while another open of the
 * same store is live, like a second process on a data directory.
 */
export const makeMemoryStorage = (
  store: MemoryStore,
  limitInput: Partial<StorageLimits> = {},
): Effect.Effect<WalCore.Storage, DirectoryLocked | InvalidInput, Scope.Scope> =>
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
    const opened: WalCore.Opened<Array<WalRecord>> = {
      location: memoryDirectory,
      limits,
      readOnly: false,
      segments: store.segments,
      snapshotSeqs: store.snapshots.map((s) => s.lastSeq),
      chosenSnapshot: Option.none(),
      finish: Effect.succeed([]),
      tornTail: Option.none(),
      tmpFilesRemoved: [],
    }
    // Memory primitives never fail and a memory store holds no snapshot beyond its log, so neither can happen.
    return yield* Effect.orDieWith(
      WalCore.make(opened, logPrimitives, snapshotPrimitives(store)),
      (e: StorageFailed | WalCorrupt) => e,
    )
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
