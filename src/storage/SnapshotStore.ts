/**
 * The snapshot port: the registry's state at a seq, so recovery replays only the log after it. Storage treats the
 * state as opaque bytes (the registry hands it a schema-encoded index).
 */
import { Context, type Effect, type Option } from "effect"
import type { StorageFailed, WalCorrupt } from "../domain/errors.ts"
import type { ByteParts } from "./ByteParts.ts"

export interface Snapshot {
  /** The last seq whose effect `state` includes. */
  readonly lastSeq: number
  readonly state: Uint8Array
  /**
   * The log's chain value after `lastSeq`, as the snapshot recorded it; absent when that record was not chained
   * (an earlier release wrote it) or the backend keeps no chain (memory).
   */
  readonly chainHead?: Uint8Array
}

/** A snapshot to write: its state may be given as parts (an encoder's lines), written one after another. */
export interface SnapshotToWrite {
  readonly lastSeq: number
  readonly state: ByteParts
}

export interface SnapshotStore {
  /**
   * Makes a snapshot durable: tmp file, written and fsynced, rename, directory fsync. When it resolves the snapshot
   * survives a crash. The two newest snapshots are retained; older ones are deleted after the new one is durable.
   * `lastSeq` must not exceed the WAL's lastSeq (a defect otherwise).
   */
  readonly write: (snapshot: SnapshotToWrite) => Effect.Effect<void, StorageFailed>
  /**
   * The newest valid snapshot. If the newest is corrupt, the previous one is used only when the log still holds
   * every record after it; otherwise this fails with `WalCorrupt`. History is never silently lost.
   * `None` means "replay the log from seq 1".
   */
  readonly latest: Effect.Effect<Option.Option<Snapshot>, StorageFailed | WalCorrupt>
}

/** The snapshot store service. */
export const SnapshotStore: Context.Tag<SnapshotStore, SnapshotStore> = Context.GenericTag<SnapshotStore>(
  "@visutility/model-registry/SnapshotStore",
)
