/**
 * Answers the requests that arrive between the port being bound and the API's handler being attached. The
 * platform listens when its server layer is built and attaches the handler only when the app is served, and Node
 * answers nothing for a request no `request` listener sees: a probe or client that connected in that window hung
 * until its own timeout. Until a second listener (the platform's) is attached, this one answers 503 with
 * `Retry-After`; from then on it steps aside. A request is emitted once, to the listeners attached at that
 * moment, so no request is answered twice or by nobody. Install it last among the server's own listeners: any
 * listener added after it counts as the handler.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import { RegistryClosed } from "../domain/errors.ts"
import { detailOf, translate } from "../effects/errorStatus.ts"

export const answerUntilReady = (server: Server): Server => {
  const detail = { ...detailOf(new RegistryClosed()), message: "the server is starting; retry shortly" }
  const { status, retryAfterSeconds } = translate(detail.tag)
  const body = JSON.stringify({ error: detail })
  const ours = server.listenerCount("request") + 1
  const notReady = (_request: IncomingMessage, response: ServerResponse) => {
    if (server.listenerCount("request") > ours) return server.off("request", notReady)
    response.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "retry-after": String(retryAfterSeconds ?? 1),
      connection: "close",
    })
    response.end(body)
  }
  server.on("request", notReady)
  return server
}
