/**
 * `subscribe({ from })`: every committed event from `from` on, in seq order, with no gap and no duplicate,
 * then live. A subscriber is a cursor, not a queue: it reads from the in-memory tail when the tail still holds
 * its next seq and from the WAL otherwise, so a slow subscriber costs the registry nothing and is never
 * skipped ahead. If the log no longer holds its next seq (compacted away), the stream fails with
 * `StorageFailed { reason: "Compacted" }`, as the WAL does.
 */
import { Chunk, Deferred, Effect, Option, Stream } from "effect"
import { InvalidInput, StorageFailed, type WalCorrupt } from "../domain/errors.ts"
import type { RegistryEvent } from "../domain/RegistryEvent.ts"
import type { Wal } from "../storage/Wal.ts"
import type { RegistryActor } from "./RegistryActor.ts"
import { decodeEvents } from "./replay.ts"

/** Events handed to a subscriber per pull: large enough to amortize a log read, small enough to bound memory. */
export const subscriptionChunkMax = 4_096

export type SubscribeError = InvalidInput | StorageFailed | WalCorrupt

export const subscribe = (
  actor: RegistryActor,
  wal: Wal,
  options: { readonly from?: number } = {},
): Stream.Stream<RegistryEvent, SubscribeError> => {
  const from = options.from ?? actor.tail.committedSeq + 1
  if (!Number.isSafeInteger(from) || from < 1)
    return Stream.fail(new InvalidInput({ field: "from", message: `from: must be a positive integer (got ${from})` }))

  const readLog = (next: number, upTo: number) =>
    wal.read(next).pipe(
      Stream.takeWhile((record) => record.seq <= upTo),
      Stream.take(subscriptionChunkMax),
      Stream.runCollect,
      Effect.flatMap((records) => decodeEvents(Chunk.toReadonlyArray(records))),
      Effect.flatMap((events) =>
        events[0]?.seq === next
          ? Effect.succeed(events)
          : Effect.fail(
              new StorageFailed({
                operation: "read",
                path: "",
                reason: "Compacted",
                message: `seq ${next} was compacted away; the log starts at seq ${events[0]?.seq ?? "none"}`,
              }),
            ),
      ),
    )

  const pull = (
    next: number,
  ): Effect.Effect<Option.Option<readonly [Chunk.Chunk<RegistryEvent>, number]>, SubscribeError> =>
    Effect.gen(function* () {
      while (true) {
        const wakeUp = actor.tail.nextWake
        const committed = actor.tail.committedSeq
        if (next <= committed) {
          const events = actor.tail.covers(next)
            ? actor.tail.slice(next, subscriptionChunkMax)
            : yield* readLog(next, committed)
          return Option.some([Chunk.unsafeFromArray(events), next + events.length] as const)
        }
        const failure = actor.failure()
        if (failure) return yield* Effect.fail(failure)
        if (actor.closed()) return Option.none()
        yield* Deferred.await(wakeUp)
      }
    })

  return Stream.unfoldChunkEffect(from, pull)
}
