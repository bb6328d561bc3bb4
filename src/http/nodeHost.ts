/**
 * The Node server's side of `HttpHost`: bodies read from the `IncomingMessage` itself, a cut event stream's socket
 * destroyed, and the process metrics Linux gives.
 */
import type { IncomingMessage } from "node:http"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Either, Layer } from "effect"
import { decodeChunks, payloadTooLarge, refused } from "./bodyLimit.ts"
import { HttpHost } from "./HttpHost.ts"
import { processFamilies } from "./processMetrics.ts"
import { drainBytesMax } from "./serverDefaults.ts"

/**
 * Reads the body as UTF-8 text and calls `done` once, with the text or with the answer that refuses it: 413 past
 * `limitBytes`, `InvalidInput` for bytes that are not UTF-8 or an aborted request. Only a body without a declared
 * length is counted against the limit: the edge has already refused a declared one over it. The Node request is
 * read directly, with callbacks: ending the platform's stream early would destroy the request and with it the
 * socket, and the fast lane reads a body before it starts the one fiber a write runs.
 */
export const readBodyText = (
  source: IncomingMessage,
  limitBytes: number,
  done: (text: Either.Either<string, HttpServerResponse.HttpServerResponse>) => void,
): void => {
  const limit = source.headers["content-length"] === undefined ? limitBytes : Number.POSITIVE_INFINITY
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
    done(Either.left(payloadTooLarge(limitBytes)))
  }
  const onEnd = () => {
    source.off("error", onError)
    source.off("data", onData)
    let text: string
    try {
      text = decodeChunks(chunks, size)
    } catch {
      return done(refused("body: must be UTF-8"))
    }
    done(Either.right(text))
  }
  const onError = () => {
    source.off("end", onEnd)
    source.off("data", onData)
    source.off("error", onError)
    done(refused("body: the request was aborted"))
  }
  // `on`, each removed by the handler that ends the read: `once` wraps every listener in a closure of its own.
  source.on("data", onData)
  source.on("end", onEnd)
  source.on("error", onError)
}

export const layerNodeHost: Layer.Layer<HttpHost> = Layer.succeed(HttpHost, {
  body: (request, limitBytes, done) => readBodyText(NodeHttpServerRequest.toIncomingMessage(request), limitBytes, done),
  cut: (request) => NodeHttpServerRequest.toServerResponse(request).destroy(),
  processFamilies,
})
