/**
 * The request body limit, in one place. A declared `content-length` is checked at the edge, for every route,
 * before anything is read; a body without one (chunked) is counted while the register handler reads it. Each
 * body is so checked once, and both answer the same 413.
 */

import { Either } from "effect"
import { InvalidInput } from "../domain/errors.ts"
import { detailOf, edgeError } from "../effects/errorStatus.ts"
import { type EdgeRequest, header } from "./crossSite.ts"
import { errorResponse } from "./errorResponse.ts"

export const payloadTooLarge = (limitBytes: number) =>
  errorResponse(edgeError("PayloadTooLarge", `body: must be at most ${limitBytes} bytes`, { limitBytes }))

/** Whether the request declares a body over the limit (Node refuses a body longer than it declared). */
export const declaresTooLarge = (request: EdgeRequest, limitBytes: number): boolean => {
  const length = header(request, "content-length")
  return length !== undefined && !(Number(length) <= limitBytes)
}

/** A body the registry cannot take, answered as `InvalidInput` on the body. */
export const refused = (message: string) =>
  Either.left(errorResponse(detailOf(new InvalidInput({ field: "body", message }))))

/** The body's chunks as one text; throws on bytes that are not UTF-8. */
export const decodeChunks = (chunks: ReadonlyArray<Uint8Array>, size: number): string => {
  if (chunks.length === 1) return utf8.decode(chunks[0]!)
  const joined = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    joined.set(chunk, offset)
    offset += chunk.length
  }
  return utf8.decode(joined)
}

const utf8 = new TextDecoder("utf-8", { fatal: true })
