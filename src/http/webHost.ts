/**
 * The web handler's side of `HttpHost` (Deno, workerd, any runtime with fetch's `Request`): a body is read from the
 * request's stream and counted; past the limit the rest is read and dropped before the 413 goes out. A cut event
 * stream needs nothing more: the feed ends the response's stream, and these runtimes drop what a client left unread
 * when its response ends.
 */
import { Either, Layer } from "effect"
import { decodeChunks, payloadTooLarge, refused } from "./bodyLimit.ts"
import { HttpHost } from "./HttpHost.ts"
import { drainBytesMax } from "./serverDefaults.ts"

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
          chunks.length = 0
          return drop(size)
        }
        chunks.push(step.value)
        next()
      },
      () => done(refused("body: the request was aborted")),
    )
  }
  /**
   * The 413 goes out once the client has sent its body (up to `drainBytesMax`), not at the limit as on Node: workerd
   * (and so a Worker run locally) closes the connection with the client's bytes unread as soon as the answer is
   * out, draining or not, and the reset made about half of the clients of a 50 MB upload lose the answer.
   */
  const tooLarge = () => done(Either.left(payloadTooLarge(limitBytes)))
  const drop = (dropped: number): void => {
    if (dropped > limit + drainBytesMax) {
      reader.cancel().catch(() => {})
      tooLarge()
      return
    }
    reader.read().then((step) => (step.done ? tooLarge() : drop(dropped + step.value.length)), tooLarge)
  }
  next()
}

export const layerWebHost: Layer.Layer<HttpHost> = Layer.succeed(HttpHost, {
  body: readBodyText,
  cut: () => {},
  processFamilies: () => [],
})
