/**
 * The registry itself, measured through its two public entry points: the Effect API (producers are Effect fibers
 * calling `register`, no Promise per operation) and the Promise facade. One batch is one write + one fdatasync,
 * so the batch counter is also the fsync counter.
 */
import type { Effect, Layer } from "effect"
import { ManagedRuntime } from "effect"
import { layerFile, ModelRegistry, openRegistry, type PromiseRegistry } from "../../src/node.ts"
import type { DurableTarget, TargetDefinition } from "./DurableTarget.ts"

export type Registry = Effect.Effect.Success<typeof ModelRegistry.ModelRegistry>

/**
 * The registry through its Effect API on whatever storage `layerOf` opens for the harness's directory; `afterClose`
 * cleans up what the layer does not (a database schema).
 */
export const effectApiOn =
  (layerOf: (dir: string) => Layer.Layer<Registry, unknown>, afterClose: () => Promise<void> = async () => undefined) =>
  (): DurableTarget => {
    let runtime: ManagedRuntime.ManagedRuntime<Registry, unknown> | undefined
    let registry: Registry | undefined
    return {
      open: async (dir) => {
        runtime = ManagedRuntime.make(layerOf(dir))
        registry = await runtime.runPromise(ModelRegistry.ModelRegistry)
      },
      register: (record) => runtime!.runPromise(registry!.register(record)),
      registerEffect: (record) => registry!.register(record),
      // One batch is one write + one sync (a transaction on a database), so batches stand for fsyncs.
      stats: async () => {
        const stats = await runtime!.runPromise(registry!.stats)
        return { fsyncs: stats.batches, batches: stats.batches }
      },
      close: async () => {
        try {
          await runtime?.dispose()
        } finally {
          await afterClose()
        }
      },
    }
  }

const effectApi = effectApiOn((dir) => layerFile({ directory: dir }))

const promiseFacade = (): DurableTarget => {
  let registry: PromiseRegistry | undefined
  return {
    open: async (dir) => {
      registry = await openRegistry({ directory: dir })
    },
    register: (record) => registry!.register(record),
    stats: async () => {
      const stats = await registry!.stats()
      return { fsyncs: stats.batches, batches: stats.batches }
    },
    close: async () => {
      await registry?.close()
    },
  }
}

export const registryEffect: TargetDefinition = {
  name: "registry (Effect API)",
  role: "ours",
  note: "ModelRegistry.register from Effect fibers, on the file WAL (group commit: one write + one fdatasync per batch).",
  make: effectApi,
}

export const registryPromise: TargetDefinition = {
  name: "registry (Promise facade)",
  role: "ours",
  note: "openRegistry(...).register from plain async functions; each call runs its Effect through a ManagedRuntime.",
  make: promiseFacade,
}
