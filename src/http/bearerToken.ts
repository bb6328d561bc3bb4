/** The bearer-token check every request passes when a token is configured, and the 401 it answers otherwise. */
import { edgeError } from "../effects/errorStatus.ts"
import { type EdgeRequest, header } from "./crossSite.ts"
import { errorResponse } from "./errorResponse.ts"

const utf8 = new TextEncoder()

/**
 * Compares without an early exit, so the time taken does not reveal how much of a guess was right. The
 * length of the expected token is not secret-bearing enough to hide (it is fixed by configuration).
 */
const constantTimeEqual = (given: string, expected: string): boolean => {
  const a = utf8.encode(given)
  const b = utf8.encode(expected)
  let difference = a.length ^ b.length
  for (let i = 0; i < b.length; i++) difference |= (a[i % Math.max(a.length, 1)] ?? 0) ^ b[i]!
  return difference === 0
}

const bearer = /^Bearer\s+(.+)$/i

/** Whether the request's `Authorization: Bearer …` header carries `token`. */
export const bearerMatches = (request: EdgeRequest, token: string): boolean => {
  const given = bearer.exec(header(request, "authorization") ?? "")?.[1]
  return given !== undefined && constantTimeEqual(given.trim(), token)
}

export const unauthorized = () =>
  errorResponse(edgeError("Unauthorized", "a valid Authorization: Bearer <token> header is required"), {
    "www-authenticate": 'Bearer realm="model-registry"',
  })
