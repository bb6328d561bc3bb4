/**
 * What the API's handlers need from the runtime that carries a request: its body read under the limit, the
 * connection of an event stream the feed cut closed, and the process's own metrics. The Node server reads its
 * `IncomingMessage` directly (src/http/nodeHost.ts); the web handler reads a fetch `Request`'s body stream
 * (src/http/webHost.ts). Everything else the handlers do is the same code on every runtime.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Context, type Either } from "effect"
import type { Family } from "./prometheus.ts"

export interface HttpHost {
  /**
   * Reads the body as UTF-8 text and calls `done` once, with the text or with the answer that refuses it: 413 past
   * `limitBytes` for a body without a declared length (the edge refused a declared one over it), `InvalidInput` for
   * bytes that are not UTF-8 or an aborted request.
   */
  readonly body: (
    request: HttpServerRequest.HttpServerRequest,
    limitBytes: number,
    done: (text: Either.Either<string, HttpServerResponse.HttpServerResponse>) => void,
  ) => void
  /**
   * Closes the connection of an event stream the feed cut for lagging: its client may be reading nothing, so ending
   * the stream alone would leave its queued bytes held until the client goes.
   */
  readonly cut: (request: HttpServerRequest.HttpServerRequest) => void
  /** The process's CPU, memory and descriptor families, where the runtime can read them; none elsewhere. */
  readonly processFamilies: () => ReadonlyArray<Family>
}

export const HttpHost = Context.GenericTag<HttpHost>("@visutility/model-registry/http/HttpHost")
