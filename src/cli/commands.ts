/**
 * The `model-registry` commands (@effect/cli). Each one parses its arguments, asks a RegistryClient (local
 * data directory or remote server) or the storage tools, and prints. Failures carry the wire error detail;
 * `ExitWith` carries the documented exit code to main.
 */
import { Args, Command, Options } from "@effect/cli"
import { HttpServer } from "@effect/platform"
import { Config, Console, Context, Data, Deferred, Effect, HashMap, Layer, Option, Stream } from "effect"
import { decodeRegisterInputFast } from "../domain/fastDecode.ts"
import { translate } from "../effects/errorStatus.ts"
import { dump, verify } from "../effects/Inspection.ts"
import { ModelRegistry } from "../effects/ModelRegistry.ts"
import * as Server from "../http/Server.ts"
import { layerFile, layerNode } from "../node.ts"
import { CliFailure, failure, openLocal, type RegistryClient } from "./client.ts"
import * as Output from "./output.ts"
import { remote } from "./remoteClient.ts"

/** Ends the program with this exit code after the command printed its own message. */
export class ExitWith extends Data.TaggedError("ExitWith")<{ readonly code: number }> {}

const json = Options.boolean("json").pipe(Options.withDescription("machine output: one JSON document per line"))
const data = Options.text("data").pipe(
  Options.withDescription("data directory (local mode; takes the directory's lock)"),
  Options.optional,
)
const dataRequired = Options.text("data").pipe(Options.withDescription("data directory"))
const url = Options.text("url").pipe(
  Options.withDescription("server URL, e.g. http://127.0.0.1:8080 (remote mode)"),
  Options.optional,
)
const token = Options.text("token").pipe(
  Options.withDescription("bearer token (default: $MODEL_REGISTRY_TOKEN)"),
  Options.withFallbackConfig(Config.string("MODEL_REGISTRY_TOKEN")),
  Options.optional,
)
const connection = { data, url, token, json }

const name = Args.text({ name: "name" }).pipe(Args.withDescription("model name"))
const version = Args.text({ name: "version" }).pipe(Args.withDescription("SemVer 2.0.0 version, e.g. 1.2.0"))

type Connection =
  | { readonly _tag: "Local"; readonly directory: string }
  | { readonly _tag: "Remote"; readonly url: string; readonly token: Option.Option<string> }

const usage = (message: string) => new CliFailure({ detail: { tag: "InvalidInput", message } })

/** Prints the failure the way the user asked and turns it into the documented exit code. */
const reported = <A, R>(asJson: boolean, effect: Effect.Effect<A, CliFailure, R>) =>
  Effect.catchAll(effect, (error) =>
    Effect.zipRight(
      Output.errorOutput(error.detail, asJson),
      Effect.fail(new ExitWith({ code: translate(error.detail.tag).exit })),
    ),
  )

const connectionOf = (options: {
  readonly data: Option.Option<string>
  readonly url: Option.Option<string>
  readonly token: Option.Option<string>
}): Effect.Effect<Connection, CliFailure> => {
  if (Option.isSome(options.data) && Option.isSome(options.url))
    return Effect.fail(usage("give either --data DIR (local) or --url URL (remote), not both"))
  if (Option.isSome(options.url))
    return Effect.succeed({ _tag: "Remote", url: options.url.value, token: options.token })
  return Effect.succeed({ _tag: "Local", directory: Option.getOrElse(options.data, () => "./data") })
}

const withClient = <A>(
  options: Parameters<typeof connectionOf>[0] & { readonly json: boolean },
  use: (client: RegistryClient) => Effect.Effect<A, CliFailure>,
) =>
  reported(
    options.json,
    Effect.scoped(
      Effect.flatMap(connectionOf(options), (c) =>
        Effect.flatMap(c._tag === "Remote" ? remote(c.url, c.token) : openLocal(c.directory), use),
      ),
    ),
  )

const parseMetrics = (text: Option.Option<string>): Effect.Effect<unknown, CliFailure> =>
  Option.match(text, {
    onNone: () => Effect.succeed(undefined),
    onSome: (t) =>
      Effect.try({
        try: (): unknown => JSON.parse(t),
        catch: () => usage("--metrics: must be a JSON object, e.g. '{\"accuracy\":0.93}'"),
      }),
  })

const register = Command.make(
  "register",
  {
    ...connection,
    name,
    version,
    metrics: Options.text("metrics").pipe(Options.withDescription("metrics as a JSON object"), Options.optional),
    tags: Options.keyValueMap("tag").pipe(Options.withDescription("a tag as key=value (repeatable)"), Options.optional),
    id: Options.text("id").pipe(Options.withDescription("UUID (default: generated)"), Options.optional),
  },
  (o) =>
    withClient(o, (client) =>
      Effect.gen(function* () {
        const metrics = yield* parseMetrics(o.metrics)
        const tags = Option.map(o.tags, (map) => Object.fromEntries(HashMap.toEntries(map)))
        // Decoded here, by the registry's own decoder, so local and remote refuse bad input alike.
        const input = yield* Effect.mapError(
          decodeRegisterInputFast({
            name: o.name,
            version: o.version,
            ...(metrics === undefined ? {} : { metrics }),
            ...(Option.isSome(tags) ? { tags: tags.value } : {}),
            ...(Option.isSome(o.id) ? { id: o.id.value } : {}),
          }),
          failure,
        )
        const result = yield* client.register(input)
        yield* Output.print(o.json, result, () =>
          result.created
            ? `registered ${result.version.name} ${result.version.version} (id ${result.version.id})`
            : `${result.version.name} ${result.version.version} was already registered with this content; nothing written`,
        )
      }),
    ),
).pipe(Command.withDescription("register a model version (idempotent for identical content)"))

const lifecycle = (verb: "promote" | "deprecate", past: string, description: string) =>
  Command.make(verb, { ...connection, name, version }, (o) =>
    withClient(o, (client) =>
      Effect.flatMap(client[verb](o.name, o.version), (outcome) =>
        Output.print(o.json, outcome, () => Output.outcomeText(past, outcome)),
      ),
    ),
  ).pipe(Command.withDescription(description))

const promote = lifecycle(
  "promote",
  "promoted",
  "move a version to production (the previous one goes back to registered)",
)
const deprecate = lifecycle("deprecate", "deprecated", "deprecate a version (terminal)")

const get = Command.make("get", { ...connection, name, version }, (o) =>
  withClient(o, (client) =>
    Effect.flatMap(client.get(o.name, o.version), (v) => Output.print(o.json, v, () => Output.versionText(v))),
  ),
).pipe(Command.withDescription("show one version with its metadata and lifecycle state"))

const list = Command.make("list", { ...connection, name: name.pipe(Args.optional) }, (o) =>
  withClient(o, (client) =>
    Option.match(o.name, {
      onNone: () =>
        Effect.flatMap(client.listModels, (models) =>
          o.json ? Effect.forEach(models, Output.json, { discard: true }) : Console.log(Output.modelsText(models)),
        ),
      onSome: (n) =>
        Effect.flatMap(client.listVersions(n), (versions) =>
          o.json
            ? Effect.forEach(versions, Output.json, { discard: true })
            : Console.log(Output.versionsText(versions)),
        ),
    }),
  ),
).pipe(Command.withDescription("list models, or the versions of one model in semver order"))

const watch = Command.make(
  "watch",
  {
    ...connection,
    from: Options.integer("from").pipe(
      Options.withDescription("first event seq (default: only new events)"),
      Options.optional,
    ),
  },
  (o) =>
    withClient(o, (client) =>
      Stream.runForEach(client.watch(o.from), (event) =>
        o.json ? Output.json(event) : Console.log(Output.eventText(event)),
      ),
    ),
).pipe(Command.withDescription("print events as they are committed (Ctrl-C to stop)"))

const verifyCommand = Command.make("verify", { data: dataRequired, json }, (o) =>
  reported(
    o.json,
    Effect.matchEffect(Effect.provide(verify(o.data), layerNode), {
      onFailure: (error) => Effect.fail(failure(error)),
      onSuccess: (report) =>
        Output.print(o.json, { ok: true, ...report, snapshot: Option.getOrNull(report.snapshot) }, () =>
          [
            `${report.directory}: OK`,
            `  segments   ${report.recovery.segments}`,
            `  records    ${report.events} valid (seq ${report.firstSeq}..${report.lastSeq})`,
            `  events     ${
              Object.entries(report.eventsByType)
                .map(([k, n]) => `${k}=${n}`)
                .join(" ") || "none"
            }`,
            `  snapshot   ${Option.match(report.snapshot, {
              onNone: () => "none",
              onSome: (s) => `valid, seq ${s.lastSeq}, ${s.versions} versions`,
            })}`,
            ...Option.match(report.recovery.tornTail, {
              onNone: () => [],
              onSome: (t) => [
                `  torn tail  in ${t.file} at offset ${t.offset} (${t.reason}), ${t.bytesDropped} bytes: the next open cuts it off`,
              ],
            }),
            ...report.recovery.snapshotFallbacks.map(
              (f) => `  fallback   snapshot ${f.file} is invalid (${f.reason}); the next open moves it aside`,
            ),
          ].join("\n"),
        ),
    }),
  ),
).pipe(
  Command.withDescription(
    "check every record and snapshot of a data directory, read-only (no lock needed); non-zero exit on corruption",
  ),
)

const compact = Command.make("compact", { data: dataRequired, json }, (o) =>
  reported(
    o.json,
    Effect.scoped(
      Effect.gen(function* () {
        const progress = (step: string, detail: Record<string, unknown> = {}) =>
          o.json
            ? Output.json({ step, ...detail })
            : Console.log(`${step}${Object.keys(detail).length ? ` ${JSON.stringify(detail)}` : ""}`)
        yield* progress("opening", { directory: o.data })
        const context = yield* Effect.mapError(Layer.build(layerFile({ directory: o.data })), failure)
        const registry = Context.get(context, ModelRegistry)
        const before = yield* registry.stats
        yield* progress("compacting", { lastSeq: before.lastSeq, versions: before.versions })
        const report = yield* Effect.mapError(registry.compact, failure)
        yield* progress("done", { snapshotSeq: report.snapshotSeq, versions: report.versions })
      }),
    ),
  ),
).pipe(Command.withDescription("snapshot the full state and delete the log segments it covers"))

const walDump = Command.make("dump", { data: dataRequired }, (o) =>
  reported(
    false,
    Stream.runForEach(Stream.mapError(Stream.provideLayer(dump(o.data), layerNode), failure), (event) =>
      Output.json(event),
    ),
  ),
).pipe(Command.withDescription("print every event in the log as NDJSON (read-only, no lock needed)"))

const wal = Command.make("wal").pipe(
  Command.withDescription("inspect the write-ahead log"),
  Command.withSubcommands([walDump]),
)

const serve = Command.make(
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

export const root = Command.make("model-registry").pipe(
  Command.withDescription(
    "a crash-proof registry of ML model versions. Exit codes: 0 ok, 1 usage, 2 not found or conflict, 3 storage error",
  ),
  Command.withSubcommands([serve, register, promote, deprecate, get, list, watch, verifyCommand, compact, wal]),
)
