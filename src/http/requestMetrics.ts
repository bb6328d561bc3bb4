/** Per-request metrics: a counter by method, route and status, and the time to the response headers by route. */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Clock, Context, Effect, Metric, MetricBoundaries, MetricLabel, Tracer } from "effect"

const requests = Metric.counter("http_requests_total", { description: "HTTP requests by method, route and status" })
const latency = Metric.histogram(
  "http_request_duration_seconds",
  MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 14 }),
  "time to the response headers (for /events: until the stream opens)",
)

type Labels = ReadonlyArray<MetricLabel.MetricLabel>

/** The value under `key`, made by `make` the first time; nested so that finding a label set builds no key. */
const cached = <K, V>(map: Map<K, V>, key: K, make: () => V): V => {
  let value = map.get(key)
  if (value === undefined) {
    value = make()
    map.set(key, value)
  }
  return value
}

/**
 * Label sets, made once per (method, route, status): a metric caches its series by the identity of the label array
 * it is given, so passing the same array skips building and hashing a tagged key on every request. There are as
 * many as routes times statuses.
 */
const requestLabels = new Map<string, Map<string, Map<number, Labels>>>()
const routeLabels = new Map<string, Labels>()

/** Records one answered request; `route` is its declared path with `{param}`s, or "other". */
export const recordRequest = (method: string, route: string, status: number, seconds: number): void => {
  const byStatus = cached(
    cached(requestLabels, method, () => new Map()),
    route,
    () => new Map<number, Labels>(),
  )
  requests.unsafeUpdate(
    1,
    cached(byStatus, status, () => [
      MetricLabel.make("method", method),
      MetricLabel.make("route", route),
      MetricLabel.make("status", String(status)),
    ]),
  )
  latency.unsafeUpdate(
    seconds,
    cached(routeLabels, route, () => [MetricLabel.make("route", route)]),
  )
}

const pathLabels = new Map<string, string>()

/** A declared path (`/models/:name/versions`) as its metric label (`/models/{name}/versions`). */
export const routeLabel = (path: string): string =>
  cached(pathLabels, path, () => (path === "*" ? "other" : path.replace(/:(\w+)/g, "{$1}")))

/**
 * The metric label of the route that answered: the router records the matched route's path on the request's
 * span (`http.route`, e.g. "/models/:name/versions"), so the label comes from the API declaration rather than
 * from parsing the URL again; model names and versions would make the label set unbounded.
 */
const routeLabelOf = (span: Tracer.AnySpan | undefined): string => {
  const path = span?._tag === "Span" ? span.attributes.get("http.route") : undefined
  return typeof path === "string" ? routeLabel(path) : "other"
}

const noSpan = (): undefined => undefined

/**
 * Starts measuring the current request; returns the step that records it with its answer, once. A routed answer
 * is recorded by a pre-response handler, as its headers are about to go out: the platform writes a route's answer,
 * an event stream's whole body included, before the edge gets it back, so timing it there measured a stream's
 * lifetime. The edge's own refusals skip pre-response handlers; the edge records those with the returned step.
 */
export const startRequest = Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  const started = yield* Clock.currentTimeMillis
  let recorded = false
  const record = (response: HttpServerResponse.HttpServerResponse) =>
    Effect.suspend(() => {
      if (recorded) return Effect.void
      recorded = true
      return Effect.flatMap(Effect.context<never>(), (context) =>
        Effect.map(Clock.currentTimeMillis, (now) =>
          recordRequest(
            request.method,
            routeLabelOf(Context.getOrElse(context, Tracer.ParentSpan, noSpan)),
            response.status,
            (now - started) / 1000,
          ),
        ),
      )
    })
  yield* HttpApp.appendPreResponseHandler((_, response) => Effect.as(record(response), response))
  return record
})
