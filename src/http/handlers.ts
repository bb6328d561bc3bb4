/**
 * The API's handlers: each one calls ModelRegistry and renders the result. A write with a body reads it itself,
 * under the body limit, and hands it to the registry's decoders (register's fast decoder, once), so every field
 * error is `InvalidInput`. Every failure, typed or not, becomes the shared error body, so
 * no input can produce a 500 with a stack trace.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Context, type Deferred, Effect, Either, Exit, Metric, Schema } from "effect"
import { lifecycleMermaid } from "../actors/lifecycleDiagram.ts"
import type { Annotation } from "../domain/Annotation.ts"
import { type AsOfInput, asOfFromText, type ReadOptions } from "../domain/AsOf.ts"
import { InvalidInput, PositionCompacted } from "../domain/errors.ts"
import { decodeRegisterInputFast } from "../domain/fastDecode.ts"
import { modelsFromText, searchFromText, searchTextKeys } from "../domain/Search.ts"
import { edgeError } from "../effects/errorStatus.ts"
import { ModelRegistry, type WriteOptions } from "../effects/ModelRegistry.ts"
import {
  AliasOutcomeWire,
  AsOfParams,
  HistoryWire,
  ModelOutcomeWire,
  ModelsParams,
  ModelWire,
  mermaidContentType,
  nextCursorHeader,
  OutcomeWire,
  RegistryApi,
  SearchPageWire,
  SummaryWire,
  VersionWire,
} from "./Api.ts"
import type { Identity } from "./bearerToken.ts"
import { errorResponse, failureResponse, internalError } from "./errorResponse.ts"
import * as EventFanout from "./eventFanout.ts"
import { HttpHost } from "./HttpHost.ts"
import { jsonResponse } from "./jsonResponse.ts"
import { type Family, familiesOf, renderFamilies } from "./prometheus.ts"
import { resumeFrom } from "./sse.ts"
import { wireEncoder } from "./wireProjection.ts"

/** What the handlers need from the server's configuration. */
export interface ServerSettings {
  readonly bodyBytesMax: number
  readonly keepAliveMs: number
  /** Completed when shutdown starts: open event streams end so the server can close. */
  readonly stopping: Deferred.Deferred<void>
  /**
   * Frames an `/events` client may fall behind before it is disconnected (it resumes with `Last-Event-ID`);
   * `EventFanout.defaultBufferFramesMax` when absent.
   */
  readonly eventBufferFramesMax?: number
  /** The longest an event waits for the `/events` feed's next step under load; `EventFanout.defaultFlushIntervalMs`. */
  readonly eventFlushIntervalMs?: number
}

export const ServerSettings = Context.GenericTag<ServerSettings>("@visutility/model-registry/http/ServerSettings")

/**
 * Who the platform's request is, as the edge admitted it: its token's name (the actor of what it writes) and role.
 * The edge provides it to every request it routes; a handler without it is a bug, a defect rather than an unnamed
 * write.
 */
export class RequestActor extends Context.Tag("@visutility/model-registry/http/RequestActor")<
  RequestActor,
  Identity
>() {}
const requestIdentity = Effect.orDie(Effect.serviceOptional(RequestActor))
const requestActor = Effect.map(requestIdentity, (identity) => identity.name)

/** Turns every failure into the shared error body; the handler's success type is left as is. */
const answer = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchAllCause(effect, (cause) => Effect.succeed(failureResponse(cause)))

const parseJsonObject = (text: string): Either.Either<Record<string, unknown>, InvalidInput> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return Either.left(new InvalidInput({ field: "body", message: "body: must be valid JSON" }))
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    return Either.left(new InvalidInput({ field: "body", message: "body: must be a JSON object" }))
  return Either.right(parsed as Record<string, unknown>)
}

/** The body's object with the path's name in it: the object was parsed here, so it is completed in place. */
const parseRegisterBody = (name: string, text: string): Either.Either<Record<string, unknown>, InvalidInput> =>
  Either.flatMap(parseJsonObject(text), (parsed) => {
    if ("name" in parsed && parsed.name !== name)
      return Either.left(new InvalidInput({ field: "name", message: "name: the body's name must match the path's" }))
    parsed.name = name
    return Either.right(parsed)
  })

/** `{"version": "…"}` and nothing else; the version itself is the registry's to decode. */
const parseAliasBody = (text: string): Either.Either<string, InvalidInput> =>
  Either.flatMap(parseJsonObject(text), (parsed) => {
    const unknown = Object.keys(parsed).find((key) => key !== "version")
    if (unknown !== undefined)
      return Either.left(new InvalidInput({ field: unknown, message: `${unknown}: unknown field (only "version")` }))
    return typeof parsed.version === "string"
      ? Either.right(parsed.version)
      : Either.left(new InvalidInput({ field: "version", message: 'version: must be a string, e.g. "1.2.0"' }))
  })

const annotationFields = ["tags", "description"]

/** `{"tags"?, "description"?}` and nothing else; the fields themselves are the registry's to decode. */
const parseAnnotationBody = (text: string): Either.Either<Annotation, InvalidInput> =>
  Either.flatMap(parseJsonObject(text), (parsed) => {
    const unknown = Object.keys(parsed).find((key) => !annotationFields.includes(key))
    return unknown === undefined
      ? Either.right(parsed as Annotation)
      : Either.left(
          new InvalidInput({ field: unknown, message: `${unknown}: unknown field (only "tags" and "description")` }),
        )
  })

/** A registry answer rendered through its wire schema, every failure as the error body. */
const json = <A, I>(schema: Schema.Schema<A, I>) => {
  const encode = Schema.encode(schema)
  return <E>(effect: Effect.Effect<A, E>) =>
    answer(Effect.map(Effect.flatMap(effect, encode), (body) => jsonResponse(body)))
}

/**
 * A read answered now. Reads answer from the committed index without waiting, so the registry's effect runs here
 * (`Effect.runSyncExit`) and the answer is built in plain code: the fast lane then runs one small fiber per read,
 * where running the encoding and rendering as effects too cost more than the read itself (13–15 µs against 3 µs,
 * bench/results/issue-15-server.md). Failures become the error body as `answer` makes them.
 */
const readNow =
  <A>(render: (value: A) => unknown) =>
  <E>(effect: Effect.Effect<A, E>): HttpServerResponse.HttpServerResponse => {
    const exit = Effect.runSyncExit(effect)
    if (Exit.isFailure(exit)) return failureResponse(exit.cause)
    try {
      return jsonResponse(render(exit.value))
    } catch {
      return internalError()
    }
  }

const versionNow = readNow(wireEncoder(VersionWire))
const versionsNow = readNow(wireEncoder(Schema.Array(VersionWire)))
const modelNow = readNow(wireEncoder(ModelWire))
const encodeSummaries = wireEncoder(Schema.Array(SummaryWire))
const summariesNow = readNow(encodeSummaries)
const healthNow = readNow((stats: { readonly lastSeq: number }) => ({ status: "ok" as const, lastSeq: stats.lastSeq }))
const historyNow = readNow(wireEncoder(HistoryWire))
const outcomeJson = json(OutcomeWire)
const modelOutcomeJson = json(ModelOutcomeWire)
const aliasOutcomeJson = json(AliasOutcomeWire)
const encodeVersion = wireEncoder(VersionWire)

type Answer = HttpServerResponse.HttpServerResponse

/**
 * The answers of the routes the server's fast lane also serves (src/http/fastLane.ts): every route of the models
 * group, and `/healthz`. The API's handlers below call the same functions, so both lanes answer alike because they
 * run the same code. Reads answer at once; writes are effects that wait for the commit. A write with a body gets
 * its text, read by `body` beforehand, so that a write runs as one fiber that waits once, for its commit.
 */
export interface HotAnswers {
  /** The body limit a write's text is read under, by whichever lane reads it. */
  readonly bodyBytesMax: number
  readonly register: (name: string, body: string, actor: string) => Effect.Effect<Answer>
  readonly listModels: () => Answer
  /** The reads below answer for now, or as of `asOf` when the query gives one (never on the fast lane). */
  readonly getModel: (name: string, asOf?: AsOfInput) => Answer
  readonly listVersions: (name: string, asOf?: AsOfInput) => Answer
  readonly getVersion: (name: string, version: string, asOf?: AsOfInput) => Answer
  readonly annotate: (name: string, version: string, body: string, actor: string) => Effect.Effect<Answer>
  readonly versionHistory: (name: string, version: string) => Answer
  readonly annotateModel: (name: string, body: string, actor: string) => Effect.Effect<Answer>
  readonly archiveModel: (name: string, actor: string) => Effect.Effect<Answer>
  readonly restoreModel: (name: string, actor: string) => Effect.Effect<Answer>
  readonly modelHistory: (name: string) => Answer
  readonly promote: (name: string, version: string, actor: string) => Effect.Effect<Answer>
  readonly deprecate: (name: string, version: string, actor: string) => Effect.Effect<Answer>
  readonly transition: (name: string, version: string, event: string, actor: string) => Effect.Effect<Answer>
  readonly setAlias: (name: string, alias: string, body: string, actor: string) => Effect.Effect<Answer>
  readonly getAlias: (name: string, alias: string, asOf?: AsOfInput) => Answer
  readonly removeAlias: (name: string, alias: string, actor: string) => Effect.Effect<Answer>
  readonly healthz: () => Answer
}

export const hotAnswers = (registry: ModelRegistry, settings: ServerSettings): HotAnswers => {
  // One options object per actor, not one per write: the actors are the configured tokens' names (and
  // `(anonymous)`), so this holds a few, and a register allocates nothing more for naming its actor.
  const optionsOf = new Map<string, WriteOptions>()
  const written = (actor: string): WriteOptions => {
    let options = optionsOf.get(actor)
    if (options === undefined) {
      options = { wait: false, actor }
      optionsOf.set(actor, options)
    }
    return options
  }
  const health = Effect.zipRight(registry.health, registry.stats)
  // No options object at all for a read of now, the fast lane's only kind.
  const at = (asOf: AsOfInput | undefined): ReadOptions | undefined => (asOf === undefined ? undefined : { asOf })
  return {
    bodyBytesMax: settings.bodyBytesMax,
    register: (name, body, actor) =>
      answer(
        Effect.flatMap(Either.flatMap(parseRegisterBody(name, body), decodeRegisterInputFast), (input) =>
          Effect.map(registry.registerDecoded(input, written(actor)), (outcome) =>
            jsonResponse(encodeVersion(outcome.version), { status: outcome.event === null ? 200 : 201 }),
          ),
        ),
      ),
    listModels: () => summariesNow(registry.listModels),
    getModel: (name, asOf) =>
      modelNow(
        Effect.map(registry.listVersions(name, at(asOf)), (versions) => ({
          name,
          production: versions.find((v) => v.state === "production") ?? null,
          versions,
        })),
      ),
    listVersions: (name, asOf) => versionsNow(registry.listVersions(name, at(asOf))),
    getVersion: (name, version, asOf) => versionNow(registry.get(name, version, at(asOf))),
    annotate: (name, version, body, actor) =>
      outcomeJson(
        Effect.flatMap(parseAnnotationBody(body), (annotation) =>
          registry.annotate(name, version, annotation, written(actor)),
        ),
      ),
    versionHistory: (name, version) => historyNow(registry.history(name, version)),
    annotateModel: (name, body, actor) =>
      modelOutcomeJson(
        Effect.flatMap(parseAnnotationBody(body), (annotation) =>
          registry.annotateModel(name, annotation, written(actor)),
        ),
      ),
    archiveModel: (name, actor) => modelOutcomeJson(registry.archiveModel(name, written(actor))),
    restoreModel: (name, actor) => modelOutcomeJson(registry.restoreModel(name, written(actor))),
    modelHistory: (name) => historyNow(registry.history(name)),
    promote: (name, version, actor) => outcomeJson(registry.promote(name, version, written(actor))),
    deprecate: (name, version, actor) => outcomeJson(registry.deprecate(name, version, written(actor))),
    transition: (name, version, event, actor) => outcomeJson(registry.transition(name, version, event, written(actor))),
    setAlias: (name, alias, body, actor) =>
      aliasOutcomeJson(
        Effect.flatMap(parseAliasBody(body), (version) => registry.setAlias(name, alias, version, written(actor))),
      ),
    getAlias: (name, alias, asOf) => versionNow(registry.resolveAlias(name, alias, at(asOf))),
    removeAlias: (name, alias, actor) => aliasOutcomeJson(registry.removeAlias(name, alias, written(actor))),
    // A load balancer reads /healthz to route writes away: "ok" only while a write can succeed.
    healthz: () => healthNow(health),
  }
}

/** The hot answers of the server's registry and settings. */
export const HotAnswersLive = Effect.map(Effect.all([ModelRegistry, ServerSettings]), ([registry, settings]) =>
  hotAnswers(registry, settings),
)

/** The platform's request's body, read by the runtime's host under the limit, then `write` with it (or the refusal). */
const withBody = (
  hot: HotAnswers,
  request: HttpServerRequest.HttpServerRequest,
  write: (body: string) => Effect.Effect<Answer>,
) =>
  Effect.flatMap(HttpHost, (host) =>
    Effect.async<Answer>((resume) =>
      host.body(request, hot.bodyBytesMax, (text) =>
        resume(Either.isLeft(text) ? Effect.succeed(text.left) : write(text.right)),
      ),
    ),
  )

/**
 * Refuses a query string naming a parameter the route does not read: `?filter=…&max_results=1` once returned
 * every model, as if the filter had matched them all.
 */
/** The query parameters a route may be given several times; every other one is given once. */
const repeatable: ReadonlySet<string> = new Set(["tag", "metric"])

/** The refusal of a query that names a parameter the route does not read, or gives a single one twice. */
const refusedParameter = (request: HttpServerRequest.HttpServerRequest, known: ReadonlyArray<string>) => {
  const query = request.url.indexOf("?")
  if (query < 0) return undefined
  const seen = new Set<string>()
  for (const key of new URLSearchParams(request.url.slice(query + 1)).keys()) {
    if (!known.includes(key))
      return errorResponse(
        edgeError("InvalidInput", `${key}: unknown parameter (this route reads ${known.join(", ")})`, { field: key }),
      )
    if (seen.has(key) && !repeatable.has(key))
      return errorResponse(edgeError("InvalidInput", `${key}: given more than once; give it once`, { field: key }))
    seen.add(key)
  }
  return undefined
}

/** A parameter `refusedParameter` has let through: a single one is one value. */
const once = (given: string | ReadonlyArray<string> | undefined): string | undefined =>
  given === undefined || typeof given === "string" ? given : given[0]

const listOf = (given: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> | undefined =>
  given === undefined || typeof given !== "string" ? given : [given]

const modelsPageNow = (registry: ModelRegistry, text: typeof ModelsParams.Type): Answer => {
  const given = {
    namePrefix: once(text.namePrefix),
    includeArchived: once(text.includeArchived),
    limit: once(text.limit),
    cursor: once(text.cursor),
  }
  const exit = Effect.runSyncExit(Effect.flatMap(modelsFromText(given), registry.listModelsPage))
  if (Exit.isFailure(exit)) return failureResponse(exit.cause)
  const { models, nextCursor } = exit.value
  return jsonResponse(
    encodeSummaries(models),
    nextCursor === null ? {} : { headers: { [nextCursorHeader]: nextCursor } },
  )
}

const searchPageNow = readNow(wireEncoder(SearchPageWire))

const asOfKeys = Object.keys(AsOfParams.fields)
const searchKeys = [...searchTextKeys, ...asOfKeys]

/**
 * A read that may look at the past: answered for now without a query (as the fast lane does), else once the query
 * names nothing but `asOf`.
 */
const maybePast = (
  request: HttpServerRequest.HttpServerRequest,
  urlParams: typeof AsOfParams.Type,
  read: (asOf: AsOfInput | undefined) => Answer,
) =>
  Effect.sync(() =>
    request.url.includes("?")
      ? (refusedParameter(request, asOfKeys) ??
        read(urlParams.asOf === undefined ? undefined : asOfFromText(once(urlParams.asOf)!)))
      : read(undefined),
  )

export const ModelsLive = HttpApiBuilder.group(RegistryApi, "models", (handlers) =>
  Effect.map(Effect.all([HotAnswersLive, ModelRegistry]), ([hot, registry]) =>
    handlers
      .handleRaw("register", ({ path, request }) =>
        Effect.flatMap(requestActor, (actor) => withBody(hot, request, (body) => hot.register(path.name, body, actor))),
      )
      .handleRaw("listModels", ({ urlParams, request }) =>
        Effect.sync(() => {
          if (!request.url.includes("?")) return hot.listModels()
          return refusedParameter(request, Object.keys(ModelsParams.fields)) ?? modelsPageNow(registry, urlParams)
        }),
      )
      .handleRaw("search", ({ urlParams: { asOf, ...text }, request }) =>
        Effect.sync(
          () =>
            refusedParameter(request, searchKeys) ??
            searchPageNow(
              Effect.flatMap(
                searchFromText({
                  namePrefix: once(text.namePrefix),
                  tag: listOf(text.tag),
                  state: once(text.state),
                  alias: once(text.alias),
                  metric: listOf(text.metric),
                  orderBy: once(text.orderBy),
                  order: once(text.order),
                  limit: once(text.limit),
                  cursor: once(text.cursor),
                  includeArchived: once(text.includeArchived),
                }),
                (query) => registry.search(query, asOf === undefined ? undefined : { asOf: asOfFromText(once(asOf)!) }),
              ),
            ),
        ),
      )
      .handleRaw("getModel", ({ path, urlParams, request }) =>
        maybePast(request, urlParams, (asOf) => hot.getModel(path.name, asOf)),
      )
      .handleRaw("listVersions", ({ path, urlParams, request }) =>
        maybePast(request, urlParams, (asOf) => hot.listVersions(path.name, asOf)),
      )
      .handleRaw("getVersion", ({ path, urlParams, request }) =>
        maybePast(request, urlParams, (asOf) => hot.getVersion(path.name, path.version, asOf)),
      )
      .handleRaw("annotate", ({ path, request }) =>
        Effect.flatMap(requestActor, (actor) =>
          withBody(hot, request, (body) => hot.annotate(path.name, path.version, body, actor)),
        ),
      )
      .handleRaw("versionHistory", ({ path }) => Effect.sync(() => hot.versionHistory(path.name, path.version)))
      .handleRaw("annotateModel", ({ path, request }) =>
        Effect.flatMap(requestActor, (actor) =>
          withBody(hot, request, (body) => hot.annotateModel(path.name, body, actor)),
        ),
      )
      .handleRaw("archiveModel", ({ path }) =>
        Effect.flatMap(requestActor, (actor) => hot.archiveModel(path.name, actor)),
      )
      .handleRaw("restoreModel", ({ path }) =>
        Effect.flatMap(requestActor, (actor) => hot.restoreModel(path.name, actor)),
      )
      .handleRaw("modelHistory", ({ path }) => Effect.sync(() => hot.modelHistory(path.name)))
      .handleRaw("promote", ({ path }) =>
        Effect.flatMap(requestActor, (actor) => hot.promote(path.name, path.version, actor)),
      )
      .handleRaw("deprecate", ({ path }) =>
        Effect.flatMap(requestActor, (actor) => hot.deprecate(path.name, path.version, actor)),
      )
      .handleRaw("transition", ({ path }) =>
        Effect.flatMap(requestActor, (actor) => hot.transition(path.name, path.version, path.event, actor)),
      )
      .handleRaw("setAlias", ({ path, request }) =>
        Effect.flatMap(requestActor, (actor) =>
          withBody(hot, request, (body) => hot.setAlias(path.name, path.alias, body, actor)),
        ),
      )
      .handleRaw("getAlias", ({ path, urlParams, request }) =>
        maybePast(request, urlParams, (asOf) => hot.getAlias(path.name, path.alias, asOf)),
      )
      .handleRaw("removeAlias", ({ path }) =>
        Effect.flatMap(requestActor, (actor) => hot.removeAlias(path.name, path.alias, actor)),
      ),
  ),
)

export const LifecycleLive = HttpApiBuilder.group(RegistryApi, "lifecycle", (handlers) =>
  Effect.gen(function* () {
    const registry = yield* ModelRegistry
    // Drawn once: the lifecycle is fixed for the registry's life.
    const mermaid = lifecycleMermaid(registry.lifecycle)
    return handlers.handle("describe", ({ urlParams }) => {
      const format = urlParams.format
      if (format === undefined || format === "json") return Effect.succeed(registry.lifecycle)
      if (format === "mermaid")
        return Effect.succeed(HttpServerResponse.text(mermaid, { contentType: mermaidContentType }))
      return Effect.succeed(
        errorResponse(edgeError("InvalidInput", 'format: must be "json" or "mermaid"', { field: "format" })),
      )
    })
  }),
)

export const EventsLive = HttpApiBuilder.group(RegistryApi, "events", (handlers) =>
  Effect.gen(function* () {
    const registry = yield* ModelRegistry
    const settings = yield* ServerSettings
    const host = yield* HttpHost
    const fanout = yield* EventFanout.make(registry, {
      bufferFramesMax: settings.eventBufferFramesMax ?? EventFanout.defaultBufferFramesMax,
      flushIntervalMs: settings.eventFlushIntervalMs ?? EventFanout.defaultFlushIntervalMs,
      keepAliveMs: settings.keepAliveMs,
      stopping: settings.stopping,
    })
    return handlers.handle("events", ({ urlParams, request }) =>
      answer(
        Effect.gen(function* () {
          const from = yield* resumeFrom(urlParams.from, request.headers["last-event-id"])
          // Refused before the stream starts, so the client gets a status it can act on (an EventSource stops
          // on it instead of reconnecting forever); a compaction between here and its catch-up ends the stream.
          if (from !== undefined) {
            const { firstSeq } = yield* registry.stats
            if (from < firstSeq) return yield* new PositionCompacted({ from, firstSeq })
          }
          return HttpServerResponse.stream(
            fanout.frames(from, () => host.cut(request)),
            {
              contentType: "text/event-stream",
              headers: { "cache-control": "no-cache", "x-accel-buffering": "no" },
            },
          )
        }),
      ),
    )
  }),
)

/** Registry stats as Prometheus families: they live in the actor, not in Effect's metric registry. */
const statsFamilies = (stats: Effect.Effect.Success<ModelRegistry["stats"]>): ReadonlyArray<Family> => {
  const one = (name: string, type: Family["type"], help: string, value: number): Family => ({
    name,
    type,
    help,
    samples: [{ name, labels: [], value }],
  })
  return [
    one("registry_mailbox_depth", "gauge", "commands waiting in the registry mailbox", stats.mailboxDepth),
    one("registry_last_seq", "gauge", "seq of the last committed event", stats.lastSeq),
    one("registry_versions", "gauge", "model versions held", stats.versions),
    one("registry_batches_total", "counter", "group-commit batches written", stats.batches),
    one("registry_appended_records_total", "counter", "records appended to the WAL", stats.appendedRecords),
    one("registry_compactions_total", "counter", "compactions run", stats.compactions),
  ]
}

export const OpsLive = HttpApiBuilder.group(RegistryApi, "ops", (handlers) =>
  Effect.gen(function* () {
    const registry = yield* ModelRegistry
    // The built-in metrics observer feeds registry_events_total{type} and registry_observer_lag; it lives as long
    // as the server, in its own fiber, so a slow /metrics scrape never touches the write path.
    yield* registry.metrics({ from: "now" })
    const { healthz } = yield* HotAnswersLive
    const { processFamilies } = yield* HttpHost
    return handlers
      .handleRaw("healthz", () => Effect.sync(healthz))
      .handle("whoami", () => Effect.map(requestIdentity, ({ name, role }) => ({ name, role })))
      .handle("metrics", () =>
        Effect.gen(function* () {
          const stats = yield* registry.stats
          const snapshot = yield* Metric.snapshot
          const families = [...statsFamilies(stats), ...familiesOf(snapshot), ...processFamilies()]
          return HttpServerResponse.text(renderFamilies(families), {
            contentType: "text/plain; version=0.0.4; charset=utf-8",
          })
        }),
      )
  }),
)
