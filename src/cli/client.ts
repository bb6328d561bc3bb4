/**
 * What the data commands need from a registry, and its local implementation (the data directory, opened and
 * locked for the command's duration); remoteClient.ts implements it over the HTTP API. Both report failures as
 * the same `CliFailure` carrying the wire error detail, so one table (effects/errorStatus.ts) gives every exit
 * code. Results are typed as the wire shapes (http/Api.ts), which the registry's own values satisfy.
 */
import { Context, Data, Effect, Layer, Option, Stream } from "effect"
import type { RegisterInputDecoded } from "../domain/fastDecode.ts"
import { detailOf, type ErrorDetail } from "../effects/errorStatus.ts"
import { ModelRegistry } from "../effects/ModelRegistry.ts"
import type { EventWire, OutcomeWire, SummaryWire, VersionWire } from "../http/Api.ts"
import { layerFile } from "../node.ts"

export class CliFailure extends Data.TaggedError("CliFailure")<{ readonly detail: ErrorDetail }> {}

export type Version = typeof VersionWire.Type
export type Outcome = typeof OutcomeWire.Type
export type Summary = typeof SummaryWire.Type
export type Event = typeof EventWire.Type

export interface RegisterResult {
  /** false: an identical version was already registered and nothing was written. */
  readonly created: boolean
  readonly version: Version
}

export interface RegistryClient {
  readonly register: (input: RegisterInputDecoded) => Effect.Effect<RegisterResult, CliFailure>
  readonly promote: (name: string, version: string) => Effect.Effect<Outcome, CliFailure>
  readonly deprecate: (name: string, version: string) => Effect.Effect<Outcome, CliFailure>
  readonly get: (name: string, version: string) => Effect.Effect<Version, CliFailure>
  readonly listModels: Effect.Effect<ReadonlyArray<Summary>, CliFailure>
  readonly listVersions: (name: string) => Effect.Effect<ReadonlyArray<Version>, CliFailure>
  readonly watch: (from: Option.Option<number>) => Stream.Stream<Event, CliFailure>
}

export const failure = (error: unknown) => new CliFailure({ detail: detailOf(error, "local") })

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
