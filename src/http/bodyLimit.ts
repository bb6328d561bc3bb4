/**
 * The request body limit, in one place. A declared `content-length` is checked at the edge, for every route,
 * before anything is read; a body without one (chunked) is counted while the register handler reads it. Each
 * body is so checked once, and both answer the same 413.
 */

import type { IncomingMessage } from "node:http"
import { Effect } from "effect"
import { InvalidInput } from "../domain/errors.ts"
import { edgeError } from "../effects/errorStatus.ts"
import { type EdgeRequest, header } from "./crossSite.ts"
import { errorResponse } from "./errorResponse.ts"

export const payloadTooLarge = (limitBytes: number) =>
  errorResponse(edgeError("PayloadTooLarge", `body: must be at most ${limitBytes} bytes`, { limitBytes }))

/** Whether the request declares a body over the limit (Node refuses a body longer than it declared). */
export const declaresTooLarge = (request: EdgeRequest, limitBytes: number): boolean => {
  const length = header(request, "content-length")
  return length !== undefined && !(Number(length) <= limitBytes)
}

export class TooLarge {
  readonly _tag = "TooLarge"
}

/**
 * A client told 413 while it still streams is left to finish its body, read and dropped, so that it reads the
 * answer rather than a reset: closing a socket with unread bytes sends a TCP reset, which discards the 413 the
 * client has not read yet. Past this many dropped bytes the connection is destroyed after all, so a client that
 * ignores the answer cannot keep the server reading for good.
 */
export const drainBytesMax = 1024 * 1024 * 1024

/**
 * Reads the body as UTF-8 text. Only a body without a declared length is counted against the limit: the edge
 * has already refused a declared one over it. The Node request is read directly, not through the platform's
 * stream: ending that stream early destroys the request and with it the socket.
 */
export const readBody = (source: IncomingMessage, limitBytes: number) =>
  Effect.flatMap(
    readBytes(source, source.headers["content-length"] === undefined ? limitBytes : Number.POSITIVE_INFINITY),
    (bytes) =>
      Effect.try({
        try: () => utf8.decode(bytes),
        catch: () => new InvalidInput({ field: "body", message: "body: must be UTF-8" }),
      }),
  )

const utf8 = new TextDecoder("utf-8", { fatal: true })

const readBytes = (source: IncomingMessage, limit: number) =>
  Effect.async<Uint8Array, TooLarge | InvalidInput>((resume) => {
    const chunks: Array<Uint8Array> = []
    let size = 0
    const onData = (chunk: Uint8Array) => {
      size += chunk.length
      if (size <= limit) return void chunks.push(chunk)
      // Answered now; the rest is only counted and dropped (see drainBytesMax).
      source.off("end", onEnd)
      source.off("error", onError)
      source.off("data", onData)
      let dropped = size
      source.on("data", (more: Uint8Array) => {
        dropped += more.length
        if (dropped > limit + drainBytesMax) source.destroy()
      })
      source.on("error", () => {})
      resume(Effect.fail(new TooLarge()))
    }
    const onEnd = () => {
      source.off("error", onError)
      const bytes = new Uint8Array(size)
      let offset = 0
      for (const chunk of chunks) {
        bytes.set(chunk, offset)
        offset += chunk.length
      }
      resume(Effect.succeed(bytes))
    }
    const onError = () => {
      source.off("end", onEnd)
      source.off("data", onData)
      resume(Effect.fail(new InvalidInput({ field: "body", message: "body: the request was aborted" })))
    }
    source.on("data", onData)
    source.once("end", onEnd)
    source.once("error", onError)
  })
