/**
 * Test-only decorators of the storage ports that re-introduce the seed's actor-level bugs, one at a time, so the
 * simulator can prove it catches each. They wrap the ports the registry is given; the registry itself has no
 * switch for them.
 */
import { Context, Effect, Either, Layer } from "effect"
import { decodeIndexState, encodeIndexState } from "../actors/snapshotCodec.ts"
import * as ModelRegistry from "../effects/ModelRegistry.ts"
import { concatBytes, partsOf } from "../storage/ByteParts.ts"
import { SnapshotStore, type SnapshotToWrite } from "../storage/SnapshotStore.ts"
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
  // The payloads are copied first: they are views the caller reuses once `append` resolves (Wal.ts), and this
  // mutation is the seed's early acknowledgement alone, not also a record overwritten before it is written.
  ...(mutations.ackBeforeFsync
    ? {
        append: (records) =>
          Effect.asVoid(
            Effect.forkDaemon(wal.append(records.map((record) => ({ ...record, payload: record.payload.slice() })))),
          ),
      }
    : {}),
  ...(mutations.compactionRacesAppends
    ? {
        // The cut moves to just before the snapshot is published (see `mutateSnapshots`), and the deletion goes up
        // to wherever the log has got to, not to the snapshot's seq.
        rotate: Effect.void,
        deleteSegmentsUpTo: () => Effect.flatMap(wal.lastSeq, wal.deleteSegmentsUpTo),
      }
    : {}),
})

/** The snapshot store as the mutations change it; `wal` is the undecorated log the snapshots belong to. */
export const mutateSnapshots = (snapshots: SnapshotStore, wal: Wal, mutations: ActorMutations): SnapshotStore => {
  const registrationsOnly = (snapshot: SnapshotToWrite): SnapshotToWrite => {
    const decoded = Either.getOrThrow(decodeIndexState(concatBytes(partsOf(snapshot.state))))
    const versions = decoded.versions.map((v) => ({ ...v, state: "registered" as const }))
    return { ...snapshot, state: encodeIndexState({ ...decoded, versions }) }
  }
  const write = (snapshot: SnapshotToWrite) =>
    snapshots.write(mutations.compactRegistrationsOnly ? registrationsOnly(snapshot) : snapshot)
  if (!mutations.compactionRacesAppends) return { ...snapshots, write }
  return {
    ...snapshots,
    // As the seed did: while the snapshot is written, batches go on committing into the live log; the log is cut
    // only then, so the sealed segment holds records the snapshot does not cover.
    write: (snapshot) =>
      Effect.gen(function* () {
        for (let i = 0; i < 8; i++) yield* Effect.yieldNow()
        yield* wal.rotate
        yield* write(snapshot)
      }),
  }
}

/** Replaces the Wal and SnapshotStore below it with their mutated versions. */
export const layerActorMutations = (mutations: ActorMutations) =>
  Layer.effectContext(
    Effect.gen(function* () {
      const wal = yield* Wal
      const snapshots = yield* SnapshotStore
      return Context.make(Wal, mutateWal(wal, mutations)).pipe(
        Context.add(SnapshotStore, mutateSnapshots(snapshots, wal, mutations)),
      )
    }),
  )

/** `ModelRegistry.layerFileSystem` with the mutations applied to its storage ports. */
export const layerFileSystemMutated = (options: ModelRegistry.FileSystemRegistryOptions, mutations: ActorMutations) =>
  ModelRegistry.layer(ModelRegistry.registryOptionsOf(options)).pipe(
    Layer.provide(layerActorMutations(mutations)),
    Layer.provide(ModelRegistry.layerFileSystemStorage(options)),
  )
