/**
 * Turns WAL records back into events, in order. Shared by recovery (which folds them into the index) and by
 * subscribers reading history from the log, so both see exactly the same validation.
 */
import { Effect, Either, Stream } from "effect"
import type { StorageFailed, WalCorrupt } from "../domain/errors.ts"
import type { RegistryEvent } from "../domain/RegistryEvent.ts"
import type { WalRecord } from "../storage/Wal.ts"
import { decodeEventPayload } from "./eventCodec.ts"

/** Decodes a chunk of records synchronously: recovery is CPU-bound, and per-record Effects would double its cost. */
export const decodeEvents = (records: Iterable<WalRecord>): Either.Either<Array<RegistryEvent>, WalCorrupt> => {
  const events: Array<RegistryEvent> = []
  for (const record of records) {
    const decoded = decodeEventPayload(record.seq, record.type, record.payload)
    if (Either.isLeft(decoded)) return Either.left(decoded.left)
    events.push(decoded.right)
  }
  return Either.right(events)
}

export const replayEvents = (
  records: Stream.Stream<WalRecord, StorageFailed | WalCorrupt>,
  apply: (event: RegistryEvent) => void,
): Effect.Effect<void, StorageFailed | WalCorrupt> =>
  Stream.runForEachChunk(records, (chunk) =>
    Effect.map(decodeEvents(chunk), (events) => {
      for (const event of events) apply(event)
    }),
  )
