/**
 * `serve`: the HTTP API on a data directory, until a signal ends it: the server drains (at most `--drain-ms`),
 * then the registry closes.
 */
import { Command, Options } from "@effect/cli"
import { HttpServer } from "@effect/platform"
import { Console, Context, Deferred, Effect, Layer, Option } from "effect"
import * as Server from "../http/Server.ts"
import type { RegistryLimits } from "../index.ts"
import { layerFile } from "../node.ts"
import { failure } from "./client.ts"
import * as Output from "./output.ts"
import { json, reported, token } from "./shared.ts"

/** A limit flag as a registry option: typed by the option's name, so a renamed limit fails to compile here. */
const limitGiven = <K extends keyof RegistryLimits>(key: K, value: Option.Option<number>): Partial<RegistryLimits> =>
  Option.match(value, { onNone: () => ({}), onSome: (given) => ({ [key]: given }) })

/** A repeatable flag whose values may also be comma-separated lists. */
const listed = (values: ReadonlyArray<string>) =>
  values.flatMap((value) => value.split(",").map((item) => item.trim())).filter((item) => item.length > 0)

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
    bodyBytesMax: Options.integer("body-bytes-max").pipe(
      Options.withDescription("largest request body accepted"),
      Options.withDefault(Server.defaultBodyBytesMax),
    ),
    mailboxCommandsMax: Options.integer("mailbox-commands-max").pipe(
      Options.withDescription("commands queued before the server answers 429"),
      Options.optional,
    ),
    batchCommandsMax: Options.integer("batch-commands-max").pipe(
      Options.withDescription("commands per group commit"),
      Options.optional,
    ),
    keepAliveMs: Options.integer("keep-alive-ms").pipe(
      Options.withDescription("interval of SSE keep-alive comments"),
      Options.withDefault(Server.defaultKeepAliveMs),
    ),
    drainMs: Options.integer("drain-ms").pipe(
      Options.withDescription(
        "on SIGTERM or SIGINT, how long requests in flight may finish before their sockets close",
      ),
      Options.withDefault(Server.defaultDrainMs),
    ),
    allowOrigin: Options.text("allow-origin").pipe(
      Options.withDescription(
        "an origin (http[s]://host[:port]) whose pages may call the server; repeatable or comma-separated",
      ),
      Options.repeated,
    ),
    publicRoute: Options.choice("public", ["healthz", "docs", "metrics", "none"]).pipe(
      Options.withDescription(
        "with --token, what is served without it: healthz, docs (/docs, /openapi.json), metrics, or none; repeatable (default: healthz and docs)",
      ),
      Options.repeated,
    ),
    allowHost: Options.text("allow-host").pipe(
      Options.withDescription("a Host name served besides the loopback ones; repeatable or comma-separated"),
      Options.repeated,
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
              bodyBytesMax: o.bodyBytesMax,
              keepAliveMs: o.keepAliveMs,
              allowOrigins: listed(o.allowOrigin),
              allowHosts: listed(o.allowHost),
              drainMs: o.drainMs,
              publicRoutes:
                o.publicRoute.length === 0
                  ? Server.defaultPublicRoutes
                  : o.publicRoute.filter((route): route is Server.PublicRoute => route !== "none"),
            }),
            failure,
          )
          const stopping = yield* Deferred.make<void>()
          yield* Effect.addFinalizer(() => (o.json ? Output.json({ event: "stopped" }) : Console.log("stopped")))
          const registry = layerFile({
            directory: o.data,
            ...limitGiven("mailboxCommandsMax", o.mailboxCommandsMax),
            ...limitGiven("batchCommandsMax", o.batchCommandsMax),
          })
          const settings = Layer.succeed(Server.ServerSettings, {
            bodyBytesMax: options.bodyBytesMax,
            keepAliveMs: options.keepAliveMs,
            stopping,
          })
          const context = yield* Effect.mapError(
            Layer.build(Server.layer(options).pipe(Layer.provide(settings), Layer.provide(registry))),
            failure,
          )
          // Finalizers run last-added first: this notice, then the server's drain (event streams end, requests in
          // flight finish, the sockets left close), then the registry drains its mailbox, fsyncs and releases the lock.
          yield* Effect.addFinalizer(() =>
            o.json ? Output.json({ event: "stopping" }) : Console.log("shutting down: draining requests"),
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
