/** What `serve` does once its flags are parsed (serveCommand.ts declares them). */
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerError from "@effect/platform/HttpServerError"
import { Config, Console, Context, Deferred, Effect, Layer, Option } from "effect"
import { Progress } from "../effects/Inspection.ts"
import * as Server from "../http/Server.ts"
import type { RegistryLimits } from "../index.ts"
import { layerFile, layerPostgres } from "../node.ts"
import { failure } from "./client.ts"
import { lifecycleOptions } from "./lifecycleOption.ts"
import * as Output from "./output.ts"
import { stderrProgress } from "./progress.ts"
import type { ServeFlags } from "./serveCommand.ts"
import { reported, usage } from "./shared.ts"
import { readTokensFile, tokensOf } from "./tokenOptions.ts"

/** Whether binding failed because another process has the address (the platform wraps Node's error as a `ServeError`). */
const addressInUse = (error: unknown): boolean =>
  error instanceof HttpServerError.ServeError &&
  (error.cause as { readonly code?: unknown } | undefined)?.code === "EADDRINUSE"

/** A limit flag as a registry option: typed by the option's name, so a renamed limit fails to compile here. */
const limitGiven = <K extends keyof RegistryLimits>(key: K, value: Option.Option<number>): Partial<RegistryLimits> =>
  Option.match(value, { onNone: () => ({}), onSome: (given) => ({ [key]: given }) })

/** A repeatable flag whose values may also be comma-separated lists. */
const listed = (values: ReadonlyArray<string>) =>
  values.flatMap((value) => value.split(",").map((item) => item.trim())).filter((item) => item.length > 0)

export const serve = (o: ServeFlags) =>
  reported(
    o.json,
    Effect.scoped(
      Effect.gen(function* () {
        const tokens = yield* Effect.mapError(
          Effect.flatMap(
            Option.match(o.tokensFile, { onNone: () => Effect.succeed([]), onSome: readTokensFile }),
            (fromFile) =>
              Effect.map(Effect.orDie(Config.option(Config.string("MODEL_REGISTRY_TOKEN"))), (env) =>
                tokensOf(o.token, env, fromFile),
              ),
          ).pipe(Effect.flatten),
          failure,
        )
        const options = yield* Effect.mapError(
          Server.validateOptions({
            host: o.host,
            port: o.port,
            token: Option.none(),
            tokens,
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
        // An unsound lifecycle, or one the directory was not written under, stops the server before it binds.
        const lifecycle = yield* lifecycleOptions(o)
        // Opening a large directory (checking its segments, replaying its log) takes seconds before the port is
        // bound; a person watching the terminal sees how far it has got.
        const registryOptions = {
          ...lifecycle,
          ...limitGiven("mailboxCommandsMax", o.mailboxCommandsMax),
          ...limitGiven("batchCommandsMax", o.batchCommandsMax),
        }
        const registry = Option.match(o.postgres, {
          onNone: () => layerFile({ directory: o.data, ...registryOptions }),
          onSome: (url) => layerPostgres({ url, schema: o.schema, ...registryOptions }),
        }).pipe(Layer.provide(stderrProgress(Progress, { json: o.json, streamsStdout: false })))
        const where = Option.match(o.postgres, {
          onNone: () => o.data,
          onSome: (url) => `${redactedUrl(url)} schema ${o.schema}`,
        })
        const settings = Layer.succeed(Server.ServerSettings, {
          bodyBytesMax: options.bodyBytesMax,
          keepAliveMs: options.keepAliveMs,
          stopping,
          ...Option.match(o.eventBufferFrames, {
            onNone: () => ({}),
            onSome: (eventBufferFramesMax) => ({ eventBufferFramesMax }),
          }),
        })
        const context = yield* Effect.mapError(
          Layer.build(Server.layer(options).pipe(Layer.provide(settings), Layer.provide(registry))),
          (error) => (addressInUse(error) ? usage(`--port: ${o.host}:${o.port} is already in use`) : failure(error)),
        )
        // Finalizers run last-added first: this notice, then the server's drain (event streams end, requests in
        // flight finish, the sockets left close), then the registry drains its mailbox, fsyncs and releases the lock.
        yield* Effect.addFinalizer(() =>
          o.json ? Output.json({ event: "stopping" }) : Console.log("shutting down: draining requests"),
        )
        const address = Server.addressOf(Context.get(context, HttpServer.HttpServer).address)
        yield* o.json
          ? Output.json({ event: "listening", url: address, data: where })
          : Console.log(`model-registry listening on ${address} (data ${where})`)
        return yield* Effect.never
      }),
    ),
  )

/** A connection URL as it may be printed: without its password. */
const redactedUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(an unparsable URL)"
  }
}
