/** `serve`: the HTTP API on a data directory, until a signal ends it (event streams first, then the registry). */
import { Command, Options } from "@effect/cli"
import { HttpServer } from "@effect/platform"
import { Console, Context, Deferred, Effect, Layer, Option } from "effect"
import * as Server from "../http/Server.ts"
import { layerFile } from "../node.ts"
import { failure } from "./client.ts"
import * as Output from "./output.ts"
import { json, reported, token } from "./shared.ts"

export const serve = Command.make(
  "serve",
  {
    data: Options.text("data").pipe(Options.withDescription("data directory"), Options.withDefault("./data")),
    host: Options.text("host").pipe(
      Options.withDescription("address to bind; anything but loopback requires a token"),
      Options.withDefault("127.0.0.1"),
    ),
    port: Options.integer("port").pipe(Options.withDescription("port (0: any free port)"), Options.withDefault(8080)),
    token,
    maxBodyBytes: Options.integer("max-body-bytes").pipe(
      Options.withDescription("largest request body accepted"),
      Options.withDefault(Server.defaultMaxBodyBytes),
    ),
    mailboxCapacity: Options.integer("mailbox-capacity").pipe(
      Options.withDescription("commands queued before the server answers 429"),
      Options.optional,
    ),
    batchMax: Options.integer("batch-max").pipe(Options.withDescription("commands per group commit"), Options.optional),
    keepAliveMs: Options.integer("keep-alive-ms").pipe(
      Options.withDescription("interval of SSE keep-alive comments"),
      Options.withDefault(Server.defaultKeepAliveMs),
    ),
    json,
  },
  (o) =>
    reported(
      o.json,
      Effect.scoped(
        Effect.gen(function* () {
          const options = yield* Effect.mapError(
            Server.validateOptions({
              host: o.host,
              port: o.port,
              token: o.token,
              maxBodyBytes: o.maxBodyBytes,
              keepAliveMs: o.keepAliveMs,
            }),
            failure,
          )
          const stopping = yield* Deferred.make<void>()
          yield* Effect.addFinalizer(() => (o.json ? Output.json({ event: "stopped" }) : Console.log("stopped")))
          const registry = layerFile({
            directory: o.data,
            ...Option.match(o.mailboxCapacity, {
              onNone: () => ({}),
              onSome: (mailboxCapacity) => ({ mailboxCapacity }),
            }),
            ...Option.match(o.batchMax, { onNone: () => ({}), onSome: (batchMax) => ({ batchMax }) }),
          })
          const settings = Layer.succeed(Server.ServerSettings, {
            maxBodyBytes: options.maxBodyBytes,
            keepAliveMs: options.keepAliveMs,
            stopping,
          })
          const context = yield* Effect.mapError(
            Layer.build(Server.layer(options).pipe(Layer.provide(settings), Layer.provide(registry))),
            failure,
          )
          // Finalizers run last-added first: event streams end before the server waits for open connections,
          // and the server closes before the registry drains, fsyncs and releases the lock.
          yield* Effect.addFinalizer(() =>
            Effect.zipRight(
              o.json ? Output.json({ event: "stopping" }) : Console.log("shutting down: draining requests"),
              Deferred.succeed(stopping, undefined),
            ),
          )
          const address = Server.addressOf(Context.get(context, HttpServer.HttpServer).address)
          yield* o.json
            ? Output.json({ event: "listening", url: address, data: o.data })
            : Console.log(`model-registry listening on ${address} (data ${o.data})`)
          return yield* Effect.never
        }),
      ),
    ),
).pipe(Command.withDescription("run the HTTP API (OpenAPI at /openapi.json, Swagger UI at /docs)"))
