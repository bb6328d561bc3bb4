/**
 * The HTTP server on Node's http server: the API behind the edge (src/http/edge.ts), with the JSON routes answered
 * by the fast lane. Safe defaults: loopback only unless a token is set, loopback host names only and no foreign
 * origins unless configured, 1 MiB bodies, and a shutdown bounded by the drain time (src/http/drain.ts) that answers
 * every request it took before the registry closes.
 */
import { createServer, type IncomingMessage, type Server as NodeServer, type ServerResponse } from "node:http"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { NodeHttpServer, NodeHttpServerRequest } from "@effect/platform-node"
import { Deferred, Effect, Either, Layer, type Option } from "effect"
import { InvalidInput } from "../domain/errors.ts"
import { type Authenticator, makeAuthenticator } from "./bearerToken.ts"
import { Drain } from "./drain.ts"
import {
  admission,
  apiLayer,
  configuredTokens,
  type EdgeOptions,
  edge,
  routerConfig,
  rulesOf,
  validateEdgeOptions,
} from "./edge.ts"
import * as FastLane from "./fastLane.ts"
import { HotAnswersLive, ServerSettings } from "./handlers.ts"
import { layerNodeHost } from "./nodeHost.ts"
import {
  defaultBodyBytesMax,
  defaultDrainMs,
  defaultKeepAliveMs,
  defaultPublicRoutes,
  loopbackHosts,
  type PublicRoute,
} from "./serverDefaults.ts"
import { answerUntilReady } from "./startGate.ts"
import { defaultUiDirectory, loadUiAssets, uiPath } from "./uiAssets.ts"

export interface ServerOptions extends EdgeOptions {
  readonly host: string
  /** 0 picks a free port; read the bound one from `HttpServer.HttpServer`'s address. */
  readonly port: number
  readonly token: Option.Option<string>
  /** Interval of SSE keep-alive comments, so proxies do not drop idle streams. */
  readonly keepAliveMs: number
  /**
   * How long a stopping server lets requests in flight finish before it destroys the sockets left;
   * `defaultDrainMs` if not given.
   */
  readonly drainMs?: number
  /**
   * Whether the JSON routes (the models group's and `/healthz`) skip the platform's per-request fiber and span
   * (src/http/fastLane.ts); on by default. Turn it off to have an `http.server` span for every request.
   */
  readonly fastLane?: boolean
  /**
   * The built web UI (dist/ui), served at `/ui/` with `/` sending browsers there; `defaultUiDirectory()` if not
   * given, `null` for none.
   */
  readonly uiDirectory?: string | null
}

const drainMsLimit = 10 * 60 * 1000

/** Refuses configurations that would expose an unauthenticated registry, or limits out of range. */
export const validateOptions = (options: ServerOptions): Either.Either<ServerOptions, InvalidInput> => {
  const edgeOptions = validateEdgeOptions(options)
  if (Either.isLeft(edgeOptions)) return Either.left(edgeOptions.left)
  const { tokenCount, ...checked } = edgeOptions.right
  if (!loopbackHosts.has(options.host) && tokenCount === 0)
    return Either.left(
      new InvalidInput({
        field: "host",
        message: `host: binding to ${options.host} exposes the registry beyond this machine; set --token (or MODEL_REGISTRY_TOKEN)`,
      }),
    )
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535)
    return Either.left(new InvalidInput({ field: "port", message: "port: must be an integer from 0 to 65535" }))
  const drainMs = options.drainMs ?? defaultDrainMs
  if (!Number.isInteger(drainMs) || drainMs < 0 || drainMs > drainMsLimit)
    return Either.left(
      new InvalidInput({ field: "drainMs", message: `drainMs: must be an integer from 0 to ${drainMsLimit}` }),
    )
  return Either.right({ ...checked, drainMs })
}

const nodeRules = (options: ServerOptions) => rulesOf(loopbackHosts.has(options.host), options)

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
              rules: nodeRules(options),
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

/** `/ui/` from the built UI's files, and `/` (and `/ui`) sending a browser there. */
const uiRoutes = (directory: string | null | undefined) =>
  HttpApiBuilder.Router.use((router) => {
    const assets = loadUiAssets(directory ?? undefined)
    const toUi = HttpServerResponse.redirect(uiPath, { status: 302 })
    // The router takes `/ui/` for `/ui` too (it ignores a trailing slash), so one handler tells them apart.
    const page = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
      const path = request.url.split(/[?#]/, 1)[0]!
      return path.startsWith(uiPath) ? assets.answer(path) : toUi
    })
    return Effect.all([router.get("/", Effect.succeed(toUi)), router.get("/ui", page), router.get("/ui/*", page)])
  })

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
      const arrivedLate = (request: HttpServerRequest.HttpServerRequest) =>
        drain.arrivedLate(NodeHttpServerRequest.toIncomingMessage(request))
      const serve = HttpApiBuilder.serve(edge(options, nodeRules(options), auth, arrivedLate)).pipe(
        Layer.locally(HttpRouter.currentRouterConfig, routerConfig),
        Layer.provide(uiRoutes(options.uiDirectory === undefined ? defaultUiDirectory() : options.uiDirectory)),
        Layer.provide(apiLayer),
        Layer.provide(layerNodeHost),
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
