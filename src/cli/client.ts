/**
 * What the data commands need from a registry, with two implementations: local (the data directory, opened
 * and locked for the command's duration) and remote (the HTTP API). Both report failures as the same
 * `CliFailure` carrying the wire error detail, so one table (effects/errorStatus.ts) gives every exit code.
 */
import { Context, Data, Effect, Layer, Option, Stream } from "effect"
import type { RegisterInput } from "../domain/ModelMetadata.ts"
import type { ModelSummary, ModelVersion } from "../domain/ModelVersion.ts"
import type { RegistryEvent } from "../domain/RegistryEvent.ts"
import { detailOf, type ErrorDetail, edgeError } from "../effects/errorStatus.ts"
import { ModelRegistry, type Outcome } from "../effects/ModelRegistry.ts"
import { layerFile } from "../node.ts"

export class CliFailure extends Data.TaggedError("CliFailure")<{ readonly detail: ErrorDetail }> {}

export interface RegisterResult {
  /** false: an identical version was already registered and nothing was written. */
  readonly created: boolean
  readonly version: ModelVersion
}

export interface RegistryClient {
  readonly register: (input: RegisterInput) => Effect.Effect<RegisterResult, CliFailure>
  readonly promote: (name: string, version: string) => Effect.Effect<Outcome, CliFailure>
  readonly deprecate: (name: string, version: string) => Effect.Effect<Outcome, CliFailure>
  readonly get: (name: string, version: string) => Effect.Effect<ModelVersion, CliFailure>
  readonly listModels: Effect.Effect<ReadonlyArray<ModelSummary>, CliFailure>
  readonly listVersions: (name: string) => Effect.Effect<ReadonlyArray<ModelVersion>, CliFailure>
  readonly watch: (from: Option.Option<number>) => Stream.Stream<RegistryEvent, CliFailure>
}

export type Connection =
  | { readonly _tag: "Local"; readonly directory: string }
  | { readonly _tag: "Remote"; readonly url: string; readonly token: Option.Option<string> }

export const failure = (error: unknown) => new CliFailure({ detail: detailOf(error) })

const fromRegistry = (registry: ModelRegistry): RegistryClient => {
  const wrap = <A, E>(effect: Effect.Effect<A, E>) => Effect.mapError(effect, failure)
  return {
    register: (input) =>
      wrap(Effect.map(registry.register(input), (o) => ({ created: o.event !== null, version: o.version }))),
    promote: (name, version) => wrap(registry.promote(name, version)),
    deprecate: (name, version) => wrap(registry.deprecate(name, version)),
    get: (name, version) => wrap(registry.get(name, version)),
    listModels: registry.listModels,
    listVersions: (name) => wrap(registry.listVersions(name)),
    watch: (from) =>
      Stream.mapError(
        registry.subscribe(Option.match(from, { onNone: () => ({}), onSome: (f) => ({ from: f }) })),
        failure,
      ),
  }
}

/** The registry on a data directory, open (and locked) for the scope. */
export const openLocal = (directory: string) =>
  Effect.mapError(
    Effect.map(Layer.build(layerFile({ directory })), (context) => fromRegistry(Context.get(context, ModelRegistry))),
    failure,
  )

const unavailable = (url: string, error: unknown) =>
  new CliFailure({
    detail: edgeError("Unavailable", `cannot reach ${url}: ${error instanceof Error ? error.message : String(error)}`),
  })

/** The HTTP API as a client. Paths and bodies mirror http/Api.ts; errors come back as the wire detail. */
export const remote = (base: string, token: Option.Option<string>): RegistryClient => {
  const root = base.replace(/\/+$/, "")
  const headers = (extra: Record<string, string> = {}) =>
    Option.match(token, { onNone: () => extra, onSome: (t) => ({ ...extra, authorization: `Bearer ${t}` }) })
  const segment = encodeURIComponent

  const call = (method: string, path: string, body?: unknown) =>
    Effect.gen(function* () {
      const url = `${root}${path}`
      const response = yield* Effect.tryPromise({
        try: (signal) =>
          fetch(url, {
            method,
            signal,
            headers: headers(body === undefined ? {} : { "content-type": "application/json" }),
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          }),
        catch: (error) => unavailable(url, error),
      })
      const text = yield* Effect.tryPromise({ try: () => response.text(), catch: (error) => unavailable(url, error) })
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        json = undefined
      }
      if (!response.ok) {
        const detail =
          typeof json === "object" && json !== null && "error" in json && typeof json.error === "object"
            ? (json.error as ErrorDetail)
            : edgeError(
                response.status === 404 ? "RouteNotFound" : "Unavailable",
                `HTTP ${response.status} from ${url}`,
              )
        return yield* Effect.fail(new CliFailure({ detail }))
      }
      return { status: response.status, json }
    })

  const versionPath = (name: string, version: string) => `/models/${segment(name)}/versions/${segment(version)}`

  return {
    register: (input) => {
      const { name, ...body } = input
      return Effect.map(call("POST", `/models/${segment(name)}/versions`, body), ({ status, json }) => ({
        created: status === 201,
        version: json as ModelVersion,
      }))
    },
    promote: (name, version) =>
      Effect.map(call("POST", `${versionPath(name, version)}/promote`), ({ json }) => json as Outcome),
    deprecate: (name, version) =>
      Effect.map(call("POST", `${versionPath(name, version)}/deprecate`), ({ json }) => json as Outcome),
    get: (name, version) => Effect.map(call("GET", versionPath(name, version)), ({ json }) => json as ModelVersion),
    listModels: Effect.map(call("GET", "/models"), ({ json }) => json as ReadonlyArray<ModelSummary>),
    listVersions: (name) =>
      Effect.map(call("GET", `/models/${segment(name)}/versions`), ({ json }) => json as ReadonlyArray<ModelVersion>),
    watch: (from) => watchRemote(root, headers(), from),
  }
}

interface Frame {
  readonly event: string
  readonly data: string
}

interface PendingFrame {
  readonly event: string
  readonly data: ReadonlyArray<string>
}

const emptyFrame: PendingFrame = { event: "message", data: [] }

/** One SSE line into the frame being built; a blank line completes it. Comments (keep-alives) are dropped. */
const step = (acc: PendingFrame, line: string): readonly [PendingFrame, ReadonlyArray<Frame>] => {
  if (line === "") return [emptyFrame, acc.data.length === 0 ? [] : [{ event: acc.event, data: acc.data.join("\n") }]]
  if (line.startsWith(":")) return [acc, []]
  const colon = line.indexOf(":")
  const field = colon === -1 ? line : line.slice(0, colon)
  const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "")
  if (field === "event") return [{ ...acc, event: value }, []]
  if (field === "data") return [{ ...acc, data: [...acc.data, value] }, []]
  return [acc, []]
}

const frames = (text: Stream.Stream<string, CliFailure>): Stream.Stream<Frame, CliFailure> =>
  text.pipe(Stream.splitLines, Stream.mapAccum(emptyFrame, step), Stream.flattenIterables)

const watchRemote = (root: string, headers: Record<string, string>, from: Option.Option<number>) => {
  const url = `${root}/events${Option.match(from, { onNone: () => "", onSome: (f) => `?from=${f}` })}`
  return Stream.unwrapScoped(
    Effect.gen(function* () {
      const controller = new AbortController()
      yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
      const response = yield* Effect.tryPromise({
        try: () => fetch(url, { headers: { ...headers, accept: "text/event-stream" }, signal: controller.signal }),
        catch: (error) => unavailable(url, error),
      })
      if (!response.ok || response.body === null) {
        const body = yield* Effect.promise(() => response.text().catch(() => ""))
        let detail: ErrorDetail = edgeError("Unavailable", `HTTP ${response.status} from ${url}`)
        try {
          detail = (JSON.parse(body) as { error: ErrorDetail }).error ?? detail
        } catch {}
        return Stream.fail(new CliFailure({ detail }))
      }
      const text = Stream.fromReadableStream({
        evaluate: () => response.body!,
        onError: (error) => unavailable(url, error),
      }).pipe(Stream.decodeText())
      return frames(text).pipe(
        Stream.mapEffect((frame) => {
          const data = JSON.parse(frame.data) as unknown
          return frame.event === "error"
            ? Effect.fail(new CliFailure({ detail: (data as { error: ErrorDetail }).error }))
            : Effect.succeed(data as RegistryEvent)
        }),
      )
    }),
  )
}
