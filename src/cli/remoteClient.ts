/**
 * The RegistryClient over the HTTP API, built from the API's declaration (`HttpApiClient.make(RegistryApi)`):
 * paths, methods and wire schemas come from http/Api.ts, answers are decoded, and the declared error bodies come
 * back as the wire detail. Only `watch` reads its endpoint as a raw stream (an SSE body never ends, so it cannot
 * be decoded whole), and resumes it across dropped connections (resumingStream.ts); its path also comes from the
 * declaration.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpApiClient from "@effect/platform/HttpApiClient"
import * as HttpApiError from "@effect/platform/HttpApiError"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Console, Effect, Option, ParseResult, Schema, Stream } from "effect"
import { ErrorBody, type ErrorDetail, edgeError } from "../effects/errorStatus.ts"
import { EventWire, eventsEndpoint, lifecycleEndpoint, RegistryApi } from "../http/Api.ts"
import { reconnectDelayMs, streamErrorEvent } from "../http/sse.ts"
import { CliFailure, type RegistryClient } from "./client.ts"
import { Dropped, resuming } from "./resumingStream.ts"
import { frames } from "./sseFrames.ts"

const decodeErrorBody = Schema.decodeUnknownOption(ErrorBody)
const decodeEventFrame = Schema.decodeUnknown(Schema.parseJson(EventWire))
const decodeErrorFrame = Schema.decodeUnknown(Schema.parseJson(ErrorBody))

const describe = (error: unknown): string => {
  const cause = error instanceof HttpClientError.RequestError ? error.cause : error
  return cause instanceof Error ? cause.message : String(cause)
}

/** Why a stream's connection ended: what broke it, not the client's "decode error" for a body cut short. */
const describeDrop = (error: HttpClientError.HttpClientError): string =>
  error.cause instanceof Error ? `the connection broke (${error.cause.message})` : "the connection broke"

const unavailable = (url: string, error: unknown) =>
  new CliFailure({ detail: edgeError("Unavailable", `cannot reach ${url}: ${describe(error)}`) })

/** An answer the API does not declare: its error body if it has one, else what its status says. */
const undeclared = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(Effect.option(response.json), (json) => {
    const body = Option.flatMap(json, decodeErrorBody)
    const detail: ErrorDetail = Option.isSome(body)
      ? body.value.error
      : edgeError(
          response.status === 404 ? "RouteNotFound" : "Unavailable",
          `HTTP ${response.status} from ${response.request.url}`,
        )
    return new CliFailure({ detail })
  })

type CallError =
  | { readonly error: ErrorDetail }
  | HttpApiError.HttpApiDecodeError
  | HttpClientError.HttpClientError
  | ParseResult.ParseError

const toFailure =
  (root: string) =>
  (error: CallError): Effect.Effect<never, CliFailure> => {
    if (error instanceof HttpClientError.RequestError) return Effect.fail(unavailable(root, error))
    if (error instanceof HttpClientError.ResponseError) return Effect.flip(undeclared(error.response))
    if (error instanceof HttpApiError.HttpApiDecodeError)
      return Effect.fail(new CliFailure({ detail: edgeError("InvalidInput", error.message) }))
    if (ParseResult.isParseError(error))
      return Effect.fail(
        new CliFailure({ detail: edgeError("Unavailable", `unexpected answer from ${root}: ${error.message}`) }),
      )
    return Effect.fail(new CliFailure({ detail: error.error }))
  }

const eventsPath = eventsEndpoint.path
const lifecyclePath = lifecycleEndpoint.path

/** Answers that say the server is away for now (restarting, draining, overloaded), not that it refuses. */
const transientStatuses = new Set([429, 502, 503, 504])

/** The client for the server at `base`; `token` is sent as a bearer token with every request. */
export const remote = (base: string, token: Option.Option<string>): Effect.Effect<RegistryClient> =>
  Effect.gen(function* () {
    const root = base.replace(/\/+$/, "")
    const authorized = (client: HttpClient.HttpClient) =>
      Option.match(token, {
        onNone: () => client,
        onSome: (t) => HttpClient.mapRequest(client, HttpClientRequest.bearerToken(t)),
      })
    // The server refuses a POST not declared JSON (what a web page can send cross-origin), bodiless ones included.
    const declaredJson = (client: HttpClient.HttpClient) =>
      HttpClient.mapRequest(authorized(client), (request) =>
        request.method === "POST" && request.body._tag === "Empty"
          ? HttpClientRequest.setHeader(request, "content-type", "application/json")
          : request,
      )
    const api = yield* HttpApiClient.make(RegistryApi, { baseUrl: root, transformClient: declaredJson })
    const http = authorized(yield* HttpClient.HttpClient)
    const failed = toFailure(root)
    const call = <A>(effect: Effect.Effect<A, CallError>) => Effect.catchAll(effect, failed)
    // The declared paths take the parameters as they are; a name or version outside the URL-safe alphabet
    // (which the server refuses anyway) must still reach it as one segment.
    const at = (name: string, version: string) => ({
      path: { name: encodeURIComponent(name), version: encodeURIComponent(version) },
    })

    // A read of now sends no query at all, so the server's fast lane can take it.
    const past = (asOf: string | undefined) => (asOf === undefined ? {} : { asOf })

    const named = (name: string, alias: string) => ({
      path: { name: encodeURIComponent(name), alias: encodeURIComponent(alias) },
    })

    // Read raw: the declaration's one success body is the JSON description, and this is its Mermaid form.
    const lifecycleDiagram: RegistryClient["lifecycleDiagram"] = Effect.scoped(
      Effect.gen(function* () {
        const request = HttpClientRequest.get(`${root}${lifecyclePath}`).pipe(
          HttpClientRequest.setUrlParam("format", "mermaid"),
        )
        const response = yield* Effect.catchAll(http.execute(request), failed)
        if (response.status !== 200) return yield* undeclared(response).pipe(Effect.flip)
        return yield* Effect.catchAll(response.text, failed)
      }),
    )

    /** One connection to the event stream, after `lastEventId` when there is one, else from `from`. */
    const connect = (from: Option.Option<number>) => (lastEventId: Option.Option<string>) =>
      Effect.gen(function* () {
        const request = HttpClientRequest.get(`${root}${eventsPath}`).pipe(
          HttpClientRequest.accept("text/event-stream"),
          Option.isSome(from) ? HttpClientRequest.setUrlParam("from", String(from.value)) : (r) => r,
          Option.isSome(lastEventId) ? HttpClientRequest.setHeader("last-event-id", lastEventId.value) : (r) => r,
        )
        const response = yield* Effect.mapError(
          http.execute(request),
          (error) => new Dropped({ reason: describe(error) }),
        )
        if (response.status !== 200) {
          const refused = yield* undeclared(response)
          return yield* transientStatuses.has(response.status)
            ? Effect.fail(new Dropped({ reason: `${refused.detail.tag}: ${refused.detail.message}` }))
            : Effect.fail(refused)
        }
        return frames(
          response.stream.pipe(
            Stream.mapError((error) => new Dropped({ reason: describeDrop(error) })),
            Stream.decodeText(),
          ),
        )
      })

    const watch: RegistryClient["watch"] = (from, options) =>
      resuming({
        connect: connect(from),
        giveUpAfterMs: options.giveUpAfterMs,
        reconnectDelayMs,
        notice: (message) => Console.error(`watch: ${message}`),
        server: root,
      }).pipe(
        Stream.mapEffect((frame) =>
          frame.event === streamErrorEvent
            ? Effect.flatMap(Effect.catchAll(decodeErrorFrame(frame.data), failed), (body) =>
                Effect.fail(new CliFailure({ detail: body.error })),
              )
            : Effect.catchAll(decodeEventFrame(frame.data), failed),
        ),
      )

    const client: RegistryClient = {
      register: ({ name, ...payload }) =>
        call(
          Effect.map(
            api.models.register({ path: { name: encodeURIComponent(name) }, payload, withResponse: true }),
            ([version, response]) => ({ created: response.status === 201, version }),
          ),
        ),
      promote: (name, version) => call(api.models.promote(at(name, version))),
      deprecate: (name, version) => call(api.models.deprecate(at(name, version))),
      get: (name, version, asOf) => call(api.models.getVersion({ ...at(name, version), urlParams: past(asOf) })),
      listModels: (includeArchived) =>
        call(api.models.listModels({ urlParams: includeArchived ? { includeArchived: "true" } : {} })),
      production: (name, asOf) =>
        call(
          Effect.map(
            api.models.getModel({ path: { name: encodeURIComponent(name) }, urlParams: past(asOf) }),
            (model) => model.production,
          ),
        ),
      listVersions: (name, asOf) =>
        call(api.models.listVersions({ path: { name: encodeURIComponent(name) }, urlParams: past(asOf) })),
      search: ({ tag, metric, ...text }, asOf) =>
        call(
          api.models.search({
            urlParams: {
              ...Object.fromEntries(Object.entries(text).filter(([, value]) => value !== undefined)),
              ...(tag === undefined || tag.length === 0 ? {} : { tag }),
              ...(metric === undefined || metric.length === 0 ? {} : { metric }),
              ...past(asOf),
            },
          }),
        ),
      annotate: (name, version, annotation) => call(api.models.annotate({ ...at(name, version), payload: annotation })),
      annotateModel: (name, annotation) =>
        call(api.models.annotateModel({ path: { name: encodeURIComponent(name) }, payload: annotation })),
      archiveModel: (name) => call(api.models.archiveModel({ path: { name: encodeURIComponent(name) } })),
      restoreModel: (name) => call(api.models.restoreModel({ path: { name: encodeURIComponent(name) } })),
      history: (name, version) =>
        version === undefined
          ? call(api.models.modelHistory({ path: { name: encodeURIComponent(name) } }))
          : call(api.models.versionHistory(at(name, version))),
      watch,
      transition: (name, version, event) =>
        call(api.models.transition({ path: { ...at(name, version).path, event: encodeURIComponent(event) } })),
      setAlias: (name, alias, version) => call(api.models.setAlias({ ...named(name, alias), payload: { version } })),
      getAlias: (name, alias, asOf) => call(api.models.getAlias({ ...named(name, alias), urlParams: past(asOf) })),
      removeAlias: (name, alias) => call(api.models.removeAlias(named(name, alias))),
      lifecycleDiagram,
    }
    return client
  }).pipe(Effect.provide(FetchHttpClient.layer))
