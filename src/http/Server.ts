/**
 * The HTTP server: the API's handlers behind one edge middleware (token, body limit, request metrics, and
 * the error body for anything the router itself rejects), on Node's http server. Safe defaults: loopback
 * only unless a token is set, 1 MiB bodies, and a shutdown that ends event streams before the registry closes.
 */
import { createServer } from "node:http"
import {
  HttpApiBuilder,
  HttpApiSwagger,
  type HttpServer,
  HttpServerRequest,
  type HttpServerResponse,
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Clock, Context, Effect, Either, Layer, Metric, MetricBoundaries, Option, Tracer } from "effect"
import { InvalidInput } from "../domain/errors.ts"
import { edgeError } from "../effects/errorStatus.ts"
import { RegistryApi } from "./Api.ts"
import { declaresTooLarge, payloadTooLarge } from "./bodyLimit.ts"
import { errorResponse } from "./errorResponse.ts"
import { EventsLive, ModelsLive, OpsLive, ServerSettings } from "./handlers.ts"

export interface ServerOptions {
  readonly host: string
  /** 0 picks a free port; read the bound one from `HttpServer.HttpServer`'s address. */
  readonly port: number
  /** Required unless `host` is a loopback address. */
  readonly token: Option.Option<string>
  readonly maxBodyBytes: number
  /** Interval of SSE keep-alive comments, so proxies do not drop idle streams. */
  readonly keepAliveMs: number
}

export const defaultMaxBodyBytes = 1024 * 1024
const maxBodyBytesMax = 64 * 1024 * 1024
export const defaultKeepAliveMs = 15_000

const loopback = new Set(["127.0.0.1", "::1", "localhost"])

/** Refuses configurations that would expose an unauthenticated registry, or limits out of range. */
export const validateOptions = (options: ServerOptions): Either.Either<ServerOptions, InvalidInput> => {
  const token = Option.getOrUndefined(options.token)
  if (token !== undefined && token.length === 0)
    return Either.left(new InvalidInput({ field: "token", message: "token: must not be empty" }))
  if (!loopback.has(options.host) && token === undefined)
    return Either.left(
      new InvalidInput({
        field: "host",
        message: `host: binding to ${options.host} exposes the registry beyond this machine; set --token (or MODEL_REGISTRY_TOKEN)`,
      }),
    )
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535)
    return Either.left(new InvalidInput({ field: "port", message: "port: must be an integer from 0 to 65535" }))
  if (!Number.isInteger(options.maxBodyBytes) || options.maxBodyBytes < 1 || options.maxBodyBytes > maxBodyBytesMax)
    return Either.left(
      new InvalidInput({
        field: "maxBodyBytes",
        message: `maxBodyBytes: must be an integer from 1 to ${maxBodyBytesMax}`,
      }),
    )
  return Either.right(options)
}

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

const requests = Metric.counter("http_requests_total", { description: "HTTP requests by method, route and status" })
const latency = Metric.histogram(
  "http_request_duration_seconds",
  MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 14 }),
  "time to the response headers (for /events: until the stream opens)",
)

/**
 * The metric label of the route that answered: the router records the matched route's path on the request's
 * span (`http.route`, e.g. "/models/:name/versions"), so the label comes from the API declaration rather than
 * from parsing the URL again; model names and versions would make the label set unbounded. Labels are cached
 * per route path (there are as many as routes).
 */
const routeLabels = new Map<string, string>()
const routeLabelOf = (span: Tracer.AnySpan | undefined): string => {
  const path = span?._tag === "Span" ? span.attributes.get("http.route") : undefined
  if (typeof path !== "string" || path === "*") return "other"
  let label = routeLabels.get(path)
  if (label === undefined) {
    label = path.replace(/:(\w+)/g, "{$1}")
    routeLabels.set(path, label)
  }
  return label
}

const noSpan = (): undefined => undefined

const bearer = /^Bearer\s+(.+)$/i

const edge =
  (options: ServerOptions) =>
  <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const started = yield* Clock.currentTimeMillis
      const response = yield* guarded(options, app, request)
      const elapsed = ((yield* Clock.currentTimeMillis) - started) / 1000
      const route = routeLabelOf(Context.getOrElse(yield* Effect.context<never>(), Tracer.ParentSpan, noSpan))
      yield* Metric.update(
        requests.pipe(
          Metric.tagged("method", request.method),
          Metric.tagged("route", route),
          Metric.tagged("status", String(response.status)),
        ),
        1,
      )
      yield* Metric.update(latency.pipe(Metric.tagged("route", route)), elapsed)
      return response
    })

const guarded = <E, R>(
  options: ServerOptions,
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  request: HttpServerRequest.HttpServerRequest,
) => {
  const token = Option.getOrUndefined(options.token)
  if (token !== undefined) {
    const given = bearer.exec(request.headers.authorization ?? "")?.[1]
    if (given === undefined || !constantTimeEqual(given.trim(), token))
      return Effect.succeed(
        errorResponse(edgeError("Unauthorized", "a valid Authorization: Bearer <token> header is required"), {
          "www-authenticate": 'Bearer realm="model-registry"',
        }),
      )
  }
  if (declaresTooLarge(request, options.maxBodyBytes)) return Effect.succeed(payloadTooLarge(options.maxBodyBytes))
  // Failures were already answered inside `app` (handlers render their own errors, the fallback route
  // answers unknown paths); what is left here is logged so that metrics and logs see it.
  return app.pipe(
    // The register handler counts a chunked body's bytes itself and answers 413; the platform's own limit would instead
    // destroy the socket mid-request, which a client sees as a reset rather than an answer.
    HttpServerRequest.withMaxBodySize(Option.none()),
    Effect.catchAllCause((cause) =>
      Effect.logError("unexpected failure", cause).pipe(
        Effect.as(errorResponse(edgeError("Internal", "internal error"))),
      ),
    ),
  )
}

/** Paths outside the API get the error body too, not the router's empty 404. */
const fallbackRoute = HttpApiBuilder.Router.use((router) =>
  router.all(
    "*",
    Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
      errorResponse(edgeError("RouteNotFound", `no route for ${request.method} ${request.url.split("?")[0]}`)),
    ),
  ),
)

/**
 * The server as a layer over `ModelRegistry` and `ServerSettings`. It exposes `HttpServer.HttpServer`, so
 * the caller can read the bound address.
 */
export const layer = (options: ServerOptions) =>
  HttpApiBuilder.serve(edge(options)).pipe(
    Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
    Layer.provide(fallbackRoute),
    Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
    Layer.provide(HttpApiBuilder.api(RegistryApi).pipe(Layer.provide([ModelsLive, EventsLive, OpsLive]))),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { host: options.host, port: options.port })),
  )

export const addressOf = (address: HttpServer.Address): string =>
  address._tag === "TcpAddress"
    ? `http://${address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname}:${address.port}`
    : `unix:${address.path}`

export { ServerSettings }
