/**
 * What a web page the user visits can do to a server on their machine, refused at the edge. A browser sends any
 * site's requests to 127.0.0.1 (a form post, a `fetch` with a "simple" content type) and, after DNS rebinding,
 * reads the answers under the attacker's own host name. So: on a loopback bind only loopback host names (and
 * configured ones) are served; a request whose `Origin` is neither the server's own nor configured is refused; a
 * POST must declare `application/json`, which no page can send cross-origin without a preflight, and the preflight
 * is answered only for configured origins.
 */

import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Either } from "effect"
import { InvalidInput } from "../domain/errors.ts"
import { edgeError } from "../effects/errorStatus.ts"
import { jsonBodyMethods } from "./Api.ts"
import { errorResponse } from "./errorResponse.ts"

export interface CrossSiteRules {
  /** Host names (no port, lowercase) served; `undefined` serves any. */
  readonly hosts: ReadonlySet<string> | undefined
  /** Origins (`scheme://host[:port]`, lowercase) besides the server's own that may call it from a browser. */
  readonly origins: ReadonlySet<string>
}

/**
 * What the edge's checks read of a request: the platform's request and Node's both fit, so the server's fast lane
 * (src/http/fastLane.ts) runs the same checks on Node's request without wrapping it.
 */
export interface EdgeRequest {
  readonly method?: string | undefined
  readonly url?: string | undefined
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
}

/** A header the edge reads: each is single-valued (Node keeps the first of a repeated one), so never an array. */
export const header = (request: EdgeRequest, name: string): string | undefined => {
  const value = request.headers[name]
  return typeof value === "string" ? value : undefined
}

const loopbackHosts = ["127.0.0.1", "localhost", "[::1]"]

/**
 * The rules for a bind address. On a loopback bind only loopback names are served unless more are configured; a
 * non-loopback bind requires a token, which a rebinding page does not have, so its host check is off unless
 * hosts are configured (a proxy's public name, say).
 */
export const crossSiteRules = (
  loopbackBind: boolean,
  allowHosts: ReadonlyArray<string>,
  allowOrigins: ReadonlyArray<string>,
): CrossSiteRules => ({
  hosts:
    loopbackBind || allowHosts.length > 0
      ? new Set([...loopbackHosts, ...allowHosts.map((host) => host.toLowerCase())])
      : undefined,
  origins: new Set(allowOrigins),
})

/** An `--allow-origin` value as the browser would send it in `Origin`, or why it cannot be one. */
export const parseOrigin = (value: string): Either.Either<string, InvalidInput> => {
  const refused = new InvalidInput({
    field: "allowOrigin",
    message: `allowOrigin: ${value} is not an origin (http[s]://host[:port], no path)`,
  })
  if (!URL.canParse(value)) return Either.left(refused)
  const url = new URL(value)
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !/^[a-z]+:\/\/[^/?#]+\/?$/i.test(value))
    return Either.left(refused)
  return Either.right(url.origin)
}

/** An `--allow-host` value: a bare host name or address, matched without the port. */
export const parseHost = (value: string): Either.Either<string, InvalidInput> =>
  /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)$/i.test(value)
    ? Either.right(value.toLowerCase())
    : Either.left(
        new InvalidInput({
          field: "allowHost",
          message: `allowHost: ${value} is not a host name (no port, no scheme)`,
        }),
      )

/** The `Host` header without its port. */
const hostName = (host: string): string => {
  if (host.startsWith("[")) {
    const end = host.indexOf("]")
    return end === -1 ? host : host.slice(0, end + 1)
  }
  const colon = host.indexOf(":")
  return colon === -1 ? host : host.slice(0, colon)
}

const corsHeaders = (origin: string) => ({
  "access-control-allow-origin": origin,
  "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE",
  "access-control-allow-headers": "authorization, content-type, last-event-id",
  "access-control-max-age": "600",
  vary: "Origin",
})

/** `application/json` or an `application/…+json` type, parameters allowed. */
export const isJson = (contentType: string | undefined) =>
  contentType !== undefined && /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(contentType.trim())

/**
 * The answer that refuses a request or ends a preflight; otherwise the configured origin a passing request came
 * from (its answer carries the CORS header so that its page can read it), or `undefined` for a same-origin or
 * non-browser one.
 */
export const crossSiteCheck = (
  rules: CrossSiteRules,
  request: EdgeRequest,
): HttpServerResponse.HttpServerResponse | string | undefined => {
  const host = header(request, "host")
  if (rules.hosts !== undefined && (host === undefined || !rules.hosts.has(hostName(host).toLowerCase())))
    return errorResponse(
      edgeError("MisdirectedRequest", `host: ${host ?? "(none)"} is not a name this server answers to`, {
        host: host ?? null,
      }),
    )
  const origin = header(request, "origin")
  let allowed: string | undefined
  if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) {
    if (!rules.origins.has(origin.toLowerCase()))
      return errorResponse(
        edgeError("CrossOrigin", `origin: ${origin} may not call this server (see --allow-origin)`, { origin }),
      )
    allowed = origin
  }
  if (request.method === "OPTIONS" && origin !== undefined)
    return HttpServerResponse.empty({ status: 204, headers: corsHeaders(origin) })
  return allowed
}

/**
 * The 415 for a write (`jsonBodyMethods`) that does not declare JSON (a form post or a "simple" `fetch`; a PUT or
 * PATCH cannot be sent cross-origin without a preflight, but its body is JSON all the same), `undefined` otherwise.
 */
export const notJsonWrite = (request: EdgeRequest) =>
  jsonBodyMethods.has(request.method ?? "") && !isJson(header(request, "content-type"))
    ? errorResponse(
        edgeError("UnsupportedMediaType", "content-type: must be application/json", {
          contentType: header(request, "content-type") ?? null,
        }),
      )
    : undefined

/** The CORS headers a configured origin's answer carries, so its page can read it. */
export const withAllowedOrigin = (response: HttpServerResponse.HttpServerResponse, origin: string) =>
  HttpServerResponse.setHeaders(response, { "access-control-allow-origin": origin, vary: "Origin" })
