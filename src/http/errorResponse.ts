/** An error detail (src/effects/errorStatus.ts) as an HTTP response: the table's status, the wire body. */
import { HttpServerResponse } from "@effect/platform"
import { type ErrorDetail, translate } from "../effects/errorStatus.ts"

export const errorResponse = (detail: ErrorDetail, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson({ error: detail }, { status: translate(detail.tag).status, headers })
