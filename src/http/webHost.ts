/**
 * The web handler's side of `HttpHost` (Deno, workerd, any runtime with fetch's `Request`): a body is read from the
 * request's stream and counted, and reading stops at the limit. A cut event stream needs nothing more: the feed ends
 * the response's stream, and these runtimes drop what a client left unread when its response ends.
 */
import type { HttpServerRequest } from "@effect/platform"
import { Either, Layer } from "effect"
import { decodeChunks, payloadTooLarge, refused } from "./bodyLimit.ts"
import { HttpHost } from "./HttpHost.ts"

const readBodyText: HttpHost["body"] = (request, limitBytes, done) => {
  const source = request.source as Request
  const limit = source.headers.get("content-length") === null ? limitBytes : Number.POSITIVE_INFINITY
  if (source.body === null) return done(Either.right(""))
  const reader = source.body.getReader()
  const chunks: Array<Uint8Array> = []
  let size = 0
  const next = (): void => {
    reader.read().then(
      (step) => {
        if (step.done) {
          let text: string
          try {
            text = decodeChunks(chunks, size)
          } catch {
            return done(refused("body: must be UTF-8"))
          }
          return done(Either.right(text))
        }
        size += step.value.length
        if (size > limit) {
          reader.cancel().catch(() => {})
          return done(Either.left(payloadTooLarge(limitBytes)))
        }
        chunks.push(step.value)
        next()
      },
      () => done(refused("body: the request was aborted")),
    )
  }
  next()
}

export const layerWebHost: Layer.Layer<HttpHost> = Layer.succeed(HttpHost, {
  body: readBodyText,
  cut: () => {},
  processFamilies: () => [],
})
