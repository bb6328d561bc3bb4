/**
 * Opens a registry layer outside a test's own Effect, so model-based tests can close and reopen it between
 * commands (the layer's scope is the "process"; the store or directory outlives it).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setImmediate } from "node:timers"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { ModelRegistry } from "../../src/effects/ModelRegistry.ts"
import { failureOf } from "../../src/testing/exits.ts"

export interface Opened {
  readonly registry: ModelRegistry
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
  readonly exitOf: <A, E>(effect: Effect.Effect<A, E>) => Promise<Exit.Exit<A, E>>
  readonly close: () => Promise<void>
}

export const open = async <E>(layer: Layer.Layer<ModelRegistry, E>): Promise<Opened> => {
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const registry = Context.get(context, ModelRegistry)
  return {
    registry,
    run: (effect) => Effect.runPromise(effect),
    exitOf: (effect) => Effect.runPromise(effect.pipe(Effect.exit)),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
  }
}

/** A fresh, empty temporary directory; `remove()` deletes it with everything the registry wrote. */
export const tempDirectory = (label: string) => {
  const path = mkdtempSync(join(tmpdir(), `registry-${label}-`))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/**
 * Waits until `condition` holds, for work the registry finishes in the background (a snapshot, an observer's
 * deliveries). It yields to the event loop between checks instead of sleeping, so it waits exactly as long as the
 * work takes; a condition that never holds fails by the test's timeout.
 */
export const until = async (condition: () => boolean | Promise<boolean>): Promise<void> => {
  while (!(await condition())) await new Promise((resolve) => setImmediate(resolve))
}

/** Why a registry layer fails to open (the layer's typed error), or `undefined` if it opened. */
export const openFailure = async <E>(layer: Layer.Layer<ModelRegistry, E>): Promise<E | undefined> => {
  const exit = await Effect.runPromise(Effect.scoped(Layer.build(layer)).pipe(Effect.exit))
  return failureOf(exit)
}
