/**
 * The edge every request passes before it is routed, and the API behind it, the same on every runtime: host and
 * origin checks, token and role, body limit, JSON on every POST, PUT and PATCH, request metrics, the error body for
 * anything the router itself rejects; then the routes, OpenAPI and Swagger UI. The Node server (src/http/Server.ts)
 * and the web handler (src/http/webHandler.ts) each put it behind their own listener.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiSwagger from "@effect/platform/HttpApiSwagger"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Either, Layer, Option } from "effect"
import { anonymousActor } from "../domain/Actor.ts"
import { InvalidInput, RegistryClosed } from "../domain/errors.ts"
import { detailOf, edgeError } from "../effects/errorStatus.ts"
import { declaredMethods, RegistryApi, requiredRole } from "./Api.ts"
import { type Authenticator, forbidden, type Identity, permits, unauthorized } from "./bearerToken.ts"
import { declaresTooLarge, payloadTooLarge } from "./bodyLimit.ts"
import {
  type CrossSiteRules,
  crossSiteCheck,
  crossSiteRules,
  type EdgeRequest,
  notJsonWrite,
  parseHost,
  parseOrigin,
  withAllowedOrigin,
} from "./crossSite.ts"
import { errorResponse, internalError } from "./errorResponse.ts"
import { EventsLive, LifecycleLive, ModelsLive, OpsLive, RequestActor } from "./handlers.ts"
import { startRequest } from "./requestMetrics.ts"
import { defaultPublicRoutes, type PublicRoute } from "./serverDefaults.ts"
import { checkTokens, legacyTokenName, makeToken, type Role, type Token } from "./tokens.ts"

/** What the edge is configured with, on every runtime. */
export interface EdgeOptions {
  /**
   * The single-secret form of earlier releases: an admin token named `default`. With `tokens`, one of the two is
   * required wherever the registry is reachable beyond this machine.
   */
  readonly token: Option.Option<string>
  /** Named tokens and their roles (src/http/tokens.ts); each token's name is the actor of the events it writes. */
  readonly tokens?: ReadonlyArray<Token>
  readonly bodyBytesMax: number
  /** Origins (`http[s]://host[:port]`) whose pages may call the server besides its own; none by default. */
  readonly allowOrigins?: ReadonlyArray<string>
  /** Host names served besides the loopback ones; where the registry is reachable beyond this machine, giving any turns the host check on. */
  readonly allowHosts?: ReadonlyArray<string>
  /**
   * What a token does not guard: `healthz` (an orchestrator's probe has no token), `docs` (`/docs` and
   * `/openapi.json`, which a browser opens without one) and `metrics`. `defaultPublicRoutes` if not given.
   */
  readonly publicRoutes?: ReadonlyArray<PublicRoute>
}

const routeOfPath = (path: string): PublicRoute | undefined =>
  path === "/healthz"
    ? "healthz"
    : path === "/metrics"
      ? "metrics"
      : path === docsPaths.swagger ||
          path.startsWith(`${docsPaths.swagger}/`) ||
          path === docsPaths.openApi ||
          isPagePath(path)
        ? "docs"
        : undefined

/**
 * What a browser opens before it has a token: `/`, which sends it to the web UI, and the UI's static files, which
 * hold no data (the app then calls the API with the token its login form took).
 */
const isPagePath = (path: string): boolean => path === "/" || path === "/ui" || path.startsWith("/ui/")

export const bodyBytesMaxLimit = 64 * 1024 * 1024

/** Every token the options configure: the single-secret `token` as the admin `default`, then `tokens`. */
export const configuredTokens = (options: EdgeOptions): Either.Either<ReadonlyArray<Token>, InvalidInput> => {
  const token = Option.getOrUndefined(options.token)
  if (token !== undefined && token.length === 0)
    return Either.left(new InvalidInput({ field: "token", message: "token: must not be empty" }))
  const legacy = token === undefined ? [] : [makeToken("token", legacyTokenName, "admin", token)]
  const given = Either.all([
    ...legacy,
    ...(options.tokens ?? []).map((t) => makeToken("token", t.name, t.role, t.secret)),
  ])
  return Either.flatMap(given, checkTokens)
}

/**
 * Refuses tokens, origins, host names or a body limit the edge cannot serve, and normalizes origins and host names.
 * Whether a token is required depends on where the registry is reachable, which each listener judges.
 */
export const validateEdgeOptions = <O extends EdgeOptions>(
  options: O,
): Either.Either<
  O & {
    readonly tokenCount: number
    readonly allowOrigins: ReadonlyArray<string>
    readonly allowHosts: ReadonlyArray<string>
  },
  InvalidInput
> => {
  const tokens = configuredTokens(options)
  if (Either.isLeft(tokens)) return Either.left(tokens.left)
  const allowOrigins: Array<string> = []
  for (const origin of options.allowOrigins ?? []) {
    const parsed = parseOrigin(origin)
    if (Either.isLeft(parsed)) return Either.left(parsed.left)
    allowOrigins.push(parsed.right)
  }
  const allowHosts: Array<string> = []
  for (const host of options.allowHosts ?? []) {
    const parsed = parseHost(host)
    if (Either.isLeft(parsed)) return Either.left(parsed.left)
    allowHosts.push(parsed.right)
  }
  if (!Number.isInteger(options.bodyBytesMax) || options.bodyBytesMax < 1 || options.bodyBytesMax > bodyBytesMaxLimit)
    return Either.left(
      new InvalidInput({
        field: "bodyBytesMax",
        message: `bodyBytesMax: must be an integer from 1 to ${bodyBytesMaxLimit}`,
      }),
    )
  return Either.right({ ...options, allowOrigins, allowHosts, tokenCount: tokens.right.length })
}

/** A request that arrived after shutdown began: not started, so the client may send it again elsewhere or later. */
const shuttingDown = () => errorResponse(detailOf(new RegistryClosed()))

/** The host and origin rules: `loopbackOnly` when the listener is reachable from this machine alone. */
export const rulesOf = (loopbackOnly: boolean, options: EdgeOptions): CrossSiteRules =>
  crossSiteRules(loopbackOnly, options.allowHosts ?? [], options.allowOrigins ?? [])

/**
 * The edge as the API's middleware. `arrivedLate` tells a request that came after shutdown began (the Node server
 * drains; a web runtime stops routing to a handler it disposes).
 */
export const edge = (
  options: EdgeOptions,
  rules: CrossSiteRules,
  auth: Authenticator,
  arrivedLate: (request: HttpServerRequest.HttpServerRequest) => boolean = () => false,
) => {
  return <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const record = yield* startRequest
      if (arrivedLate(request)) {
        const refused = shuttingDown()
        yield* record(refused)
        return refused
      }
      const checked = crossSiteCheck(rules, request)
      if (typeof checked === "string")
        // A route's answer is sent before the edge sees it, so its header goes on through the pre-response hook;
        // the edge's own refusals are sent as the edge returns them, so they get it below.
        yield* HttpApp.appendPreResponseHandler((_, response) => Effect.succeed(withAllowedOrigin(response, checked)))
      const response =
        typeof checked === "object"
          ? checked
          : checked === undefined
            ? yield* guarded(options, auth, app, request)
            : withAllowedOrigin(yield* guarded(options, auth, app, request), checked)
      yield* record(response)
      return response
    })
}

/**
 * What the edge answers instead of routing a request that passed the host and origin checks (a missing token, a
 * token whose role is below the route's, a declared body over the limit, a write not declared JSON, a path the
 * router cannot decode), or, when it lets the request through, who it is (the actor its writes record, and its role). Pure, so the fast lane
 * asks it too and leaves a refused request to this edge.
 */
export const admission = (
  options: EdgeOptions,
  auth: Authenticator,
  request: EdgeRequest,
): HttpServerResponse.HttpServerResponse | Identity => {
  const url = request.url ?? "/"
  let identity = auth.identify(request)
  const path = url.split(/[?;#]/, 1)[0]!
  if (identity === undefined) {
    const route = request.method === "GET" ? routeOfPath(path) : undefined
    if (route === undefined || !(options.publicRoutes ?? defaultPublicRoutes).includes(route)) return unauthorized()
    identity = publicVisitor
  } else {
    // An admin may call every route, so only the other roles pay for finding the route's (every request of a
    // server without tokens is an anonymous admin).
    if (identity.role !== "admin") {
      const required = roleFor(request.method ?? "GET", path)
      if (!permits(identity, required)) return forbidden(identity, required)
    }
  }
  if (declaresTooLarge(request, options.bodyBytesMax)) return payloadTooLarge(options.bodyBytesMax)
  const notJson = notJsonWrite(request)
  if (notJson !== undefined) return notJson
  if (!decodablePath(url))
    return errorResponse(edgeError("InvalidInput", "path: must be valid percent-encoded UTF-8", { field: "path" }))
  return identity
}

/** Who a request without a token is on a public route (a probe, the docs, the UI's pages): it reads, unnamed. */
const publicVisitor: Identity = { name: anonymousActor, role: "reader" }

/** Whether `admission` let the request through. */
export const admitted = (answer: HttpServerResponse.HttpServerResponse | Identity): answer is Identity =>
  "role" in answer

/**
 * The role a request needs, judged on the path as the router will route it (split at "?", ";" or "#", then
 * `decodeURI`), so `promote;x` or `pr%6Fmote` needs what `promote` does. A path no route declares needs an admin's
 * (the docs a reader's): should the router ever route a path this matching misses, it fails closed.
 */
const roleFor = (method: string, path: string): Role => {
  let routed = path
  try {
    routed = decodeURI(path)
  } catch {
    // Refused as InvalidInput after this check, since the router could not decode it either.
  }
  return requiredRole(method, routed) ?? (routeOfPath(path) === "docs" ? "reader" : "admin")
}

const guarded = <E, R>(
  options: EdgeOptions,
  auth: Authenticator,
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  request: HttpServerRequest.HttpServerRequest,
) => {
  const answer = admission(options, auth, request)
  if (!admitted(answer)) return Effect.succeed(answer)
  // Failures were already answered inside `app` (handlers render their own errors, the fallback route
  // answers unknown paths); what is left here is logged so that metrics and logs see it.
  return app.pipe(
    Effect.provideService(RequestActor, answer),
    // The register handler counts a chunked body's bytes itself and answers 413; the platform's own limit would instead
    // destroy the socket mid-request, which a client sees as a reset rather than an answer.
    HttpServerRequest.withMaxBodySize(Option.none()),
    Effect.catchAllCause((cause) => Effect.logError("unexpected failure", cause).pipe(Effect.as(internalError()))),
  )
}

/**
 * Whether the router can decode the path: it splits off the query at the first "?", ";" or "#" and decodes the
 * rest with `decodeURI`, and a path it cannot decode matches no route, not even the fallback, so the platform would
 * answer an empty 404 before the edge could render the error body. The edge asks first, with the router's rule.
 */
const decodablePath = (url: string): boolean => {
  const path = url.split(/[?;#]/, 1)[0]!
  if (!path.includes("%")) return true
  try {
    decodeURI(path)
    return true
  } catch {
    return false
  }
}

/**
 * The router refuses (with an empty 404) any path parameter longer than its `maxParamLength`, 100 by default,
 * below the domain's limits on names and versions. Lifting it leaves the length rules to the domain's decoders, so
 * every route accepts exactly what the registry does and answers anything longer with `InvalidInput`. The
 * request line stays bounded by Node's header size limit, and no route has a regex parameter to be slow on.
 */
export const routerConfig = { maxParamLength: Number.POSITIVE_INFINITY }

export const docsPaths = { openApi: "/openapi.json", swagger: "/docs" } as const

/**
 * Paths outside the API get the error body too, not the router's empty 404; a known path asked with another method
 * gets 405 and `Allow`.
 */
export const fallbackRoute = HttpApiBuilder.Router.use((router) =>
  router.all(
    "*",
    Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
      const path = request.url.split(/[?;#]/, 1)[0]!
      const allow = path === docsPaths.openApi || path === docsPaths.swagger ? ["GET"] : declaredMethods(path)
      if (allow.length === 0) return errorResponse(edgeError("RouteNotFound", `no route for ${request.method} ${path}`))
      const methods = allow.join(", ")
      const detail = edgeError("MethodNotAllowed", `${request.method} ${path}: allowed ${methods}`, { allow })
      return errorResponse(detail, { allow: methods })
    }),
  ),
)

/**
 * The API's routes, OpenAPI document, Swagger UI and fallback route, over the registry, the server's settings and
 * the runtime's host; a listener serves it behind `edge`.
 */
export const apiLayer = HttpApiSwagger.layer({ path: docsPaths.swagger }).pipe(
  Layer.merge(fallbackRoute),
  Layer.merge(HttpApiBuilder.middlewareOpenApi({ path: docsPaths.openApi })),
  Layer.provideMerge(
    HttpApiBuilder.api(RegistryApi).pipe(Layer.provide([ModelsLive, EventsLive, LifecycleLive, OpsLive])),
  ),
)
