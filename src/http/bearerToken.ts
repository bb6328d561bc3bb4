/**
 * Who a request is, from its `Authorization: Bearer …` header, and the 401 and 403 the edge answers. The secrets
 * are compared as SHA-256 digests, every byte of each, so neither the length nor the content of a guess shows in
 * the time taken, and every configured token is compared, so neither does which one matched. Runtime-neutral (the
 * web handler runs it on Deno and workerd): the digest is noble's, since WebCrypto's is asynchronous and the edge
 * decides synchronously.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { anonymousActor } from "../domain/Actor.ts"
import { edgeError } from "../effects/errorStatus.ts"
import { type EdgeRequest, header } from "./crossSite.ts"
import { errorResponse } from "./errorResponse.ts"
import { type Role, roleAllows, type Token } from "./tokens.ts"

export interface Identity {
  readonly name: string
  readonly role: Role
}

const utf8 = new TextEncoder()

const digest = (text: string): Uint8Array => sha256(utf8.encode(text))

/**
 * Whether two digests are equal, looking at every byte whatever differs: no runtime-neutral `timingSafeEqual`
 * exists, and the digests have one length, so the loop is the whole of it.
 */
const sameDigest = (a: Uint8Array, b: Uint8Array): boolean => {
  let difference = 0
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!
  return difference === 0
}

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
      for (const candidate of known) if (sameDigest(presented, candidate.digest)) found = candidate.identity
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
