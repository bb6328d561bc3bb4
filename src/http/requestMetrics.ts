/** Per-request metrics: a counter by method, route and status, and the time to the response headers by route. */
import { HttpApp, HttpServerRequest, type HttpServerResponse } from "@effect/platform"
import { Clock, Context, Effect, Metric, MetricBoundaries, Tracer } from "effect"

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

/** Records a request answered with `response`, which started at `startedMillis`. */
const recordRequest = (
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse,
  startedMillis: number,
) =>
  Effect.gen(function* () {
    const elapsed = ((yield* Clock.currentTimeMillis) - startedMillis) / 1000
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
  })

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
      return recordRequest(request, response, started)
    })
  yield* HttpApp.appendPreResponseHandler((_, response) => Effect.as(record(response), response))
  return record
})
