/**
 * The Promise facade for plain TypeScript: the same operations as `ModelRegistry`, as
 * Promises. A failure rejects with the tagged error itself (an `Error` with `_tag` and its fields), never a
 * fiber wrapper, so `catch (e) { if (e._tag === "VersionConflict") … }` works.
 */
import { Cause, Effect, Exit, Fiber, type Layer, ManagedRuntime, Option, Stream } from "effect"
import type { Annotation } from "../domain/Annotation.ts"
import type { ReadOptions } from "../domain/AsOf.ts"
import type { RegisterInput } from "../domain/ModelMetadata.ts"
import type { ModelSummary, ModelVersion } from "../domain/ModelVersion.ts"
import type { RegistryEvent } from "../domain/RegistryEvent.ts"
import type { ModelsPage, SearchPage } from "../domain/Search.ts"
import {
  type AliasOutcome,
  type CompactReport,
  type History,
  type LifecycleDescription,
  type ModelOutcome,
  ModelRegistry,
  type Outcome,
  type RegistryStats,
  type WriteOptions,
} from "./ModelRegistry.ts"

export interface PromiseRegistry {
  readonly register: (input: RegisterInput, options?: WriteOptions) => Promise<Outcome>
  readonly transition: (name: string, version: string, event: string, options?: WriteOptions) => Promise<Outcome>
  readonly promote: (name: string, version: string, options?: WriteOptions) => Promise<Outcome>
  readonly deprecate: (name: string, version: string, options?: WriteOptions) => Promise<Outcome>
  readonly setAlias: (name: string, alias: string, version: string, options?: WriteOptions) => Promise<AliasOutcome>
  readonly removeAlias: (name: string, alias: string, options?: WriteOptions) => Promise<AliasOutcome>
  /** See `ModelRegistry.annotate`: `{tags: {k: v | null}, description: text | null}`. */
  readonly annotate: (name: string, version: string, annotation: Annotation, options?: WriteOptions) => Promise<Outcome>
  readonly annotateModel: (name: string, annotation: Annotation, options?: WriteOptions) => Promise<ModelOutcome>
  readonly archiveModel: (name: string, options?: WriteOptions) => Promise<ModelOutcome>
  readonly restoreModel: (name: string, options?: WriteOptions) => Promise<ModelOutcome>
  /** A model's changes, or one version's, oldest first. */
  readonly history: (name: string, version?: string) => Promise<History>
  /** Every read below takes `{asOf}`: a seq, `"seq:N"`, an ISO timestamp or a `Date` (see `ModelRegistry.get`). */
  readonly resolveAlias: (name: string, alias: string, options?: ReadOptions) => Promise<ModelVersion>
  readonly lifecycle: LifecycleDescription
  readonly get: (name: string, version: string, options?: ReadOptions) => Promise<ModelVersion>
  readonly listVersions: (name: string, options?: ReadOptions) => Promise<ReadonlyArray<ModelVersion>>
  readonly model: (name: string, options?: ReadOptions) => Promise<ModelSummary>
  /** Every model but the archived ones. */
  readonly listModels: () => Promise<ReadonlyArray<ModelSummary>>
  readonly listModelsPage: (query?: Parameters<ModelRegistry["listModelsPage"]>[0]) => Promise<ModelsPage>
  /** See `ModelRegistry.search`. */
  readonly search: (query?: Parameters<ModelRegistry["search"]>[0], options?: ReadOptions) => Promise<SearchPage>
  /** The production version, or `undefined` when the model has none. */
  readonly production: (name: string, options?: ReadOptions) => Promise<ModelVersion | undefined>
  /** The version in an exclusive state, or `undefined` when none holds it. */
  readonly holder: (name: string, state: string, options?: ReadOptions) => Promise<ModelVersion | undefined>
  /**
   * Events from `from` on, then live, as an async iterator; `return()` (or `break`) unsubscribes. While it is
   * iterated, the process stays alive; `close()` ends every iteration.
   */
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

  // An iterator waiting for its next event holds no timer or socket, so Node would exit in the middle of a
  // `for await` (code 13, "unsettled top-level await") with the registry open and its lock left behind. Each
  // iteration keeps a fiber running `Effect.never` (which holds a timer) until it ends or the registry closes.
  const keepers = new Set<Fiber.RuntimeFiber<never, unknown>>()
  const release = (keeper: Fiber.RuntimeFiber<never, unknown>) => {
    if (keepers.delete(keeper)) Effect.runFork(Fiber.interrupt(keeper))
  }
  const keepingAlive = <A>(iterable: AsyncIterable<A>): AsyncIterable<A> => ({
    [Symbol.asyncIterator]: () => {
      const inner = iterable[Symbol.asyncIterator]()
      const keeper = runtime.runFork(Effect.never)
      keepers.add(keeper)
      const ended = <R>(promise: Promise<R>, done: (result: R) => boolean) =>
        promise.then(
          (result) => {
            if (done(result)) release(keeper)
            return result
          },
          (error: unknown) => {
            release(keeper)
            throw error
          },
        )
      return {
        next: () => ended(inner.next(), (result) => result.done === true),
        return: (value?: unknown) => {
          release(keeper)
          return inner.return === undefined
            ? Promise.resolve({ done: true as const, value: value as A })
            : ended(inner.return(value), () => true)
        },
      }
    },
  })

  return {
    register: (input, options) => run(registry.register(input, options)),
    transition: (name, version, event, options) => run(registry.transition(name, version, event, options)),
    promote: (name, version, options) => run(registry.promote(name, version, options)),
    deprecate: (name, version, options) => run(registry.deprecate(name, version, options)),
    setAlias: (name, alias, version, options) => run(registry.setAlias(name, alias, version, options)),
    removeAlias: (name, alias, options) => run(registry.removeAlias(name, alias, options)),
    annotate: (name, version, annotation, options) => run(registry.annotate(name, version, annotation, options)),
    annotateModel: (name, annotation, options) => run(registry.annotateModel(name, annotation, options)),
    archiveModel: (name, options) => run(registry.archiveModel(name, options)),
    restoreModel: (name, options) => run(registry.restoreModel(name, options)),
    history: (name, version) => run(registry.history(name, version)),
    resolveAlias: (name, alias, options) => run(registry.resolveAlias(name, alias, options)),
    lifecycle: registry.lifecycle,
    get: (name, version, options) => run(registry.get(name, version, options)),
    listVersions: (name, options) => run(registry.listVersions(name, options)),
    model: (name, options) => run(registry.model(name, options)),
    listModels: () => run(registry.listModels),
    listModelsPage: (query) => run(registry.listModelsPage(query)),
    search: (query, options) => run(registry.search(query, options)),
    production: (name, options) => run(Effect.map(registry.production(name, options), Option.getOrUndefined)),
    holder: (name, state, options) => run(Effect.map(registry.holder(name, state, options), Option.getOrUndefined)),
    subscribe: (options) => keepingAlive(Stream.toAsyncIterable(registry.subscribe(options))),
    compact: () => run(registry.compact),
    stats: () => run(registry.stats),
    close: async () => {
      for (const keeper of [...keepers]) release(keeper)
      await runtime.dispose()
    },
  }
}
