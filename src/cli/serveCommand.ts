/**
 * `serve`: the HTTP API on a data directory, until a signal ends it: the server drains (at most `--drain-ms`),
 * then the registry closes. The flags are declared here; the server and the registry are loaded (serveRun.ts)
 * only when the command runs.
 */
import { Command, Options } from "@effect/cli"
import { Config, Effect } from "effect"
import {
  defaultBodyBytesMax,
  defaultBufferFramesMax,
  defaultDrainMs,
  defaultKeepAliveMs,
} from "../http/serverDefaults.ts"
import { defaultLimits } from "../storage/Limits.ts"
import { lifecycleFlag, lifecycleMapFlag } from "./lifecycleOption.ts"
import { json, withShownDefault } from "./shared.ts"

const flags = {
  data: Options.text("data").pipe(Options.withDescription("data directory"), withShownDefault("./data")),
  postgres: Options.text("postgres").pipe(
    Options.withDescription(
      "keep the registry in PostgreSQL instead of --data: postgres://user@host:5432/database (any number of servers can share a schema)",
    ),
    Options.withFallbackConfig(Config.string("MODEL_REGISTRY_POSTGRES")),
    Options.optional,
  ),
  schema: Options.text("schema").pipe(
    Options.withDescription("with --postgres, the schema that holds the registry"),
    withShownDefault("model_registry"),
  ),
  host: Options.text("host").pipe(
    Options.withDescription("address to bind; anything but loopback requires a token"),
    withShownDefault("127.0.0.1"),
  ),
  port: Options.integer("port").pipe(
    Options.withDescription("port (0: any free port; default: $PORT, else 8080)"),
    Options.withFallbackConfig(Config.integer("PORT")),
    withShownDefault(8080),
  ),
  token: Options.text("token").pipe(
    Options.withDescription(
      "NAME:ROLE:SECRET, a token and its role (reader: read and follow events; writer: also register; admin: also " +
        "transition versions and set or remove aliases); its name is the actor its writes record; repeatable. A bare " +
        "SECRET (no ':') is one admin token named default (default: $MODEL_REGISTRY_TOKEN, always a bare secret)",
    ),
    Options.repeated,
  ),
  tokensFile: Options.text("tokens-file").pipe(
    Options.withDescription(
      "a file of tokens, one NAME:ROLE:SECRET per line ('#' starts a comment); refused if other users may read it",
    ),
    Options.optional,
  ),
  bodyBytesMax: Options.integer("body-bytes-max").pipe(
    Options.withDescription("largest request body accepted"),
    withShownDefault(defaultBodyBytesMax),
  ),
  mailboxCommandsMax: Options.integer("mailbox-commands-max").pipe(
    Options.withDescription(
      `commands queued before the server answers 429 (default: ${defaultLimits.mailboxCommandsMax})`,
    ),
    Options.optional,
  ),
  batchCommandsMax: Options.integer("batch-commands-max").pipe(
    Options.withDescription(`commands per group commit (default: ${defaultLimits.batchCommandsMax})`),
    Options.optional,
  ),
  eventBufferFrames: Options.integer("event-buffer-frames").pipe(
    Options.withDescription(
      `events an /events client may fall behind before it is disconnected (it resumes with Last-Event-ID; default: ${defaultBufferFramesMax})`,
    ),
    Options.optional,
  ),
  keepAliveMs: Options.integer("keep-alive-ms").pipe(
    Options.withDescription("interval of SSE keep-alive comments"),
    withShownDefault(defaultKeepAliveMs),
  ),
  drainMs: Options.integer("drain-ms").pipe(
    Options.withDescription("on SIGTERM or SIGINT, how long requests in flight may finish before their sockets close"),
    withShownDefault(defaultDrainMs),
  ),
  allowOrigin: Options.text("allow-origin").pipe(
    Options.withDescription(
      "an origin (http[s]://host[:port]) whose pages may call the server; repeatable or comma-separated",
    ),
    Options.repeated,
  ),
  publicRoute: Options.choice("public", ["healthz", "docs", "metrics", "none"]).pipe(
    Options.withDescription(
      "with --token, what is served without it: healthz, docs (/docs, /openapi.json and the web UI's pages at /ui), metrics, or none; repeatable (default: healthz and docs)",
    ),
    Options.repeated,
  ),
  allowHost: Options.text("allow-host").pipe(
    Options.withDescription("a Host name served besides the loopback ones; repeatable or comma-separated"),
    Options.repeated,
  ),
  lifecycle: lifecycleFlag,
  lifecycleMap: lifecycleMapFlag,
  json,
}

export type ServeFlags = Command.Command.ParseConfig<typeof flags>

export const serve = Command.make("serve", flags, (o) =>
  Effect.flatMap(
    Effect.promise(() => import("./serveRun.ts")),
    (run) => run.serve(o),
  ),
).pipe(Command.withDescription("run the HTTP API (the web UI at /ui/, OpenAPI at /openapi.json, Swagger UI at /docs)"))
