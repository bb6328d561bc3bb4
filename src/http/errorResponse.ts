/** An error detail (src/effects/errorStatus.ts) as an HTTP response: the table's status and `Retry-After`, the wire body. */
import type { Cause } from "effect"
import { detailOf, type ErrorDetail, translate } from "../effects/errorStatus.ts"
import { jsonResponse } from "./jsonResponse.ts"

export const errorResponse = (detail: ErrorDetail, headers: Record<string, string> = {}) => {
  const { status, retryAfterSeconds } = translate(detail.tag)
  const retry = retryAfterSeconds === undefined ? {} : { "retry-after": String(retryAfterSeconds) }
  return jsonResponse({ error: detail }, { status, headers: { ...retry, ...headers } })
}

/** The answer to a failed handler: its typed error's, or `Internal` for a defect or an interruption. */
export const failureResponse = (cause: Cause.Cause<unknown>) =>
  errorResponse(detailOf(cause._tag === "Fail" ? cause.error : undefined))

/** The answer to what no handler answered: a bug, told as `Internal` and nothing more. */
export const internalError = () => errorResponse(detailOf(undefined))
