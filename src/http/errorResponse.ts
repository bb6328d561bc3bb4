/** An error detail (src/effects/errorStatus.ts) as an HTTP response: the table's status and `Retry-After`, the wire body. */
import { HttpServerResponse } from "@effect/platform"
import { type ErrorDetail, translate } from "../effects/errorStatus.ts"

export const errorResponse = (detail: ErrorDetail, headers: Record<string, string> = {}) => {
  const { status, retryAfterSeconds } = translate(detail.tag)
  const retry = retryAfterSeconds === undefined ? {} : { "retry-after": String(retryAfterSeconds) }
  return HttpServerResponse.unsafeJson({ error: detail }, { status, headers: { ...retry, ...headers } })
}
