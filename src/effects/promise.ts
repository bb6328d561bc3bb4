/**
 * The Promise facade for plain TypeScript: the same operations as `ModelRegistry`, as
 * Promises. A failure rejects with the tagged error itself (an `Error` with `_tag` and its fields), never a
 * fiber wrapper, so `catch (e) { if (e._tag === "VersionConflict") … }` works.
 */
import { Cause, Effect, Exit, type Layer, ManagedRuntime, Stream } from "effect"
import type { RegisterInput } from "../domain/ModelMetadata.ts"
import type { ModelSummary, ModelVersion } from "../domain/ModelVersion.ts"
import type { RegistryEvent } from "../domain/RegistryEvent.ts"
import {
  type CompactReport,
  ModelRegistry,
  type Outcome,
  type RegistryStats,
  type WriteOptions,
} from "./ModelRegistry.ts"

export interface PromiseRegistry {
  readonly register: (input: RegisterInput, options?: WriteOptions) => Promise<Outcome>
  readonly promote: (name: string, version: string, options?: WriteOptions) => Promise<Outcome>
  readonly deprecate: (name: string, version: string, options?: WriteOptions) => Promise<Outcome>
  readonly get: (name: string, version: string) => Promise<ModelVersion>
  readonly listVersions: (name: string) => Promise<ReadonlyArray<ModelVersion>>
  readonly listModels: () => Promise<ReadonlyArray<ModelSummary>>
  /** The production version, or `undefined` when the model has none. */
  readonly production: (name: string) => Promise<ModelVersion | undefined>
  /** Events from `from` on, then live, as an async iterator; `return()` (or `break`) unsubscribes. */
  readonly subscribe: (options?: { readonly from?: number }) => AsyncIterable<RegistryEvent>
  readonly compact: () => Promise<CompactReport>
  readonly stats: () => Promise<RegistryStats>
  /** Drains the mailbox, fsyncs, stops observers and releases the directory lock. */
  readonly close: () => Promise<void>
}

const rejectWith = (cause: Cause.Cause<unknown>): never => {
  throw Cause.squash(cause)
}

/** Opens a registry from a layer and exposes it as Promises. The layer's resources live until `close()`. */
export const openPromiseRegistry = async <E>(layer: Layer.Layer<ModelRegistry, E>): Promise<PromiseRegistry> => {
  const runtime = ManagedRuntime.make(layer)
  const registry = await runtime
    .runPromiseExit(ModelRegistry)
    .then((exit) => (Exit.isSuccess(exit) ? exit.value : rejectWith(exit.cause)))
  const run = <A, E2>(effect: Effect.Effect<A, E2>): Promise<A> =>
    runtime.runPromiseExit(effect).then((exit) => (Exit.isSuccess(exit) ? exit.value : rejectWith(exit.cause)))

  return {
    register: (input, options) => run(registry.register(input, options)),
    promote: (name, version, options) => run(registry.promote(name, version, options)),
    deprecate: (name, version, options) => run(registry.deprecate(name, version, options)),
    get: (name, version) => run(registry.get(name, version)),
    listVersions: (name) => run(registry.listVersions(name)),
    listModels: () => run(registry.listModels),
    production: (name) =>
      run(Effect.map(registry.production(name), (found) => (found._tag === "Some" ? found.value : undefined))),
    subscribe: (options) => Stream.toAsyncIterable(registry.subscribe(options)),
    compact: () => run(registry.compact),
    stats: () => run(registry.stats),
    close: () => runtime.dispose(),
  }
}
