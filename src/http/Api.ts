/**
 * The HTTP API as an `HttpApi` value: routes, parameters, wire schemas and each endpoint's error answers, from which
 * `/openapi.json` and `/docs` are generated, the remote CLI's client is made, and the server's route labels and
 * `Allow` headers come. The wire schemas are deliberately loose (strings documented with the domain's JSON Schema,
 * JSON objects): validation belongs to the domain's decoders, which answer bad input with `InvalidInput`, so that
 * every rejection carries the same error body instead of the framework's own decode error.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import type * as HttpMethod from "@effect/platform/HttpMethod"
import * as OpenApi from "@effect/platform/OpenApi"
import type * as OpenApiJsonSchema from "@effect/platform/OpenApiJsonSchema"
import { Context, type Effect, type Either, Option, Schema, SchemaAST } from "effect"
import packageJson from "../../package.json" with { type: "json" }
import { AliasName, LifecycleEventName, LifecycleStateName } from "../domain/Lifecycle.ts"
import { IsoTimestamp, RunId, SourceUri, Uuid } from "../domain/ModelMetadata.ts"
import { ModelName } from "../domain/ModelName.ts"
import { searchLimitDefault, searchLimitMax } from "../domain/Search.ts"
import { SemVer } from "../domain/SemVer.ts"
import { type ErrorBody, type ErrorTag, translate } from "../effects/errorStatus.ts"
import type { ModelRegistry } from "../effects/ModelRegistry.ts"
import type { resumeFrom } from "./sse.ts"
import { type Role, roles } from "./tokens.ts"

const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/**
 * A wire string documented with a domain rule's JSON Schema (pattern, format, length). It decodes any string, since
 * the rule is checked by the domain's decoders, whose `InvalidInput` is the one error body.
 */
const documented = (identifier: string, rule: Schema.Schema.Any) =>
  Schema.String.annotations({
    identifier,
    jsonSchema: { type: "string", ...Option.getOrThrow(SchemaAST.getJSONSchemaAnnotation(rule.ast)) },
  })

const NameWire = documented("ModelName", ModelName)
const SemVerWire = documented("SemVer", SemVer)
const UuidWire = documented("Uuid", Uuid)
const TimestampWire = documented("Timestamp", IsoTimestamp)
const SourceWire = documented("SourceUri", SourceUri)
const RunIdWire = documented("RunId", RunId)
const Seq = Schema.Int.pipe(Schema.positive())
const StateWire = documented("LifecycleState", LifecycleStateName)
const EventNameWire = documented("LifecycleEvent", LifecycleEventName)
const AliasWire = documented("AliasName", AliasName)

export const VersionWire = Schema.Struct({
  id: UuidWire,
  name: NameWire,
  version: SemVerWire,
  createdAt: TimestampWire,
  metrics: JsonObject,
  tags: Schema.Record({ key: Schema.String, value: Schema.String }),
  source: Schema.optionalWith(SourceWire, { exact: true }),
  runId: Schema.optionalWith(RunIdWire, { exact: true }),
  description: Schema.optionalWith(Schema.String, { exact: true }),
  state: StateWire,
  aliases: Schema.Array(AliasWire),
}).annotations({ identifier: "ModelVersion" })

const committed = { seq: Seq, at: TimestampWire, actor: Schema.String }
const BindingWire = Schema.Struct({
  name: Schema.String,
  fingerprint: Schema.String,
  exclusive: Schema.Array(StateWire),
})
/** What an annotation changed: each field's value before and after (`null`: absent). */
const FieldChangeWire = Schema.Struct({ from: Schema.NullOr(Schema.String), to: Schema.NullOr(Schema.String) })
const annotated = {
  tags: Schema.Record({ key: Schema.String, value: FieldChangeWire }),
  description: Schema.optionalWith(FieldChangeWire, { exact: true }),
}
export const EventWire = Schema.Union(
  Schema.TaggedStruct("Registered", {
    ...committed,
    metadata: VersionWire.omit("description", "state", "aliases"),
    state: Schema.optionalWith(StateWire, { exact: true }),
  }),
  Schema.TaggedStruct("Promoted", {
    ...committed,
    name: NameWire,
    version: SemVerWire,
    supersedes: Schema.NullOr(SemVerWire),
  }),
  Schema.TaggedStruct("Deprecated", { ...committed, name: NameWire, version: SemVerWire }),
  Schema.TaggedStruct("Transitioned", {
    ...committed,
    name: NameWire,
    version: SemVerWire,
    event: EventNameWire,
    from: StateWire,
    to: StateWire,
    displaced: Schema.Array(Schema.Struct({ version: SemVerWire, from: StateWire, to: StateWire })),
    aliasesCleared: Schema.Array(Schema.Struct({ alias: AliasWire, version: SemVerWire })),
  }),
  Schema.TaggedStruct("AliasSet", {
    ...committed,
    name: NameWire,
    alias: AliasWire,
    version: SemVerWire,
    previous: Schema.NullOr(SemVerWire),
  }),
  Schema.TaggedStruct("AliasRemoved", { ...committed, name: NameWire, alias: AliasWire, version: SemVerWire }),
  Schema.TaggedStruct("LifecycleChanged", {
    ...committed,
    from: BindingWire,
    to: BindingWire,
    mapping: Schema.Record({ key: StateWire, value: StateWire }),
    changes: Schema.Array(Schema.Struct({ name: NameWire, version: SemVerWire, from: StateWire, to: StateWire })),
    aliasesCleared: Schema.Array(Schema.Struct({ name: NameWire, alias: AliasWire, version: SemVerWire })),
  }),
  Schema.TaggedStruct("VersionAnnotated", { ...committed, name: NameWire, version: SemVerWire, ...annotated }),
  Schema.TaggedStruct("ModelAnnotated", { ...committed, name: NameWire, ...annotated }),
  Schema.TaggedStruct("ModelArchived", { ...committed, name: NameWire }),
  Schema.TaggedStruct("ModelRestored", { ...committed, name: NameWire }),
).annotations({ identifier: "RegistryEvent" })

/** A lifecycle command's answer: the version as committed and the event recorded (`null`: nothing changed). */
export const OutcomeWire = Schema.Struct({ version: VersionWire, event: Schema.NullOr(EventWire) }).annotations({
  identifier: "Outcome",
})

/** An alias command's answer: the version the alias names (for a removal, named; `null`: it was not set). */
export const AliasOutcomeWire = Schema.Struct({
  alias: AliasWire,
  version: Schema.NullOr(VersionWire),
  event: Schema.NullOr(EventWire),
}).annotations({ identifier: "AliasOutcome" })

/** The lifecycle the server runs (src/actors/lifecycleDefinition.ts `LifecycleDescription`). */
export const LifecycleWire = Schema.Struct({
  name: Schema.String,
  fingerprint: Schema.String,
  initial: StateWire,
  states: Schema.Array(StateWire),
  events: Schema.Array(EventNameWire),
  transitions: Schema.Array(
    Schema.Struct({ from: StateWire, event: EventNameWire, to: StateWire, guarded: Schema.Boolean }),
  ),
  terminal: Schema.Array(StateWire),
  exclusive: Schema.Record({ key: StateWire, value: EventNameWire }).annotations({
    description: "exclusive state → the event that displaces its holder",
  }),
  aliases: Schema.Record({ key: AliasWire, value: Schema.Array(StateWire) }).annotations({
    description: "declared alias → the states its version may be in (undeclared aliases are unconstrained)",
  }),
}).annotations({ identifier: "Lifecycle" })

export const SummaryWire = Schema.Struct({
  name: NameWire,
  production: Schema.NullOr(SemVerWire),
  versionCount: Schema.Int.pipe(Schema.positive()),
  latest: SemVerWire,
  holders: Schema.Record({ key: StateWire, value: SemVerWire }),
  aliases: Schema.Record({ key: AliasWire, value: SemVerWire }),
  description: Schema.optionalWith(Schema.String, { exact: true }),
  tags: Schema.Record({ key: Schema.String, value: Schema.String }),
  archived: Schema.Boolean,
  lastChange: Schema.NullOr(
    Schema.Struct({ seq: Schema.Int.pipe(Schema.positive()), at: Schema.String, actor: Schema.String }).annotations({
      identifier: "LastChange",
      description: "The model's newest event; null where the history does not reach it",
    }),
  ),
}).annotations({ identifier: "ModelSummary" })

/** A model's own record: its annotations and whether it is archived. */
export const ModelInfoWire = Schema.Struct({
  name: NameWire,
  description: Schema.optionalWith(Schema.String, { exact: true }),
  tags: Schema.Record({ key: Schema.String, value: Schema.String }),
  archived: Schema.Boolean,
}).annotations({ identifier: "ModelInfo" })

/** A model command's answer: the model's record as committed and the event recorded (`null`: nothing changed). */
export const ModelOutcomeWire = Schema.Struct({ model: ModelInfoWire, event: Schema.NullOr(EventWire) }).annotations({
  identifier: "ModelOutcome",
})

export const HistoryWire = Schema.Struct({
  name: NameWire,
  version: Schema.optionalWith(SemVerWire, { exact: true }),
  since: Schema.Int.pipe(Schema.nonNegative()).annotations({
    description: "the changes are complete after this seq (0 unless opened from a snapshot that kept no history)",
  }),
  events: Schema.Array(EventWire),
}).annotations({ identifier: "History" })

export const ModelWire = Schema.Struct({
  name: NameWire,
  production: Schema.NullOr(VersionWire),
  versions: Schema.Array(VersionWire),
}).annotations({ identifier: "Model" })

/**
 * Documents the register body. The handler reads it raw (its own body limit, content type and error bodies) and
 * decodes it with the registry's fast decoder (domain/fastDecode.ts), so every field error is `InvalidInput`.
 */
export const RegisterBody = Schema.Struct({
  version: SemVerWire,
  metrics: Schema.optional(JsonObject),
  tags: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  id: Schema.optional(UuidWire),
  createdAt: Schema.optional(TimestampWire),
  source: Schema.optional(SourceWire),
  runId: Schema.optional(RunIdWire),
}).annotations({ identifier: "RegisterBody" })

/** Documents the alias body; the handler reads and decodes it itself, as register's (so every error is `InvalidInput`). */
export const SetAliasBody = Schema.Struct({ version: SemVerWire }).annotations({ identifier: "SetAliasBody" })

/**
 * Documents the annotate bodies; the handler reads it itself, as register's, and the registry decodes it, so every
 * error is `InvalidInput`.
 */
export const AnnotationBody = Schema.Struct({
  tags: Schema.optional(
    Schema.Record({ key: Schema.String, value: Schema.NullOr(Schema.String) }).annotations({
      description: "tags to set; `null` removes one",
    }),
  ),
  description: Schema.optional(Schema.NullOr(Schema.String).annotations({ description: "`null` removes it" })),
}).annotations({ identifier: "AnnotationBody", description: "at least one of `tags` and `description`" })

const name = HttpApiSchema.param("name", NameWire)
const version = HttpApiSchema.param("version", SemVerWire)
const event = HttpApiSchema.param("event", EventNameWire)
const alias = HttpApiSchema.param("alias", AliasWire)

const eventStream = Schema.String.pipe(
  HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/event-stream" }),
).annotations({
  description:
    "first `retry: <ms>` and `id: <the seq before the first event sent>` (no data), then one frame per event: " +
    "`id: <seq>`, `event: <type>`, `data: <the event as JSON>`; a stream that cannot go on ends with a " +
    "`stream-error` event whose data is the error body",
})
const prometheusText = Schema.String.pipe(
  HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/plain; version=0.0.4" }),
).annotations({ description: "the Prometheus text exposition format 0.0.4" })

type TagOf<E> = E extends { readonly _tag: infer T extends ErrorTag } ? T : never
type FailureOf<K extends keyof ModelRegistry> = ModelRegistry[K] extends (
  ...args: ReadonlyArray<never>
) => Effect.Effect<unknown, infer E>
  ? TagOf<E>
  : ModelRegistry[K] extends Effect.Effect<unknown, infer E>
    ? TagOf<E>
    : never

/**
 * The tags a handler fails with, listed, and checked by the compiler to be exactly `T` (the registry call's error
 * type): a handler that can fail in a new way fails the build until its endpoint declares it.
 */
const exactly =
  <T extends ErrorTag>() =>
  <const L extends ReadonlyArray<T>>(
    ...tags: L & ([Exclude<T, L[number]>] extends [never] ? unknown : { readonly missing: Exclude<T, L[number]> })
  ): ReadonlyArray<ErrorTag> =>
    tags

/**
 * The role a token needs to call an endpoint (src/http/tokens.ts), declared on the endpoint itself with `requires`,
 * before its `failingWith`, so the edge's check, the declared 403 and the docs read one statement.
 */
export class RequiredRole extends Context.Tag("@visutility/model-registry/http/RequiredRole")<RequiredRole, Role>() {}

const requiredRoleOf = (annotations: Context.Context<never>): Role =>
  Option.getOrElse(Context.getOption(annotations, RequiredRole), () => {
    throw new Error("an endpoint declares no required role: add `requires(...)` before its `failingWith`")
  })

/** Declares the role an endpoint requires. */
const requires =
  (role: Role) =>
  <N extends string, M extends HttpMethod.HttpMethod, P, U, B, H, S, E, R, RE>(
    endpoint: HttpApiEndpoint.HttpApiEndpoint<N, M, P, U, B, H, S, E, R, RE>,
  ): HttpApiEndpoint.HttpApiEndpoint<N, M, P, U, B, H, S, E, R, RE> =>
    endpoint.annotate(RequiredRole, role)

/** The methods whose requests carry a JSON body or none: the edge refuses any of them not declared JSON. */
export const jsonBodyMethods: ReadonlySet<string> = new Set<HttpMethod.HttpMethod>(["POST", "PUT", "PATCH"])

/**
 * What the edge (src/http/Server.ts) refuses before a handler runs: a path that is not valid percent-encoding (only
 * a path with parameters can be one of ours and still fail that), a missing token (when one is set), a token whose
 * role is below the endpoint's (never on a reader's), a foreign
 * origin or host, a declared body over the limit, and a write of `jsonBodyMethods` not declared JSON.
 */
const edgeTags = (
  method: HttpMethod.HttpMethod,
  path: string,
  annotations: Context.Context<never>,
): ReadonlyArray<ErrorTag> => [
  ...(path.includes(":") ? (["InvalidInput"] as const) : []),
  "Unauthorized",
  ...(requiredRoleOf(annotations) === "reader" ? [] : (["Forbidden"] as const)),
  "CrossOrigin",
  "MisdirectedRequest",
  "PayloadTooLarge",
  ...(jsonBodyMethods.has(method) ? (["UnsupportedMediaType"] as const) : []),
]

type ErrorBodyType = typeof ErrorBody.Type

/** The error body of one status, its `tag` one of the tags that answer with it. */
const errorBodyOf = (tags: ReadonlyArray<ErrorTag>) =>
  Schema.Struct({
    error: Schema.Struct(
      { tag: Schema.Literal(...(tags as [ErrorTag, ...Array<ErrorTag>])), message: Schema.String },
      Schema.Record({ key: Schema.String, value: Schema.Unknown }),
    ),
  }).annotations({ description: tags.join(", ") }) as unknown as Schema.Schema<ErrorBodyType, typeof ErrorBody.Encoded>

const retryAfter: OpenApiJsonSchema.JsonSchema = { type: "integer", minimum: 0 }

/**
 * Declares an endpoint's errors: its handler's `tags` and the edge's, one error answer per status of the one
 * table (src/effects/errorStatus.ts), with `Retry-After` where the table gives one. `responses` edits the rest of
 * the operation's answers in the same transform, since an endpoint keeps only its last one.
 */
const failingWith =
  (tags: ReadonlyArray<ErrorTag>, responsesAlso: (responses: Responses) => Responses = (responses) => responses) =>
  <N extends string, M extends HttpMethod.HttpMethod, P, U, B, H, S, E, R, RE>(
    endpoint: HttpApiEndpoint.HttpApiEndpoint<N, M, P, U, B, H, S, E, R, RE>,
  ): HttpApiEndpoint.HttpApiEndpoint<N, M, P, U, B, H, S, E | ErrorBodyType, R, RE> => {
    const byStatus = new Map<number, Array<ErrorTag>>()
    for (const tag of new Set([...tags, ...edgeTags(endpoint.method, endpoint.path, endpoint.annotations)])) {
      const status = translate(tag).status
      byStatus.set(status, [...(byStatus.get(status) ?? []), tag])
    }
    let declared = endpoint as HttpApiEndpoint.HttpApiEndpoint<N, M, P, U, B, H, S, E | ErrorBodyType, R, RE>
    const retried: Array<string> = []
    for (const [status, statusTags] of [...byStatus].sort(([a], [b]) => a - b)) {
      declared = declared.addError(errorBodyOf(statusTags), { status })
      if (statusTags.some((tag) => translate(tag).retryAfterSeconds !== undefined)) retried.push(String(status))
    }
    return declared.annotate(OpenApi.Transform, (operation) => {
      const responses = responsesAlso(withoutDecodeError(operation.responses as Responses))
      for (const status of retried)
        responses[status] = {
          ...responses[status],
          headers: { "Retry-After": { description: "seconds to wait before retrying", schema: retryAfter } },
        }
      return { ...operation, responses }
    })
  }

interface JsonSchemaRef {
  readonly $ref?: string
  readonly description?: string
  readonly anyOf?: ReadonlyArray<JsonSchemaRef>
}
interface Response {
  readonly content?: Readonly<Record<string, { readonly schema: JsonSchemaRef }>>
  readonly [field: string]: unknown
}
type Responses = Record<string, Response>

/**
 * The framework declares its own decode error on every operation. No request can get it here: every wire schema a
 * request is decoded with accepts what it is given, so every refusal is one of the table's errors.
 */
const decodeErrorRef = "#/components/schemas/HttpApiDecodeError"
const withoutDecodeError = (responses: Responses): Responses => {
  const result: Responses = {}
  for (const [status, response] of Object.entries(responses)) {
    const schema = response.content?.["application/json"]?.schema
    const members = (schema?.anyOf ?? (schema ? [schema] : [])).filter((member) => member.$ref !== decodeErrorRef)
    if (schema === undefined) result[status] = response
    else if (members.length === 1)
      result[status] = {
        ...response,
        description: members[0]!.description ?? response.description,
        content: { "application/json": { schema: members[0]! } },
      }
    else if (members.length > 1)
      result[status] = { ...response, content: { "application/json": { schema: { anyOf: members } } } }
  }
  return result
}

/**
 * Promote, deprecate and any transition fail alike (a lifecycle change), `InvalidInput` for their path's name,
 * version and event.
 */
const changeFailures = exactly<FailureOf<"promote"> | FailureOf<"deprecate"> | FailureOf<"transition">>()(
  "InvalidInput",
  "ModelNotFound",
  "VersionNotFound",
  "InvalidTransition",
  "ModelIsArchived",
  "Overloaded",
  "StorageFailed",
  "RegistryClosed",
)

const readFailures = exactly<FailureOf<"listVersions">>()("InvalidInput", "HistoryUnavailable", "ModelNotFound")

const setAliasFailures = exactly<FailureOf<"setAlias">>()(
  "InvalidInput",
  "ModelNotFound",
  "VersionNotFound",
  "AliasNotAllowed",
  "ModelIsArchived",
  "Overloaded",
  "StorageFailed",
  "RegistryClosed",
)

/**
 * A removal names no version and checks no constraint (lifecycleRules.ts `decideAlias`), so of the alias commands'
 * errors it can meet only these; the type it shares with `setAlias` says more.
 */
const removeAliasFailures = exactly<Exclude<FailureOf<"removeAlias">, "VersionNotFound" | "AliasNotAllowed">>()(
  "InvalidInput",
  "ModelNotFound",
  "ModelIsArchived",
  "Overloaded",
  "StorageFailed",
  "RegistryClosed",
)

const annotateFailures = exactly<FailureOf<"annotate">>()(
  "InvalidInput",
  "ModelNotFound",
  "VersionNotFound",
  "ModelIsArchived",
  "Overloaded",
  "StorageFailed",
  "RegistryClosed",
)

/** Annotating, archiving and restoring a model fail alike. */
const modelCommandFailures = exactly<
  FailureOf<"annotateModel"> | FailureOf<"archiveModel"> | FailureOf<"restoreModel">
>()("InvalidInput", "ModelNotFound", "ModelIsArchived", "Overloaded", "StorageFailed", "RegistryClosed")

/** A query-string parameter that may be repeated (`?tag=a=1&tag=b=2`): one value or several. */
const Repeated = (description: string) =>
  Schema.Union(Schema.String, Schema.Array(Schema.String)).annotations({ description })

/**
 * A query-string parameter given once. Declared as one value or several, like `Repeated`, so that a repeated one
 * reaches the handler, which refuses it with the table's `InvalidInput` (handlers.ts `refusedParameter`) rather than
 * the framework's decode error; documented as the single value it is.
 */
const Text = (description: string, jsonSchema: object = { type: "string" }) =>
  Schema.Union(Schema.String, Schema.Array(Schema.String)).annotations({ description, jsonSchema })

const pageParams = {
  limit: Schema.optional(
    Text(`page size, 1–${searchLimitMax}`, { type: "integer", minimum: 1, maximum: searchLimitMax }),
  ),
  cursor: Schema.optional(Text("the `nextCursor` of the previous page of the same query")),
}

const includeArchived = Schema.optional(
  Text("`true`: archived models too (left out by default)", { type: "boolean", default: false }),
)

/** `?asOf=`: the moment a read answers for, in the text form `decodeAsOf` reads (domain/AsOf.ts). */
const asOf = Schema.optional(
  Text(
    "read the registry as it was then: `seq:N` (or a bare `N`), right after the event of that seq, or an " +
      "ISO-8601 timestamp with its zone, after every event committed at or before it. 410 HistoryUnavailable " +
      "before the history's start",
    { type: "string", examples: ["seq:42", "2026-11-20T10:00:00Z"] },
  ),
)

export const AsOfParams = Schema.Struct({ asOf })

export const ModelsParams = Schema.Struct({
  namePrefix: Schema.optional(Text("only models whose name starts with this")),
  includeArchived,
  ...pageParams,
})

export const SearchParams = Schema.Struct({
  namePrefix: Schema.optional(Text("only versions of models whose name starts with this")),
  tag: Schema.optional(Repeated("`key=value`: the version's tag `key` is exactly `value`; repeat for several")),
  state: Schema.optional(Text("only versions in this lifecycle state")),
  alias: Schema.optional(Text("only the version this alias of its model names")),
  metric: Schema.optional(
    Repeated("`name<op>number`, op one of < <= > >= = != (e.g. `accuracy>=0.9`); repeat for several"),
  ),
  orderBy: Schema.optional(Text('"version" (model name, then SemVer; the default), "createdAt" or "metric.<name>"')),
  // Text, not a literal: every refusal is the table's InvalidInput, never the framework's decode error.
  order: Schema.optional(Text("asc (default) or desc", { type: "string", enum: ["asc", "desc"] })),
  includeArchived,
  asOf,
  ...pageParams,
})

export const SearchPageWire = Schema.Struct({
  versions: Schema.Array(VersionWire),
  nextCursor: Schema.NullOr(Schema.String).annotations({
    description: "pass as `cursor` with the same query for the next page; null on the last page",
  }),
}).annotations({ identifier: "SearchPage" })

/** The response header that carries a models page's next cursor, since the body stays the array it always was. */
export const nextCursorHeader = "x-next-cursor"

export class ModelsGroup extends HttpApiGroup.make("models")
  .add(
    HttpApiEndpoint.post("register")`/models/${name}/versions`
      .setPayload(RegisterBody)
      .addSuccess(VersionWire, { status: 201 })
      .addSuccess(VersionWire.annotations({ description: "an identical repeat: nothing written" }))
      .pipe(requires("writer"))
      .pipe(
        failingWith([
          ...exactly<FailureOf<"registerDecoded">>()(
            // The body, read and decoded by the handler itself: its fields, and the token's name as the actor.
            "InvalidInput",
            "VersionConflict",
            "ModelIsArchived",
            "Overloaded",
            "StorageFailed",
            "RegistryClosed",
          ),
          // The body's size as it arrives.
          "PayloadTooLarge",
        ]),
      )
      .annotate(OpenApi.Summary, "Register a model version")
      .annotate(OpenApi.Description, "201 when recorded, 200 for an idempotent repeat, 409 VersionConflict otherwise"),
  )
  .add(
    HttpApiEndpoint.get("listModels", "/models")
      .setUrlParams(ModelsParams)
      .addSuccess(Schema.Array(SummaryWire))
      .pipe(requires("reader"))
      .pipe(failingWith(exactly<FailureOf<"listModelsPage">>()("InvalidInput")))
      .annotate(OpenApi.Summary, "List the models")
      .annotate(
        OpenApi.Description,
        "In name order; every model but the archived ones (`includeArchived=true`: those too) unless `limit` is " +
          "given. When more follow, the `X-Next-Cursor` header holds the cursor of the next page. An unknown " +
          "parameter is refused.",
      ),
  )
  .add(
    HttpApiEndpoint.get("search", "/versions")
      .setUrlParams(SearchParams)
      .addSuccess(SearchPageWire)
      .pipe(requires("reader"))
      .pipe(failingWith(exactly<FailureOf<"search">>()("InvalidInput", "HistoryUnavailable")))
      .annotate(OpenApi.Summary, "Search versions")
      .annotate(
        OpenApi.Description,
        `Versions matching every filter given, ${searchLimitDefault} a page unless \`limit\` says otherwise. ` +
          "A cursor stays valid while writes go on: no version is repeated, and none that matches throughout " +
          "is skipped. Archived models' versions only with `includeArchived=true`; with `asOf`, the versions as " +
          "they were then. An unknown parameter is refused.",
      ),
  )
  .add(
    HttpApiEndpoint.get("getModel")`/models/${name}`
      .setUrlParams(AsOfParams)
      .addSuccess(ModelWire)
      .pipe(requires("reader"))
      .pipe(failingWith(readFailures))
      .annotate(OpenApi.Summary, "Get a model, its production version and its versions"),
  )
  .add(
    HttpApiEndpoint.get("listVersions")`/models/${name}/versions`
      .setUrlParams(AsOfParams)
      .addSuccess(Schema.Array(VersionWire))
      .pipe(requires("reader"))
      .pipe(failingWith(readFailures))
      .annotate(OpenApi.Summary, "List a model's versions")
      .annotate(OpenApi.Description, "in semver precedence order"),
  )
  .add(
    HttpApiEndpoint.get("getVersion")`/models/${name}/versions/${version}`
      .setUrlParams(AsOfParams)
      .addSuccess(VersionWire)
      .pipe(requires("reader"))
      .pipe(
        failingWith(
          exactly<FailureOf<"get">>()("InvalidInput", "HistoryUnavailable", "ModelNotFound", "VersionNotFound"),
        ),
      )
      .annotate(OpenApi.Summary, "Get a model version"),
  )
  .add(
    HttpApiEndpoint.patch("annotate")`/models/${name}/versions/${version}`
      .setPayload(AnnotationBody)
      .addSuccess(OutcomeWire)
      .pipe(requires("writer"))
      .pipe(failingWith([...annotateFailures, "PayloadTooLarge"]))
      .annotate(OpenApi.Summary, "Set or remove a version's tags and description")
      .annotate(
        OpenApi.Description,
        "`tags`: `{key: value}` sets, `{key: null}` removes; `description`: text, or `null` to remove it. One " +
          "event names each changed field's value before and after; `event: null` when nothing changed. 409 " +
          "ModelIsArchived for an archived model.",
      ),
  )
  .add(
    HttpApiEndpoint.get("versionHistory")`/models/${name}/versions/${version}/history`
      .addSuccess(HistoryWire)
      .pipe(requires("reader"))
      .pipe(failingWith(exactly<FailureOf<"history">>()("InvalidInput", "ModelNotFound", "VersionNotFound")))
      .annotate(OpenApi.Summary, "A version's changes")
      .annotate(
        OpenApi.Description,
        "Its registration, every state change, alias and annotation, oldest first, each with its seq, time and actor.",
      ),
  )
  .add(
    HttpApiEndpoint.patch("annotateModel")`/models/${name}`
      .setPayload(AnnotationBody)
      .addSuccess(ModelOutcomeWire)
      .pipe(requires("writer"))
      .pipe(failingWith([...modelCommandFailures, "PayloadTooLarge"]))
      .annotate(OpenApi.Summary, "Set or remove a model's own tags and description")
      .annotate(OpenApi.Description, "As a version's annotation (PATCH /models/{name}/versions/{version})."),
  )
  .add(
    HttpApiEndpoint.post("archiveModel")`/models/${name}/archive`
      .addSuccess(ModelOutcomeWire)
      .pipe(requires("admin"))
      .pipe(failingWith(modelCommandFailures))
      .annotate(OpenApi.Summary, "Archive a model")
      .annotate(
        OpenApi.Description,
        "Left out of GET /models and search unless `includeArchived=true`, and every change but a restore " +
          "refused with 409 ModelIsArchived. Nothing is deleted: reads by name still answer. Idempotent.",
      ),
  )
  .add(
    HttpApiEndpoint.post("restoreModel")`/models/${name}/restore`
      .addSuccess(ModelOutcomeWire)
      .pipe(requires("admin"))
      .pipe(failingWith(modelCommandFailures))
      .annotate(OpenApi.Summary, "Bring an archived model back")
      .annotate(OpenApi.Description, "Idempotent: restoring a model that is not archived answers `event: null`."),
  )
  .add(
    HttpApiEndpoint.get("modelHistory")`/models/${name}/history`
      .addSuccess(HistoryWire)
      .pipe(requires("reader"))
      .pipe(
        // Without a version, only the model can be missing.
        failingWith(exactly<Exclude<FailureOf<"history">, "VersionNotFound">>()("InvalidInput", "ModelNotFound")),
      )
      .annotate(OpenApi.Summary, "A model's changes")
      .annotate(
        OpenApi.Description,
        "Every registration and change of the model and its versions, oldest first, with each one's seq, time and actor.",
      ),
  )
  .add(
    HttpApiEndpoint.post("promote")`/models/${name}/versions/${version}/promote`
      .addSuccess(OutcomeWire)
      .pipe(requires("admin"))
      .pipe(failingWith(changeFailures))
      .annotate(OpenApi.Summary, "Promote a version to production")
      .annotate(OpenApi.Description, "The model's production version, if another, goes back to registered."),
  )
  .add(
    HttpApiEndpoint.post("deprecate")`/models/${name}/versions/${version}/deprecate`
      .addSuccess(OutcomeWire)
      .pipe(requires("admin"))
      .pipe(failingWith(changeFailures))
      .annotate(OpenApi.Summary, "Deprecate a version"),
  )
  .add(
    HttpApiEndpoint.post("transition")`/models/${name}/versions/${version}/transitions/${event}`
      .addSuccess(OutcomeWire)
      .pipe(requires("admin"))
      .pipe(failingWith(changeFailures))
      .annotate(OpenApi.Summary, "Send a lifecycle event to a version")
      .annotate(
        OpenApi.Description,
        "Any event of the server's lifecycle (GET /lifecycle). The answer names the versions the event displaced " +
          "from an exclusive state and the aliases it cleared; `event: null` when the version already had it.",
      ),
  )
  .add(
    HttpApiEndpoint.put("setAlias")`/models/${name}/aliases/${alias}`
      .setPayload(SetAliasBody)
      .addSuccess(AliasOutcomeWire)
      .pipe(requires("admin"))
      .pipe(failingWith([...setAliasFailures, "PayloadTooLarge"]))
      .annotate(OpenApi.Summary, "Point an alias at a version")
      .annotate(
        OpenApi.Description,
        "Moving an alias is one event that names its previous version. 409 AliasNotAllowed when the lifecycle " +
          "declares the states the alias may point at and the version is in another.",
      ),
  )
  .add(
    HttpApiEndpoint.get("getAlias")`/models/${name}/aliases/${alias}`
      .setUrlParams(AsOfParams)
      .addSuccess(VersionWire)
      .pipe(requires("reader"))
      .pipe(
        failingWith(
          exactly<FailureOf<"resolveAlias">>()("InvalidInput", "HistoryUnavailable", "ModelNotFound", "AliasNotFound"),
        ),
      )
      .annotate(OpenApi.Summary, "Get the version an alias names"),
  )
  .add(
    HttpApiEndpoint.del("removeAlias")`/models/${name}/aliases/${alias}`
      .addSuccess(AliasOutcomeWire)
      .pipe(requires("admin"))
      .pipe(failingWith(removeAliasFailures))
      .annotate(OpenApi.Summary, "Remove an alias")
      .annotate(
        OpenApi.Description,
        "Idempotent: removing an alias that is not set answers 200 with `version: null` and `event: null`.",
      ),
  )
  .annotate(OpenApi.Description, "Models, their versions and their lifecycle") {}

/**
 * `from` as a query gives it: once, a string; repeated, a list, which reaches the handler joined, so that its
 * decoder refuses it as `InvalidInput` rather than the framework with its own error body.
 */
const FromParam = Schema.Union(Schema.String, Schema.Array(Schema.String))
  .pipe(
    Schema.transform(Schema.String, {
      strict: true,
      decode: (given) => (typeof given === "string" ? given : given.join(",")),
      encode: (from) => from,
    }),
  )
  .annotations({ jsonSchema: { type: "integer", minimum: 1 }, description: "the seq of the first event to send" })

/** The event stream; the remote CLI reads its path here, since an SSE body cannot go through the typed client. */
export const eventsEndpoint = HttpApiEndpoint.get("events", "/events")
  .setUrlParams(Schema.Struct({ from: Schema.optional(FromParam) }))
  .setHeaders(
    Schema.Struct({
      "last-event-id": Schema.optional(
        Schema.String.annotations({
          jsonSchema: { type: "integer", minimum: 0 },
          description: "the seq of the last event received: the stream resumes after it, whatever `from` says",
        }),
      ),
    }),
  )
  .addSuccess(eventStream)
  .pipe(requires("reader"))
  .pipe(
    failingWith([
      ...exactly<TagOf<Either.Either.Left<ReturnType<typeof resumeFrom>>>>()("InvalidInput"),
      // A start the log no longer holds, checked before the stream starts.
      "PositionCompacted",
    ]),
  )
  .annotate(OpenApi.Summary, "Stream the committed events")
  .annotate(
    OpenApi.Description,
    "Server-Sent Events from seq `from` (or after `Last-Event-ID`), replayed from the log, then live; without " +
      "either, live only. A start compaction has removed is answered 410 `PositionCompacted` with `firstSeq`, the " +
      "first event still available. A stream that cannot go on (a compaction overtaking a client still catching " +
      "up, a failed registry) ends with a `stream-error` event (not `error`, which EventSource fires itself on " +
      "every dropped connection) whose data is the error body.",
  )

export class EventsGroup extends HttpApiGroup.make("events")
  .add(eventsEndpoint)
  .annotate(OpenApi.Description, "The committed events, in order and without gaps") {}

/** `format` as a query gives it; a repeated one reaches the handler as a list, which it refuses as `InvalidInput`. */
const FormatParam = Schema.Union(Schema.String, Schema.Array(Schema.String)).annotations({
  jsonSchema: { type: "string", enum: ["json", "mermaid"], default: "json" },
  description: "`mermaid`: the lifecycle as a Mermaid stateDiagram-v2 (text/vnd.mermaid) instead of JSON",
})

export const mermaidContentType = "text/vnd.mermaid; charset=utf-8"

/** The 200's second form, which the handler answers for `format=mermaid` (an endpoint declares one success body). */
const withMermaidAnswer = (responses: Responses): Responses => {
  const ok = responses["200"]!
  const mermaid = { schema: { type: "string", description: "a Mermaid stateDiagram-v2" } as JsonSchemaRef }
  return { ...responses, "200": { ...ok, content: { ...ok.content, "text/vnd.mermaid": mermaid } } }
}

/** The lifecycle's description; the remote CLI reads its Mermaid form raw, at this path. */
export const lifecycleEndpoint = HttpApiEndpoint.get("describe", "/lifecycle")
  .setUrlParams(Schema.Struct({ format: Schema.optional(FormatParam) }))
  .addSuccess(LifecycleWire)
  .pipe(requires("reader"))
  .pipe(failingWith(["InvalidInput"], withMermaidAnswer))
  .annotate(OpenApi.Summary, "Describe the lifecycle the server runs")
  .annotate(
    OpenApi.Description,
    "Its states, events, transitions (guarded or not), terminal and exclusive states and alias constraints; " +
      "with `format=mermaid`, the same as a Mermaid stateDiagram-v2.",
  )

export class LifecycleGroup extends HttpApiGroup.make("lifecycle")
  .add(lifecycleEndpoint)
  .annotate(OpenApi.Description, "The lifecycle versions follow: what the transitions and aliases accept") {}

export class OpsGroup extends HttpApiGroup.make("ops")
  .add(
    HttpApiEndpoint.get("healthz", "/healthz")
      .addSuccess(
        Schema.Struct({
          status: Schema.Literal("ok"),
          lastSeq: Schema.Int.pipe(Schema.nonNegative()),
        }),
      )
      .pipe(requires("reader"))
      .pipe(failingWith(exactly<FailureOf<"health">>()("StorageFailed", "RegistryClosed")))
      .annotate(OpenApi.Summary, "Whether writes can succeed")
      .annotate(OpenApi.Description, "200 while a write can succeed; 503 with the failure otherwise"),
  )
  .add(
    HttpApiEndpoint.get("whoami", "/whoami")
      .addSuccess(
        Schema.Struct({ name: Schema.String, role: Schema.Literal(...roles) }).annotations({ identifier: "Identity" }),
      )
      .pipe(requires("reader"))
      .pipe(failingWith([]))
      .annotate(OpenApi.Summary, "Who the request's token is")
      .annotate(
        OpenApi.Description,
        "The token's name (the actor its writes record) and its role, so a client offers only what the role may " +
          "do; a server without tokens answers `(anonymous)`, an admin.",
      ),
  )
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(prometheusText)
      .pipe(requires("reader"))
      .pipe(failingWith([]))
      .annotate(OpenApi.Summary, "Prometheus metrics"),
  )
  .annotate(OpenApi.Description, "Health and metrics, for load balancers and monitoring") {}

export class RegistryApi extends HttpApi.make("model-registry")
  .add(ModelsGroup)
  .add(EventsGroup)
  .add(LifecycleGroup)
  .add(OpsGroup)
  .annotate(OpenApi.Title, "VisuTility Model Registry")
  .annotate(OpenApi.Version, packageJson.version)
  .annotate(OpenApi.License, { name: packageJson.license, url: "https://spdx.org/licenses/MIT.html" })
  .annotate(OpenApi.Servers, [{ url: "/", description: "the server that serves this document" }])
  .annotate(
    OpenApi.Description,
    'Errors answer `{ "error": { "tag", "message", ...fields } }`. With tokens configured, send `Authorization: Bearer <secret>`.',
  )
  .annotate(OpenApi.Transform, (spec) => {
    // Only the framework's decode error (see `withoutDecodeError`) used these.
    const { HttpApiDecodeError: _, Issue: __, PropertyKey: ___, ...schemas } = spec.components.schemas
    // The token is the server's choice (`--token`): either the bearer scheme or nothing, as the empty requirement says.
    const securitySchemes = {
      ...spec.components.securitySchemes,
      bearerToken: {
        type: "http",
        scheme: "bearer",
        description:
          "a token given to `serve --token NAME:ROLE:SECRET` (or `--tokens-file`): a reader may read and follow " +
          "events, a writer also register, an admin also transition versions and set or remove aliases; a role " +
          "below the route's is answered 403 Forbidden. /healthz and the docs need none unless `--public none`",
      },
    }
    return {
      ...spec,
      components: { ...spec.components, schemas, securitySchemes },
      security: [{ bearerToken: [] }, {}],
    }
  }) {}

/** A declared path as a pattern: a parameter is one segment, as the router matches it. */
const pathPattern = (path: string) =>
  new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:\w+/g, "[^/]+")}$`)

/** One declared route: its endpoint's name, method and path template (`/models/:name/versions`). */
export interface DeclaredRoute {
  readonly name: string
  readonly method: HttpMethod.HttpMethod
  readonly path: string
  readonly role: Role
}

const declaredRoutes: Array<DeclaredRoute & { readonly pattern: RegExp }> = []
HttpApi.reflect(RegistryApi, {
  onGroup: () => {},
  onEndpoint: ({ endpoint }) => {
    declaredRoutes.push({
      name: endpoint.name,
      method: endpoint.method,
      path: endpoint.path,
      role: requiredRoleOf(endpoint.annotations),
      pattern: pathPattern(endpoint.path),
    })
  },
})

/** Every declared route. */
export const declaredRouteList = (): ReadonlyArray<DeclaredRoute> => declaredRoutes

/** The declared route of the endpoint named `name`: the server's fast lane takes its paths from here. */
export const declaredRoute = (name: string): DeclaredRoute => {
  const route = declaredRoutes.find((candidate) => candidate.name === name)
  if (route === undefined) throw new Error(`no endpoint named ${name} in the API declaration`)
  return route
}

/** The methods the API declares for a request path (without its query); none when no route has that path. */
export const declaredMethods = (path: string): ReadonlyArray<string> => [
  ...new Set(declaredRoutes.filter((route) => route.pattern.test(path)).map((route) => route.method)),
]

/** The role the route of `method` `path` (decoded as the router decodes it) declares; none when no route has it. */
export const requiredRole = (method: string, path: string): Role | undefined =>
  declaredRoutes.find((route) => route.method === method && route.pattern.test(path))?.role
