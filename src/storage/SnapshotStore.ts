/**
 * The snapshot port: the registry's state at a seq, so recovery replays only the log after it. Storage treats the
 * state as opaque bytes (the registry hands it a schema-encoded index).
 */
import { Context, type Effect, type Option } from "effect"
import type { StorageFailed, WalCorrupt } from "../domain/errors.ts"
import { concatBytes } from "./Bytes.ts"

export interface Snapshot {
  /** The last seq whose effect `state` includes. */
  readonly lastSeq: number
  readonly state: Uint8Array
}

/**
 * A state to write: its bytes, or their parts in order, written one after another. Parts spare a writer joining a
 * large state into one fresh buffer, whose page faults cost as much as encoding it (bench/results/issue-15-server.md).
 */
export type SnapshotBytes = Uint8Array | ReadonlyArray<Uint8Array>

export interface SnapshotToWrite {
  readonly lastSeq: number
  readonly state: SnapshotBytes
}

/** The parts of a state to write, in order. */
export const snapshotParts = (state: SnapshotBytes): ReadonlyArray<Uint8Array> =>
  state instanceof Uint8Array ? [state] : state

/** A state to write as one buffer of its own. */
export const joinedSnapshotBytes = (state: SnapshotBytes): Uint8Array => concatBytes(snapshotParts(state))

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
