/**
 * The HTTP server: the API's handlers behind one edge middleware (host and origin checks, token, body limit, JSON
 * on every POST, PUT and PATCH, request metrics, and the error body for anything the router itself rejects), on Node's http
 * server. Safe defaults: loopback only unless a token is set, loopback host names only and no foreign origins
 * unless configured, 1 MiB bodies, and a shutdown bounded by the drain time (src/http/drain.ts) that answers every
 * request it took before the registry closes.
 */
import { createServer, type IncomingMessage, type Server as NodeServer, type ServerResponse } from "node:http"
import {
  HttpApiBuilder,
  HttpApiSwagger,
  HttpApp,
  HttpRouter,
  HttpServer,
  HttpServerRequest,
  type HttpServerResponse,
} from "@effect/platform"
import { NodeHttpServer, NodeHttpServerRequest } from "@effect/platform-node"
import { Deferred, Effect, Either, Layer, Option } from "effect"
import { anonymousActor } from "../domain/Actor.ts"
import { InvalidInput, RegistryClosed } from "../domain/errors.ts"
import { detailOf, edgeError } from "../effects/errorStatus.ts"
import { declaredMethods, RegistryApi, requiredRole } from "./Api.ts"
import { type Authenticator, forbidden, makeAuthenticator, permits, unauthorized } from "./bearerToken.ts"
import { declaresTooLarge, payloadTooLarge } from "./bodyLimit.ts"
import {
  crossSiteCheck,
  crossSiteRules,
  type EdgeRequest,
  notJsonWrite,
  parseHost,
  parseOrigin,
  withAllowedOrigin,
} from "./crossSite.ts"
import { Drain } from "./drain.ts"
import { errorResponse, internalError } from "./errorResponse.ts"
import * as FastLane from "./fastLane.ts"
import {
  EventsLive,
  HotAnswersLive,
  LifecycleLive,
  ModelsLive,
  OpsLive,
  RequestActor,
  ServerSettings,
} from "./handlers.ts"
import { startRequest } from "./requestMetrics.ts"
import {
  defaultBodyBytesMax,
  defaultDrainMs,
  defaultKeepAliveMs,
  defaultPublicRoutes,
  type PublicRoute,
} from "./serverDefaults.ts"
import { answerUntilReady } from "./startGate.ts"
import { checkTokens, legacyTokenName, makeToken, type Role, type Token } from "./tokens.ts"

export interface ServerOptions {
  readonly host: string
  /** 0 picks a free port; read the bound one from `HttpServer.HttpServer`'s address. */
  readonly port: number
  /**
   * The single-secret form of earlier releases: an admin token named `default`. With `tokens`, one of the two is
   * required unless `host` is a loopback address.
   */
  readonly token: Option.Option<string>
  /** Named tokens and their roles (src/http/tokens.ts); each token's name is the actor of the events it writes. */
  readonly tokens?: ReadonlyArray<Token>
  readonly bodyBytesMax: number
  /** Interval of SSE keep-alive comments, so proxies do not drop idle streams. */
  readonly keepAliveMs: number
  /** Origins (`http[s]://host[:port]`) whose pages may call the server besides its own; none by default. */
  readonly allowOrigins?: ReadonlyArray<string>
  /** Host names served besides the loopback ones; on a non-loopback bind, giving any turns the host check on. */
  readonly allowHosts?: ReadonlyArray<string>
  /**
   * How long a stopping server lets requests in flight finish before it destroys the sockets left;
   * `defaultDrainMs` if not given.
   */
  readonly drainMs?: number
  /**
   * What a token does not guard: `healthz` (an orchestrator's probe has no token), `docs` (`/docs` and
   * `/openapi.json`, which a browser opens without one) and `metrics`. `defaultPublicRoutes` if not given.
   */
  readonly publicRoutes?: ReadonlyArray<PublicRoute>
  /**
   * Whether the JSON routes (the models group's and `/healthz`) skip the platform's per-request fiber and span
   * (src/http/fastLane.ts); on by default. Turn it off to have an `http.server` span for every request.
   */
  readonly fastLane?: boolean
}

const routeOfPath = (path: string): PublicRoute | undefined =>
  path === "/healthz"
    ? "healthz"
    : path === "/metrics"
      ? "metrics"
      : path === docsPaths.swagger || path.startsWith(`${docsPaths.swagger}/`) || path === docsPaths.openApi
        ? "docs"
        : undefined

const bodyBytesMaxLimit = 64 * 1024 * 1024
const drainMsLimit = 10 * 60 * 1000

const loopback = new Set(["127.0.0.1", "::1", "localhost"])

/** Every token the options configure: the single-secret `token` as the admin `default`, then `tokens`. */
const configuredTokens = (options: ServerOptions): Either.Either<ReadonlyArray<Token>, InvalidInput> => {
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

/** Refuses configurations that would expose an unauthenticated registry, or limits out of range. */
export const validateOptions = (options: ServerOptions): Either.Either<ServerOptions, InvalidInput> => {
  const tokens = configuredTokens(options)
  if (Either.isLeft(tokens)) return Either.left(tokens.left)
  if (!loopback.has(options.host) && tokens.right.length === 0)
    return Either.left(
      new InvalidInput({
        field: "host",
        message: `host: binding to ${options.host} exposes the registry beyond this machine; set --token (or MODEL_REGISTRY_TOKEN)`,
      }),
    )
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
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535)
    return Either.left(new InvalidInput({ field: "port", message: "port: must be an integer from 0 to 65535" }))
  if (!Number.isInteger(options.bodyBytesMax) || options.bodyBytesMax < 1 || options.bodyBytesMax > bodyBytesMaxLimit)
    return Either.left(
      new InvalidInput({
        field: "bodyBytesMax",
        message: `bodyBytesMax: must be an integer from 1 to ${bodyBytesMaxLimit}`,
      }),
    )
  const drainMs = options.drainMs ?? defaultDrainMs
  if (!Number.isInteger(drainMs) || drainMs < 0 || drainMs > drainMsLimit)
    return Either.left(
      new InvalidInput({ field: "drainMs", message: `drainMs: must be an integer from 0 to ${drainMsLimit}` }),
    )
  return Either.right({ ...options, allowOrigins, allowHosts, drainMs })
}

/** A request that arrived after shutdown began: not started, so the client may send it again elsewhere or later. */
const shuttingDown = () => errorResponse(detailOf(new RegistryClosed()))

const rulesOf = (options: ServerOptions) =>
  crossSiteRules(loopback.has(options.host), options.allowHosts ?? [], options.allowOrigins ?? [])

const edge = (options: ServerOptions, drain: Drain, auth: Authenticator) => {
  const rules = rulesOf(options)
  return <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const record = yield* startRequest
      if (drain.arrivedLate(NodeHttpServerRequest.toIncomingMessage(request))) {
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
 * router cannot decode), or, when it lets the request through, the actor its writes record. Pure, so the fast lane
 * asks it too and leaves a refused request to this edge.
 */
const admission = (
  options: ServerOptions,
  auth: Authenticator,
  request: EdgeRequest,
): HttpServerResponse.HttpServerResponse | string => {
  const url = request.url ?? "/"
  const identity = auth.identify(request)
  const path = url.split(/[?;#]/, 1)[0]!
  let actor: string
  if (identity === undefined) {
    const route = request.method === "GET" ? routeOfPath(path) : undefined
    if (route === undefined || !(options.publicRoutes ?? defaultPublicRoutes).includes(route)) return unauthorized()
    actor = anonymousActor
  } else {
    // An admin may call every route, so only the other roles pay for finding the route's (every request of a
    // server without tokens is an anonymous admin).
    if (identity.role !== "admin") {
      const required = roleFor(request.method ?? "GET", path)
      if (!permits(identity, required)) return forbidden(identity, required)
    }
    actor = identity.name
  }
  if (declaresTooLarge(request, options.bodyBytesMax)) return payloadTooLarge(options.bodyBytesMax)
  const notJson = notJsonWrite(request)
  if (notJson !== undefined) return notJson
  if (!decodablePath(url))
    return errorResponse(edgeError("InvalidInput", "path: must be valid percent-encoded UTF-8", { field: "path" }))
  return actor
}

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
  options: ServerOptions,
  auth: Authenticator,
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  request: HttpServerRequest.HttpServerRequest,
) => {
  const admitted = admission(options, auth, request)
  if (typeof admitted !== "string") return Effect.succeed(admitted)
  // Failures were already answered inside `app` (handlers render their own errors, the fallback route
  // answers unknown paths); what is left here is logged so that metrics and logs see it.
  return app.pipe(
    Effect.provideService(RequestActor, admitted),
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
const routerConfig = { maxParamLength: Number.POSITIVE_INFINITY }

const docsPaths = { openApi: "/openapi.json", swagger: "/docs" } as const

/**
 * Paths outside the API get the error body too, not the router's empty 404; a known path asked with another method
 * gets 405 and `Allow`.
 */
const fallbackRoute = HttpApiBuilder.Router.use((router) =>
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
 * Node's server, answering the JSON routes through the fast lane (src/http/fastLane.ts) and every other request
 * through the platform's handler for the app it is given. It is the platform's own server (listening, address,
 * closing) with the request listener swapped: the platform would attach its handler to every request.
 */
const nodeServer = (options: ServerOptions, drain: Drain, auth: Authenticator) =>
  Layer.scoped(
    HttpServer.HttpServer,
    Effect.gen(function* () {
      const fastLane =
        options.fastLane === false
          ? undefined
          : FastLane.make(yield* HotAnswersLive, {
              rules: rulesOf(options),
              admission: (request) => admission(options, auth, request),
              arrivedLate: drain.arrivedLate,
            })
      let node: NodeServer | undefined
      const platform = yield* NodeHttpServer.make(
        () => {
          node = answerUntilReady(drain.track(createServer()))
          return node
        },
        { host: options.host, port: options.port },
      )
      return HttpServer.make({
        address: platform.address,
        serve: (app, middleware) =>
          Effect.gen(function* () {
            const handler = yield* middleware === undefined
              ? NodeHttpServer.makeHandler(app)
              : NodeHttpServer.makeHandler(app, middleware)
            const server = node!
            const dispatch =
              fastLane === undefined
                ? handler
                : (request: IncomingMessage, response: ServerResponse) => {
                    if (!fastLane(request, response)) handler(request, response)
                  }
            yield* Effect.addFinalizer(() => Effect.sync(() => server.off("request", dispatch)))
            server.on("request", dispatch)
          }),
      })
    }),
  ).pipe(Layer.merge(NodeHttpServer.layerContext))

/**
 * The server as a layer over `ModelRegistry` and `ServerSettings`. It exposes `HttpServer.HttpServer`, so
 * the caller can read the bound address. Closing it drains (src/http/drain.ts): its finalizer runs before the
 * platform's, which would stop handling requests and then wait for every socket without bound.
 */
export const layer = (options: ServerOptions) =>
  Layer.unwrapEffect(
    Effect.sync(() => {
      const drain = new Drain()
      // Unchecked options are checked here too: a token the server cannot hold must not leave it open.
      const auth = makeAuthenticator(Either.getOrThrow(configuredTokens(options)))
      const serve = HttpApiBuilder.serve(edge(options, drain, auth)).pipe(
        Layer.locally(HttpRouter.currentRouterConfig, routerConfig),
        Layer.provide(HttpApiSwagger.layer({ path: docsPaths.swagger })),
        Layer.provide(fallbackRoute),
        Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: docsPaths.openApi })),
        Layer.provide(
          HttpApiBuilder.api(RegistryApi).pipe(Layer.provide([ModelsLive, EventsLive, LifecycleLive, OpsLive])),
        ),
        Layer.provideMerge(nodeServer(options, drain, auth)),
      )
      const drainOnClose = Effect.flatMap(ServerSettings, (settings) =>
        Effect.addFinalizer(() =>
          drain.run(options.drainMs ?? defaultDrainMs, Deferred.succeed(settings.stopping, undefined)),
        ),
      )
      return Layer.scopedDiscard(drainOnClose).pipe(Layer.provideMerge(serve))
    }),
  )

export const addressOf = (address: HttpServer.Address): string =>
  address._tag === "TcpAddress"
    ? `http://${address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname}:${address.port}`
    : `unix:${address.path}`

export {
  defaultBodyBytesMax,
  defaultDrainMs,
  defaultKeepAliveMs,
  defaultPublicRoutes,
  type PublicRoute,
  ServerSettings,
}
