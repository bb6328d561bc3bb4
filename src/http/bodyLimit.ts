/**
 * The request body limit, in one place. A declared `content-length` is checked at the edge, for every route,
 * before anything is read; a body without one (chunked) is counted while the register handler reads it. Each
 * body is so checked once, and both answer the same 413.
 */
import type { HttpServerRequest } from "@effect/platform"
import { Effect, Stream } from "effect"
import { InvalidInput } from "../domain/errors.ts"
import { edgeError } from "../effects/errorStatus.ts"
import { errorResponse } from "./errorResponse.ts"

export const payloadTooLarge = (limitBytes: number) =>
  errorResponse(edgeError("PayloadTooLarge", `body: must be at most ${limitBytes} bytes`, { limitBytes }))

/** Whether the request declares a body over the limit (Node refuses a body longer than it declared). */
export const declaresTooLarge = (request: HttpServerRequest.HttpServerRequest, limitBytes: number): boolean => {
  const length = request.headers["content-length"]
  return length !== undefined && !(Number(length) <= limitBytes)
}

export class TooLarge {
  readonly _tag = "TooLarge"
}

/**
 * Past the limit, bytes are read and dropped (up to `drainBytesMax`) rather than refused mid-stream: stopping
 * the read destroys the socket, and the client would see a reset instead of the 413.
 */
const drainBytesMax = 8 * 1024 * 1024

/**
 * Reads the body as UTF-8 text. Only a body without a declared length is counted against the limit: the edge
 * has already refused a declared one over it.
 */
export const readBody = (request: HttpServerRequest.HttpServerRequest, limitBytes: number) =>
  Effect.gen(function* () {
    const limit = request.headers["content-length"] === undefined ? limitBytes : Number.POSITIVE_INFINITY
    const chunks: Array<Uint8Array> = []
    let size = 0
    yield* Stream.runForEach(request.stream, (chunk) => {
      size += chunk.length
      if (size > limit + drainBytesMax) return Effect.fail(new TooLarge())
      if (size <= limit) chunks.push(chunk)
      return Effect.void
    })
    if (size > limit) return yield* Effect.fail(new TooLarge())
    const bytes = new Uint8Array(size)
    let offset = 0
    for (const chunk of chunks) {
      bytes.set(chunk, offset)
      offset += chunk.length
    }
    return yield* Effect.try({
      try: () => new TextDecoder("utf-8", { fatal: true }).decode(bytes),
      catch: () => new InvalidInput({ field: "body", message: "body: must be UTF-8" }),
    })
  })
