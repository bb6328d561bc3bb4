/**
 * Server-Sent Events framing for `/events`: where to start (query `from`, or the `Last-Event-ID` a
 * reconnecting client sends), and how the opening, an event, a keep-alive and a terminal error look on the wire.
 */
import { Either } from "effect"
import { InvalidInput } from "../domain/errors.ts"
import type { RegistryEvent } from "../domain/RegistryEvent.ts"
import { detailOf } from "../effects/errorStatus.ts"

const positiveInteger = /^[1-9][0-9]{0,15}$/

/**
 * The first seq to send. `Last-Event-ID` names the last event the client has, so it wins over `from` (a
 * reconnecting EventSource repeats its original URL). `undefined` means live only.
 */
export const resumeFrom = (
  from: string | undefined,
  lastEventId: string | undefined,
): Either.Either<number | undefined, InvalidInput> => {
  if (lastEventId !== undefined && lastEventId.trim() !== "") {
    const id = lastEventId.trim()
    if (id === "0") return Either.right(1)
    return positiveInteger.test(id) && Number.isSafeInteger(Number(id))
      ? Either.right(Number(id) + 1)
      : Either.left(
          new InvalidInput({
            field: "Last-Event-ID",
            message: `Last-Event-ID: must be an event seq (got "${id.slice(0, 32)}")`,
          }),
        )
  }
  if (from === undefined) return Either.right(undefined)
  return positiveInteger.test(from) && Number.isSafeInteger(Number(from))
    ? Either.right(Number(from))
    : Either.left(
        new InvalidInput({ field: "from", message: `from: must be a positive integer (got "${from.slice(0, 32)}")` }),
      )
}

export const eventFrame = (event: RegistryEvent): string =>
  `id: ${event.seq}\nevent: ${event._tag}\ndata: ${JSON.stringify(event)}\n\n`

/**
 * How long a client waits before reconnecting, in ms, sent first on every stream. A reconnect is cheap (the client
 * resumes from the log with `Last-Event-ID`) and the wait is how far a cut client falls behind, so it is short; yet
 * every client of a restarting server costs it at most one refused connect per second. Browsers' own default
 * (about 3 s) is longer than either needs.
 */
export const reconnectDelayMs = 1_000

/**
 * Sent first (the status line and headers only leave with the first body chunk): the reconnect delay, and as its
 * id the seq just before the first event this stream sends. A frame with an id and no data dispatches nothing but
 * sets the client's last event id, so a live-only client that reconnects before any event resumes exactly where it
 * was, not from whatever is live by then.
 */
export const openFrame = (nextSeq: number): string => `retry: ${reconnectDelayMs}\nid: ${nextSeq - 1}\n: connected\n\n`

export const keepAliveFrame = ": keep-alive\n\n"

/**
 * The event that ends a stream which cannot go on (a compaction that overtook a catching-up client, a failed
 * registry). Not `error`: EventSource fires its own `error` on every dropped connection, and a listener could not
 * tell the two apart.
 */
export const streamErrorEvent = "stream-error"

/** The last frame of a stream that cannot go on: the wire error body (no server path: see `detailOf`). */
export const streamErrorFrame = (error: unknown): string =>
  `event: ${streamErrorEvent}\ndata: ${JSON.stringify({ error: detailOf(error) })}\n\n`
