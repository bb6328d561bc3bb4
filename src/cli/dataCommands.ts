/**
 * The commands on a registry's data (register, promote, deprecate, transition, alias, annotate, archive, restore,
 * history, get, production, list, search, watch). Each one
 * parses its arguments, asks a RegistryClient (local data directory, under its `--lifecycle`, or remote server)
 * and prints.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Either, Option, Stream } from "effect"
import type { Annotation } from "../domain/Annotation.ts"
import { decodeRegisterInputFast } from "../domain/fastDecode.ts"
import { parseTagFilter, type SearchText, searchLimitDefault, searchLimitMax } from "../domain/Search.ts"
import { type CliFailure, failure, type RegistryClient, type Version } from "./client.ts"
import { lifecycleFlag, lifecycleMapFlag, lifecycleOptions } from "./lifecycleOption.ts"
import * as Output from "./output.ts"
import { name, reported, connection as sharedConnection, usage, version, withShownDefault } from "./shared.ts"

/** A data command's connection, and the lifecycle it opens a local directory under. */
const connection = { ...sharedConnection, lifecycle: lifecycleFlag, lifecycleMap: lifecycleMapFlag }

type Connection =
  | { readonly _tag: "Local"; readonly directory: string }
  | { readonly _tag: "Remote"; readonly url: string; readonly token: Option.Option<string> }

interface ConnectionFlags {
  readonly data: Option.Option<string>
  readonly url: Option.Option<string>
  readonly token: Option.Option<string>
  readonly lifecycle: Option.Option<string>
  readonly lifecycleMap: Option.Option<string>
}

const connectionOf = (options: ConnectionFlags): Effect.Effect<Connection, CliFailure> => {
  if (Option.isSome(options.data) && Option.isSome(options.url))
    return Effect.fail(usage("give either --data DIR (local) or --url URL (remote), not both"))
  if (Option.isSome(options.url) && (Option.isSome(options.lifecycle) || Option.isSome(options.lifecycleMap)))
    return Effect.fail(
      usage("--lifecycle and --lifecycle-map open a data directory; a server runs its own (GET /lifecycle)"),
    )
  if (Option.isSome(options.url)) {
    const url = options.url.value
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
      return Effect.fail(usage(`--url: must be an http:// or https:// URL, e.g. http://127.0.0.1:8080 (got "${url}")`))
    return Effect.succeed({ _tag: "Remote", url, token: options.token })
  }
  return Effect.succeed({ _tag: "Local", directory: Option.getOrElse(options.data, () => "./data") })
}

const withClient = <A>(
  options: ConnectionFlags & { readonly json: boolean },
  use: (client: RegistryClient) => Effect.Effect<A, CliFailure>,
  createsDirectory = false,
) =>
  reported(
    options.json,
    Effect.scoped(
      Effect.flatMap(connectionOf(options), (c) =>
        Effect.flatMap(
          c._tag === "Remote"
            ? Effect.flatMap(
                Effect.promise(() => import("./remoteClient.ts")),
                (m) => m.remote(c.url, c.token),
              )
            : Effect.flatMap(
                Effect.all([Effect.promise(() => import("./localClient.ts")), lifecycleOptions(options)]),
                ([m, lifecycle]) => m.openLocal(c.directory, createsDirectory, lifecycle),
              ),
          use,
        ),
      ),
    ),
  )

/** `--as-of`: the moment a read answers for, read where the registry runs (domain/AsOf.ts `asOfFromText`). */
const asOf = Options.text("as-of").pipe(
  Options.withDescription(
    "read as it was then: seq:N (or N), right after that event, or an ISO-8601 timestamp such as 2026-11-20T10:00:00Z",
  ),
  Options.optional,
)

const includeArchived = Options.boolean("include-archived").pipe(
  Options.withDescription("archived models too (left out by default)"),
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

/** `--tag key=value`, split at the first "=" (a value may contain more); @effect/cli's own key=value option only says "text options do not have a default value" for `--tag team`. */
const parseTags = (given: ReadonlyArray<string>): Effect.Effect<Record<string, string> | undefined, CliFailure> =>
  given.length === 0
    ? Effect.succeed(undefined)
    : Effect.forEach(given, (tag) =>
        Either.match(parseTagFilter(tag), {
          onLeft: () => Effect.fail(usage(`--tag: must be key=value, e.g. --tag team=vision (got "${tag}")`)),
          onRight: Effect.succeed,
        }),
      ).pipe(Effect.map((pairs) => Object.fromEntries(pairs)))

export const register = Command.make(
  "register",
  {
    ...connection,
    name,
    version,
    metrics: Options.text("metrics").pipe(Options.withDescription("metrics as a JSON object"), Options.optional),
    tags: Options.text("tag").pipe(Options.withDescription("a tag as key=value (repeatable)"), Options.repeated),
    id: Options.text("id").pipe(Options.withDescription("UUID (default: generated)"), Options.optional),
    source: Options.text("source").pipe(
      Options.withDescription("where the model's artifacts live, an absolute URI (s3://…, file:///…)"),
      Options.optional,
    ),
    runId: Options.text("run-id").pipe(Options.withDescription("the training run that produced it"), Options.optional),
  },
  (o) =>
    withClient(
      o,
      (client) =>
        Effect.gen(function* () {
          const metrics = yield* parseMetrics(o.metrics)
          const tags = yield* parseTags(o.tags)
          // Decoded here, by the registry's own decoder, so local and remote refuse bad input alike.
          const input = yield* Effect.mapError(
            decodeRegisterInputFast({
              name: o.name,
              version: o.version,
              ...(metrics === undefined ? {} : { metrics }),
              ...(tags === undefined ? {} : { tags }),
              ...(Option.isSome(o.id) ? { id: o.id.value } : {}),
              ...(Option.isSome(o.source) ? { source: o.source.value } : {}),
              ...(Option.isSome(o.runId) ? { runId: o.runId.value } : {}),
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
      true,
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

export const promote = lifecycle(
  "promote",
  "promoted",
  "move a version to production (the previous one goes back to registered)",
)
export const deprecate = lifecycle("deprecate", "deprecated", "deprecate a version (terminal)")

export const transition = Command.make(
  "transition",
  {
    ...connection,
    name,
    version,
    event: Args.text({ name: "event" }).pipe(Args.withDescription("an event of the lifecycle, e.g. promote, stage")),
  },
  (o) =>
    withClient(o, (client) =>
      Effect.flatMap(client.transition(o.name, o.version, o.event), (outcome) =>
        Output.print(o.json, outcome, () => Output.transitionText(outcome)),
      ),
    ),
).pipe(Command.withDescription("send a lifecycle event to a version (see `lifecycle show` for the events)"))

const alias = Args.text({ name: "alias" }).pipe(Args.withDescription("alias name, e.g. champion"))

const aliasSet = Command.make("set", { ...connection, name, alias, version }, (o) =>
  withClient(o, (client) =>
    Effect.flatMap(client.setAlias(o.name, o.alias, o.version), (outcome) =>
      Output.print(o.json, outcome, () => Output.aliasText(o.name, outcome)),
    ),
  ),
).pipe(Command.withDescription("point an alias at a version (moving it if set)"))

const aliasGet = Command.make("get", { ...connection, name, alias, asOf }, (o) =>
  withClient(o, (client) =>
    Effect.flatMap(client.getAlias(o.name, o.alias, Option.getOrUndefined(o.asOf)), (v) =>
      Output.print(o.json, v, () => Output.versionText(v)),
    ),
  ),
).pipe(Command.withDescription("show the version an alias names (--as-of: named then)"))

const aliasRm = Command.make("rm", { ...connection, name, alias }, (o) =>
  withClient(o, (client) =>
    Effect.flatMap(client.removeAlias(o.name, o.alias), (outcome) =>
      Output.print(o.json, outcome, () => Output.aliasText(o.name, outcome)),
    ),
  ),
).pipe(Command.withDescription("remove an alias (succeeds, writing nothing, when it is not set)"))

export const aliasCommand = Command.make("alias").pipe(
  Command.withDescription("a model's aliases: movable names for its versions"),
  Command.withSubcommands([aliasSet, aliasGet, aliasRm]),
)

export const get = Command.make("get", { ...connection, name, version, asOf }, (o) =>
  withClient(o, (client) =>
    Effect.flatMap(client.get(o.name, o.version, Option.getOrUndefined(o.asOf)), (v) =>
      Output.print(o.json, v, () => Output.versionText(v)),
    ),
  ),
).pipe(Command.withDescription("show one version with its metadata and lifecycle state (--as-of: as it was then)"))

export const production = Command.make("production", { ...connection, name, asOf }, (o) =>
  withClient(o, (client) =>
    Effect.flatMap(client.production(o.name, Option.getOrUndefined(o.asOf)), (v) =>
      Output.print(o.json, v, () => (v === null ? `${o.name} has no production version` : Output.versionText(v))),
    ),
  ),
).pipe(Command.withDescription("show a model's production version (--as-of: the one then)"))

export const list = Command.make(
  "list",
  { ...connection, name: name.pipe(Args.optional), asOf, includeArchived },
  (o) =>
    withClient(o, (client) =>
      Option.match(o.name, {
        onNone: () =>
          Option.isSome(o.asOf)
            ? Effect.fail(usage("--as-of: reads one model's versions as they were; give a model name"))
            : Effect.flatMap(client.listModels(o.includeArchived), (models) =>
                o.json
                  ? Effect.forEach(models, Output.json, { discard: true })
                  : Console.log(Output.modelsText(models)),
              ),
        onSome: (n) =>
          Effect.flatMap(client.listVersions(n, Option.getOrUndefined(o.asOf)), (versions) =>
            o.json
              ? Effect.forEach(versions, Output.json, { discard: true })
              : Console.log(Output.versionsText(versions)),
          ),
      }),
    ),
).pipe(Command.withDescription("list models, or the versions of one model in semver order"))

const text = (flag: string, description: string) =>
  Options.text(flag).pipe(Options.withDescription(description), Options.optional)

export const search = Command.make(
  "search",
  {
    ...connection,
    namePrefix: text("name-prefix", "only versions of models whose name starts with this"),
    tag: Options.text("tag").pipe(
      Options.withDescription("key=value: the version's tag is exactly this (repeatable)"),
      Options.repeated,
    ),
    state: text("state", "only versions in this lifecycle state"),
    alias: text("alias", "only the version this alias of its model names"),
    metric: Options.text("metric").pipe(
      Options.withDescription("name<op>number, op one of < <= > >= = != (repeatable), e.g. --metric 'accuracy>=0.9'"),
      Options.repeated,
    ),
    orderBy: text("order-by", 'version (model name, then SemVer; the default), createdAt or "metric.<name>"'),
    desc: Options.boolean("desc").pipe(Options.withDescription("largest first")),
    limit: text("limit", `versions per page, 1–${searchLimitMax} (default ${searchLimitDefault})`),
    cursor: text("cursor", "continue after the page that printed this cursor"),
    all: Options.boolean("all").pipe(Options.withDescription("follow the cursor to the last page")),
    includeArchived,
    asOf,
  },
  (o) =>
    withClient(o, (client) => {
      const query: SearchText = {
        namePrefix: Option.getOrUndefined(o.namePrefix),
        tag: o.tag,
        state: Option.getOrUndefined(o.state),
        alias: Option.getOrUndefined(o.alias),
        metric: o.metric,
        orderBy: Option.getOrUndefined(o.orderBy),
        ...(o.desc ? { order: "desc" } : {}),
        limit: Option.getOrUndefined(o.limit),
        ...(o.includeArchived ? { includeArchived: "true" } : {}),
      }
      const found: Array<Version> = []
      const pages = (cursor: string | undefined): Effect.Effect<string | null, CliFailure> =>
        Effect.flatMap(
          client.search({ ...query, cursor }, Option.getOrUndefined(o.asOf)),
          ({ versions, nextCursor }) => {
            found.push(...versions)
            return nextCursor !== null && o.all ? pages(nextCursor) : Effect.succeed(nextCursor)
          },
        )
      return Effect.flatMap(pages(Option.getOrUndefined(o.cursor)), (nextCursor) =>
        Effect.zipRight(
          o.json ? Effect.forEach(found, Output.json, { discard: true }) : Console.log(Output.foundText(found)),
          // Beside the results, not among them: with --json, stdout stays one version per line.
          nextCursor === null ? Effect.void : Console.error(`more: --cursor ${nextCursor}`),
        ),
      )
    }),
).pipe(
  Command.withDescription(
    "search versions by name prefix, tags, state, alias and metrics, a page at a time (--all for every page)",
  ),
)

const annotationFlags = {
  tags: Options.text("tag").pipe(Options.withDescription("set a tag, key=value (repeatable)"), Options.repeated),
  untags: Options.text("untag").pipe(Options.withDescription("remove a tag by its key (repeatable)"), Options.repeated),
  description: text("description", "set the description"),
  noDescription: Options.boolean("no-description").pipe(Options.withDescription("remove the description")),
}

interface AnnotationFlags {
  readonly tags: ReadonlyArray<string>
  readonly untags: ReadonlyArray<string>
  readonly description: Option.Option<string>
  readonly noDescription: boolean
}

/** The flags as one annotation; its fields are the registry's to check, so local and remote refuse alike. */
const annotationOf = (o: AnnotationFlags): Effect.Effect<Annotation, CliFailure> =>
  Effect.gen(function* () {
    if (Option.isSome(o.description) && o.noDescription)
      return yield* Effect.fail(usage("give --description TEXT or --no-description, not both"))
    const set = (yield* parseTags(o.tags)) ?? {}
    const tags: Record<string, string | null> = { ...set }
    for (const key of o.untags) {
      if (key in set) return yield* Effect.fail(usage(`--untag ${key}: also set by --tag`))
      tags[key] = null
    }
    const description = o.noDescription ? null : Option.getOrUndefined(o.description)
    return {
      ...(Object.keys(tags).length === 0 ? {} : { tags }),
      ...(description === undefined ? {} : { description }),
    }
  })

export const annotate = Command.make("annotate", { ...connection, name, version, ...annotationFlags }, (o) =>
  withClient(o, (client) =>
    Effect.flatMap(annotationOf(o), (annotation) =>
      Effect.flatMap(client.annotate(o.name, o.version, annotation), (outcome) =>
        Output.print(o.json, outcome, () => Output.annotatedText(outcome)),
      ),
    ),
  ),
).pipe(Command.withDescription("set or remove a version's tags and description (one event naming each change)"))

export const annotateModel = Command.make("annotate-model", { ...connection, name, ...annotationFlags }, (o) =>
  withClient(o, (client) =>
    Effect.flatMap(annotationOf(o), (annotation) =>
      Effect.flatMap(client.annotateModel(o.name, annotation), (outcome) =>
        Output.print(o.json, outcome, () => Output.modelOutcomeText("annotated", outcome)),
      ),
    ),
  ),
).pipe(Command.withDescription("set or remove a model's own tags and description"))

const modelCommand = (verb: "archive" | "restore", past: string, description: string) =>
  Command.make(verb, { ...connection, name }, (o) =>
    withClient(o, (client) =>
      Effect.flatMap(verb === "archive" ? client.archiveModel(o.name) : client.restoreModel(o.name), (outcome) =>
        Output.print(o.json, outcome, () => Output.modelOutcomeText(past, outcome)),
      ),
    ),
  ).pipe(Command.withDescription(description))

export const archive = modelCommand(
  "archive",
  "archived",
  "archive a model: left out of list and search (--include-archived shows it), closed to changes until restored",
)
export const restore = modelCommand("restore", "restored", "bring an archived model back")

export const history = Command.make("history", { ...connection, name, version: version.pipe(Args.optional) }, (o) =>
  withClient(o, (client) =>
    Effect.flatMap(client.history(o.name, Option.getOrUndefined(o.version)), (found) =>
      Output.print(o.json, found, () => Output.historyText(found)),
    ),
  ),
).pipe(Command.withDescription("a model's changes, or one version's, oldest first, each with its seq, time and actor"))

export const watch = Command.make(
  "watch",
  {
    ...connection,
    from: Options.integer("from").pipe(
      Options.withDescription("first event seq (default: only new events)"),
      Options.optional,
    ),
    // A minute outlasts a server's restart (its replay included) and still ends a script whose server is gone.
    giveUpAfterMs: Options.integer("give-up-after-ms").pipe(
      Options.withDescription(
        "with --url: how long the server may stay unreachable before watch exits 3 (it resumes after the last event seen when the server is back)",
      ),
      withShownDefault(60_000),
    ),
  },
  (o) =>
    withClient(o, (client) =>
      o.giveUpAfterMs < 0
        ? Effect.fail(usage(`--give-up-after-ms: must be 0 or more (got ${o.giveUpAfterMs})`))
        : Stream.runForEach(client.watch(o.from, { giveUpAfterMs: o.giveUpAfterMs }), (event) =>
            o.json ? Output.json(event) : Console.log(Output.eventText(event)),
          ),
    ),
).pipe(Command.withDescription("print events as they are committed (Ctrl-C to stop)"))
