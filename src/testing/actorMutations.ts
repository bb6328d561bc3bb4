/**
 * Test-only decorators of the storage ports that re-introduce the seed's actor-level bugs, one at a time, so the
 * simulator can prove it catches each. They wrap the ports the registry is given; the registry itself has no
 * switch for them.
 */
import { Effect, Either, Layer } from "effect"
import { decodeIndexState, encodeIndexState } from "../actors/snapshotCodec.ts"
import * as ModelRegistry from "../effects/ModelRegistry.ts"
import { SnapshotStore } from "../storage/SnapshotStore.ts"
import { Wal } from "../storage/Wal.ts"

export interface ActorMutations {
  /** Acknowledge callers before the append's fsync has returned. */
  readonly ackBeforeFsync?: boolean
  /** Snapshot only registrations (every version back to `registered`), as the seed's compaction did. */
  readonly compactRegistrationsOnly?: boolean
  /**
   * Cut the log only when the snapshot is written, then delete it up to wherever it has got to (the seed
   * snapshotted, then renamed over a live log that had moved on).
   */
  readonly compactionRacesAppends?: boolean
}

/** The WAL as the mutations change it. */
export const mutateWal = (wal: Wal, mutations: ActorMutations): Wal => ({
  ...wal,
  ...(mutations.ackBeforeFsync ? { append: (records) => Effect.asVoid(Effect.forkDaemon(wal.append(records))) } : {}),
  ...(mutations.compactionRacesAppends
    ? {
        rotate: Effect.void,
        deleteSegmentsUpTo: () =>
          Effect.gen(function* () {
            // Let batches commit into the segment the snapshot does not cover, then cut and delete it.
            for (let i = 0; i < 8; i++) yield* Effect.yieldNow()
            yield* wal.rotate
            yield* wal.deleteSegmentsUpTo(yield* wal.lastSeq)
          }),
      }
    : {}),
})

/** The snapshot store as the mutations change it. */
export const mutateSnapshots = (snapshots: SnapshotStore, mutations: ActorMutations): SnapshotStore =>
  mutations.compactRegistrationsOnly
    ? {
        ...snapshots,
        write: (snapshot) => {
          const decoded = Either.getOrThrow(decodeIndexState(snapshot.state))
          const versions = decoded.versions.map((v) => ({ ...v, state: "registered" as const }))
          return snapshots.write({ ...snapshot, state: encodeIndexState({ ...decoded, versions }) })
        },
      }
    : snapshots

/** Replaces the Wal and SnapshotStore below it with their mutated versions. */
export const layerActorMutations = (mutations: ActorMutations) =>
  Layer.merge(
    Layer.effect(
      Wal,
      Effect.map(Wal, (wal) => mutateWal(wal, mutations)),
    ),
    Layer.effect(
      SnapshotStore,
      Effect.map(SnapshotStore, (snapshots) => mutateSnapshots(snapshots, mutations)),
    ),
  )

/** `ModelRegistry.layerFileSystem` with the mutations applied to its storage ports. */
export const layerFileSystemMutated = (options: ModelRegistry.FileSystemRegistryOptions, mutations: ActorMutations) =>
  ModelRegistry.layer(ModelRegistry.registryOptionsOf(options)).pipe(
    Layer.provide(layerActorMutations(mutations)),
    Layer.provide(ModelRegistry.layerFileSystemStorage(options)),
  )
