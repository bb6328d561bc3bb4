/**
 * The HTTP API as an `HttpApi` value: routes, parameters and wire schemas, from which `/openapi.json` and
 * `/docs` are generated, the remote CLI's client is made, and the server's route labels come. The wire schemas
 * are deliberately loose (plain strings, JSON objects): validation belongs to the domain's decoders, which answer
 * bad input with `InvalidInput`, so that every rejection carries the same error body instead of the framework's
 * own decode error.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { ErrorBody } from "../effects/errorStatus.ts"

const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })

export const VersionWire = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  version: Schema.String,
  createdAt: Schema.String,
  metrics: JsonObject,
  tags: Schema.Record({ key: Schema.String, value: Schema.String }),
  state: Schema.Literal("registered", "production", "deprecated"),
}).annotations({ identifier: "ModelVersion" })

const committed = { seq: Schema.Number, at: Schema.String }
export const EventWire = Schema.Union(
  Schema.TaggedStruct("Registered", { ...committed, metadata: VersionWire.omit("state") }),
  Schema.TaggedStruct("Promoted", {
    ...committed,
    name: Schema.String,
    version: Schema.String,
    supersedes: Schema.NullOr(Schema.String),
  }),
  Schema.TaggedStruct("Deprecated", { ...committed, name: Schema.String, version: Schema.String }),
).annotations({ identifier: "RegistryEvent" })

/** A lifecycle command's answer: the version as committed and the event recorded (`null`: nothing changed). */
export const OutcomeWire = Schema.Struct({ version: VersionWire, event: Schema.NullOr(EventWire) }).annotations({
  identifier: "Outcome",
})

export const SummaryWire = Schema.Struct({
  name: Schema.String,
  production: Schema.NullOr(Schema.String),
  versionCount: Schema.Number,
  latest: Schema.String,
}).annotations({ identifier: "ModelSummary" })

export const ModelWire = Schema.Struct({
  name: Schema.String,
  production: Schema.NullOr(VersionWire),
  versions: Schema.Array(VersionWire),
}).annotations({ identifier: "Model" })

/**
 * Documents the register body. The handler reads it raw (its own body limit, content type and error bodies) and
 * decodes it with the registry's fast decoder (domain/fastDecode.ts), so every field error is `InvalidInput`.
 */
export const RegisterBody = Schema.Struct({
  version: Schema.String,
  metrics: Schema.optional(JsonObject),
  tags: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  id: Schema.optional(Schema.String),
  createdAt: Schema.optional(Schema.String),
}).annotations({ identifier: "RegisterBody" })

const name = HttpApiSchema.param("name", Schema.String)
const version = HttpApiSchema.param("version", Schema.String)

const eventStream = Schema.String.pipe(HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/event-stream" }))
const prometheusText = Schema.String.pipe(
  HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/plain; version=0.0.4" }),
)

export class ModelsGroup extends HttpApiGroup.make("models")
  .add(
    HttpApiEndpoint.post("register")`/models/${name}/versions`
      .setPayload(RegisterBody)
      .addSuccess(VersionWire, { status: 201 })
      .addSuccess(VersionWire.annotations({ description: "an identical repeat: nothing written" }))
      .annotate(OpenApi.Description, "201 when recorded, 200 for an idempotent repeat, 409 VersionConflict otherwise"),
  )
  .add(HttpApiEndpoint.get("listModels", "/models").addSuccess(Schema.Array(SummaryWire)))
  .add(HttpApiEndpoint.get("getModel")`/models/${name}`.addSuccess(ModelWire))
  .add(
    HttpApiEndpoint.get("listVersions")`/models/${name}/versions`
      .addSuccess(Schema.Array(VersionWire))
      .annotate(OpenApi.Description, "in semver precedence order"),
  )
  .add(HttpApiEndpoint.get("getVersion")`/models/${name}/versions/${version}`.addSuccess(VersionWire))
  .add(HttpApiEndpoint.post("promote")`/models/${name}/versions/${version}/promote`.addSuccess(OutcomeWire))
  .add(HttpApiEndpoint.post("deprecate")`/models/${name}/versions/${version}/deprecate`.addSuccess(OutcomeWire)) {}

/** The event stream; the remote CLI reads its path here, since an SSE body cannot go through the typed client. */
export const eventsEndpoint = HttpApiEndpoint.get("events", "/events")
  .setUrlParams(Schema.Struct({ from: Schema.optional(Schema.String) }))
  .addSuccess(eventStream)
  .annotate(
    OpenApi.Description,
    "Server-Sent Events from seq `from` (or after `Last-Event-ID`), replayed from the log, then live",
  )

export class EventsGroup extends HttpApiGroup.make("events").add(eventsEndpoint) {}

export class OpsGroup extends HttpApiGroup.make("ops")
  .add(
    HttpApiEndpoint.get("healthz", "/healthz").addSuccess(
      Schema.Struct({ status: Schema.Literal("ok"), lastSeq: Schema.Number }),
    ),
  )
  .add(HttpApiEndpoint.get("metrics", "/metrics").addSuccess(prometheusText)) {}

const errorBody = (status: number) => ErrorBody.annotations({ identifier: `Error${status}` })

export class RegistryApi extends HttpApi.make("model-registry")
  .add(ModelsGroup)
  .add(EventsGroup)
  .add(OpsGroup)
  .addError(errorBody(400), { status: 400 })
  .addError(errorBody(401), { status: 401 })
  .addError(errorBody(404), { status: 404 })
  .addError(errorBody(409), { status: 409 })
  .addError(errorBody(413), { status: 413 })
  .addError(errorBody(415), { status: 415 })
  .addError(errorBody(429), { status: 429 })
  .addError(errorBody(503), { status: 503 })
  .annotate(OpenApi.Title, "VisuTility Model Registry")
  .annotate(
    OpenApi.Description,
    'Errors answer `{ "error": { "tag", "message", ...fields } }`. With a token configured, send `Authorization: Bearer <token>`.',
  ) {}
