/** The RegistryClient on a data directory, opened and locked for the command's duration. */
import * as FileSystem from "@effect/platform/FileSystem"
import { Context, Effect, Layer, Option, Stream } from "effect"
import { lifecycleMermaid } from "../actors/lifecycleDiagram.ts"
import type { SubscribeError } from "../actors/subscription.ts"
import { asOfFromText, type ReadOptions } from "../domain/AsOf.ts"
import { PositionCompacted, StorageFailed } from "../domain/errors.ts"
import type { RegistryEvent } from "../domain/RegistryEvent.ts"
import { searchFromText } from "../domain/Search.ts"
import { ModelRegistry, type RegistryOptions } from "../effects/ModelRegistry.ts"
import { layerFile } from "../node.ts"
import { failure, type RegistryClient } from "./client.ts"

/** The text form a command line gives, as the registry's read option. */
const at = (asOf: string | undefined): ReadOptions | undefined =>
  asOf === undefined ? undefined : { asOf: asOfFromText(asOf) }

const fromRegistry = (registry: ModelRegistry): RegistryClient => {
  const wrap = <A, E>(effect: Effect.Effect<A, E>) => Effect.mapError(effect, failure)
  return {
    register: (input) =>
      wrap(Effect.map(registry.register(input), (o) => ({ created: o.event !== null, version: o.version }))),
    promote: (name, version) => wrap(registry.promote(name, version)),
    deprecate: (name, version) => wrap(registry.deprecate(name, version)),
    get: (name, version, asOf) => wrap(registry.get(name, version, at(asOf))),
    listModels: (includeArchived) =>
      includeArchived
        ? wrap(Effect.map(registry.listModelsPage({ includeArchived }), (page) => page.models))
        : registry.listModels,
    listVersions: (name, asOf) => wrap(registry.listVersions(name, at(asOf))),
    production: (name, asOf) => wrap(Effect.map(registry.production(name, at(asOf)), Option.getOrNull)),
    search: (text, asOf) => wrap(Effect.flatMap(searchFromText(text), (query) => registry.search(query, at(asOf)))),
    annotate: (name, version, annotation) => wrap(registry.annotate(name, version, annotation)),
    annotateModel: (name, annotation) => wrap(registry.annotateModel(name, annotation)),
    archiveModel: (name) => wrap(registry.archiveModel(name)),
    restoreModel: (name) => wrap(registry.restoreModel(name)),
    history: (name, version) => wrap(registry.history(name, version)),
    watch: (from) =>
      Stream.mapError(
        Stream.unwrap(
          Effect.map(
            registry.stats,
            ({ firstSeq }): Stream.Stream<RegistryEvent, SubscribeError | PositionCompacted> =>
              // The same answer as the server's: a start compaction removed names the first one still available.
              Option.isSome(from) && from.value < firstSeq
                ? Stream.fail(new PositionCompacted({ from: from.value, firstSeq }))
                : registry.subscribe(Option.match(from, { onNone: () => ({}), onSome: (f) => ({ from: f }) })),
          ),
        ),
        failure,
      ),
    transition: (name, version, event) => wrap(registry.transition(name, version, event)),
    setAlias: (name, alias, version) => wrap(registry.setAlias(name, alias, version)),
    getAlias: (name, alias, asOf) => wrap(registry.resolveAlias(name, alias, at(asOf))),
    removeAlias: (name, alias) => wrap(registry.removeAlias(name, alias)),
    lifecycleDiagram: Effect.sync(() => lifecycleMermaid(registry.lifecycle)),
  }
}

/**
 * Fails unless `directory` exists. Only a command that writes something new (`register`) creates a missing data
 * directory: a mistyped path given to `list`, `promote` or `compact` would otherwise leave an empty registry
 * behind and answer as if it were the real one.
 */
export const requireDirectory = (directory: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    if (!(yield* Effect.orElseSucceed(fs.exists(directory), () => true)))
      return yield* new StorageFailed({
        operation: "open",
        path: directory,
        reason: "NotFound",
        message: "no such data directory (only register creates one)",
      })
  })

/**
 * The registry on a data directory, open (and locked) for the scope, under the lifecycle the options give (the
 * default one otherwise): a directory written under another fails with `LifecycleMismatch`.
 */
export const openLocal = (
  directory: string,
  create: boolean,
  lifecycle: Pick<RegistryOptions, "lifecycle" | "lifecycleMapping"> = {},
) =>
  Effect.mapError(
    Effect.gen(function* () {
      if (!create) yield* requireDirectory(directory)
      const context = yield* Layer.build(layerFile({ directory, ...lifecycle }))
      return fromRegistry(Context.get(context, ModelRegistry))
    }),
    failure,
  )
