/**
 * The platform's floor, for the profile behind issue 15's fast lane: a minimal `HttpApi` server with one route
 * (`GET /healthz`) and no middleware of ours, to load with autocannon beside a bare `node:http` server.
 *
 *   node --import tsx bench/children/minimalHttpApiServer.ts [PORT] [--no-tracer]
 *
 * `--no-tracer` disables the platform's per-request span, the one cost it lets a server turn off.
 */
import { createServer } from "node:http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpMiddleware } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"

const port = Number(process.argv[2] ?? 7302)
const Api = HttpApi.make("minimal").add(
  HttpApiGroup.make("ops").add(
    HttpApiEndpoint.get("healthz", "/healthz").addSuccess(
      Schema.Struct({ status: Schema.String, lastSeq: Schema.Number }),
    ),
  ),
)
const Ops = HttpApiBuilder.group(Api, "ops", (handlers) =>
  handlers.handle("healthz", () => Effect.succeed({ status: "ok", lastSeq: 0 })),
)
const serve = process.argv.includes("--no-tracer")
  ? HttpMiddleware.withTracerDisabledWhen(HttpApiBuilder.serve(), () => true)
  : HttpApiBuilder.serve()

NodeRuntime.runMain(
  Layer.launch(
    serve.pipe(
      Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide(Ops))),
      Layer.provide(NodeHttpServer.layer(createServer, { port, host: "127.0.0.1" })),
    ),
  ),
)
