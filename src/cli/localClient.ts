/** The RegistryClient on a data directory, opened and locked for the command's duration. */
import { Context, Effect, Layer, Option, Stream } from "effect"
import { ModelRegistry } from "../effects/ModelRegistry.ts"
import { layerFile } from "../node.ts"
import { failure, type RegistryClient } from "./client.ts"

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
