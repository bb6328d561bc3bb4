/**
 * Server-Sent Events framing for `/events`: where to start (query `from`, or the `Last-Event-ID` a
 * reconnecting client sends), and how an event, a keep-alive and a terminal error look on the wire.
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

/** Sent first: the status line and headers only leave with the first body chunk. */
export const openFrame = ": connected\n\n"

export const keepAliveFrame = ": keep-alive\n\n"

/** A stream that cannot continue (e.g. the log no longer holds the requested seq) ends with this frame. */
export const errorFrame = (error: unknown): string =>
  `event: error\ndata: ${JSON.stringify({ error: detailOf(error) })}\n\n`
