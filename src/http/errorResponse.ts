/** An error detail (src/effects/errorStatus.ts) as an HTTP response: the table's status and `Retry-After`, the wire body. */
import { HttpServerResponse } from "@effect/platform"
import { type ErrorDetail, retryAfterSeconds, translate } from "../effects/errorStatus.ts"

export const errorResponse = (detail: ErrorDetail, headers: Record<string, string> = {}) => {
  const { status } = translate(detail.tag)
  const retryAfter = retryAfterSeconds(status)
  return HttpServerResponse.unsafeJson(
    { error: detail },
    { status, headers: retryAfter === undefined ? headers : { "retry-after": String(retryAfter), ...headers } },
  )
}
