/**
 * The port of a log that several registry servers append to at once (PostgreSQL: PostgresStorage.ts). A backend
 * that provides it next to `Wal` tells the registry actor that its own state may fall behind the log's head: the
 * actor then decides every batch at the head, inside the append, and follows what the other servers commit.
 */
import { Context, type Effect } from "effect"
import type { StorageFailed } from "../domain/errors.ts"
import type { WalRecord } from "./Wal.ts"

export interface SharedLog {
  /**
   * One append at the head, atomically: under the log's append lock, reads the records committed after
   * `knownSeq` (`behind`, contiguous from `knownSeq + 1`), hands them to `decide`, and commits the records it
   * returns, whose seqs must follow the last of `behind` (none: nothing is written). `decide` runs once per call,
   * synchronously; what it did with `behind` stands whatever happens next, since those records are committed.
   * Resolves only once the records are durable. A commit whose outcome was lost (the connection dropped during
   * it) is looked up before this resolves: found, it succeeds; not found, it fails with `StorageFailed { reason:
   * "Unavailable" }`, as any failure before the commit does, and nothing of the call was written. Only when the
   * lookup itself cannot be answered does the port latch failed.
   */
  readonly appendAtHead: (
    knownSeq: number,
    decide: (behind: ReadonlyArray<WalRecord>) => ReadonlyArray<WalRecord>,
  ) => Effect.Effect<void, StorageFailed>
  /**
   * Calls `wake` with the head it saw whenever another server may have committed (a notification, or the poll
   * that covers a lost one). Runs until interrupted.
   */
  readonly follow: (wake: (head: number) => void) => Effect.Effect<never>
  /** Fails with `StorageFailed { reason: "Unavailable" }` while the store cannot be reached (a readiness probe). */
  readonly reachable: Effect.Effect<void, StorageFailed>
}

export const SharedLog: Context.Tag<SharedLog, SharedLog> = Context.GenericTag<SharedLog>(
  "@visutility/model-registry/SharedLog",
)
