/**
 * A registry on a fresh PostgreSQL schema for the suites that run on every backend, reopened as often as a test
 * wants. The driver is loaded only when a test opens it, so this module can be imported where Deno runs the suite
 * (which leaves PostgreSQL out: the driver is Node's).
 */
import { Effect, Layer } from "effect"
import * as IdGenerator from "../../src/effects/IdGenerator.ts"
import * as Registry from "../../src/effects/ModelRegistry.ts"

export const onNode = !("Deno" in globalThis)

let opened = 0

export const postgresRegistryBackend = () => {
  const support = import("../storage/postgres.ts")
  const schema = `r${Date.now().toString(36)}_${(opened++).toString(36)}_${Math.floor(Math.random() * 1e9).toString(36)}`
  return {
    schema,
    layer: (options: Registry.RegistryOptions & { readonly pollMillis?: number } = {}) =>
      Layer.unwrapEffect(
        Effect.promise(() => support).pipe(
          Effect.map(({ layerTestClient }) =>
            Registry.layerPostgres({ ...options, schema }).pipe(
              Layer.provide(Layer.mergeAll(layerTestClient, IdGenerator.layerRandom)),
            ),
          ),
        ),
      ),
    remove: () => {
      void support.then(({ dropSchema }) => Effect.runPromise(dropSchema(schema)))
    },
  }
}
