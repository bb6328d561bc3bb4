/**
 * Who a request is, from its `Authorization: Bearer …` header, and the 401 and 403 the edge answers. Node-only, as
 * all of http/: the secrets are compared as SHA-256 digests with `timingSafeEqual`, so neither the length nor the
 * content of a guess shows in the time taken, and every configured token is compared, so neither does which one
 * matched.
 */
import { createHash, timingSafeEqual } from "node:crypto"
import { anonymousActor } from "../domain/Actor.ts"
import { edgeError } from "../effects/errorStatus.ts"
import { type EdgeRequest, header } from "./crossSite.ts"
import { errorResponse } from "./errorResponse.ts"
import { type Role, roleAllows, type Token } from "./tokens.ts"

export interface Identity {
  readonly name: string
  readonly role: Role
}

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

const bearer = /^Bearer\s+(.+)$/i

/** Identifies requests against the configured tokens; with none configured, everyone is an anonymous admin. */
export interface Authenticator {
  /** Whether a token is required at all. */
  readonly required: boolean
  /** The request's identity, or `undefined` when it carries no configured token. */
  readonly identify: (request: EdgeRequest) => Identity | undefined
}

/** Without tokens (a loopback bind) every request may do everything, and its writes name `(anonymous)`. */
const anonymous: Identity = { name: anonymousActor, role: "admin" }

export const makeAuthenticator = (tokens: ReadonlyArray<Token>): Authenticator => {
  if (tokens.length === 0) return { required: false, identify: () => anonymous }
  const known = tokens.map((token) => ({
    identity: { name: token.name, role: token.role },
    digest: digest(token.secret),
  }))
  return {
    required: true,
    identify: (request) => {
      const given = bearer.exec(header(request, "authorization") ?? "")?.[1]
      if (given === undefined) return undefined
      const presented = digest(given.trim())
      let found: Identity | undefined
      for (const candidate of known) if (timingSafeEqual(presented, candidate.digest)) found = candidate.identity
      return found
    },
  }
}

/** Whether `identity` may call a route that requires `required`. */
export const permits = (identity: Identity, required: Role): boolean => roleAllows(identity.role, required)

export const unauthorized = () =>
  errorResponse(edgeError("Unauthorized", "a valid Authorization: Bearer <token> header is required"), {
    "www-authenticate": 'Bearer realm="model-registry"',
  })

export const forbidden = (identity: Identity, required: Role) =>
  errorResponse(
    edgeError("Forbidden", `token "${identity.name}" has role ${identity.role}; this needs ${required}`, {
      required,
      role: identity.role,
    }),
  )
