/**
 * The batch loop waits a turn of the event loop before it takes a batch when the runtime provides one (the Node
 * composition does, with `setImmediate`): commands started by the I/O callbacks of one phase, as the requests read
 * from many sockets in one poll are, go into one batch instead of the first alone and the rest after its sync.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer, ManagedRuntime } from "effect"
import { describe, expect, it } from "vitest"
import { EventLoopTurn } from "../../src/actors/EventLoopTurn.ts"
import { layerMemory, ModelRegistry } from "../../src/effects/ModelRegistry.ts"
import { layerEventLoopTurn, layerFile } from "../../src/node.ts"

/**
 * Batches written for `count` registers, each started by its own immediate, all run by one check phase. Immediates
 * rather than timers: timers set a millisecond apart can fall due in different phases on a loaded machine.
 */
const batchesFor = async (layer: Layer.Layer<ModelRegistry, unknown>, count: number) => {
  const runtime = ManagedRuntime.make(layer)
  try {
    const registry = await runtime.runPromise(ModelRegistry)
    const before = (await runtime.runPromise(registry.stats)).batches
    await Promise.all(
      Array.from(
        { length: count },
        (_, i) =>
          new Promise((resolve, reject) => {
            setImmediate(() => {
              runtime.runPromise(registry.register({ name: "turn", version: `1.0.${i}` })).then(resolve, reject)
            })
          }),
      ),
    )
    return (await runtime.runPromise(registry.stats)).batches - before
  } finally {
    await runtime.dispose()
  }
}

describe("the batch loop's event-loop turn", () => {
  it("gathers the commands of one event-loop phase into one batch, on the Node composition", async () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "event-loop-turn-"))
    expect(await batchesFor(layerFile({ directory }), 10)).toBe(1)
  })

  it("does so on any storage the turn is provided to, and without it takes the first command alone", async () => {
    expect(await batchesFor(layerMemory().pipe(Layer.provide(layerEventLoopTurn)), 10)).toBe(1)
    expect(await batchesFor(layerMemory(), 10)).toBeGreaterThan(1)
  })
})

describe("the idle loop's wake-up", () => {
  it("is the turn itself: a lone command costs one scheduled turn and no separate wait", async () => {
    const counts = { schedule: 0, next: 0 }
    const counting = Layer.succeed(EventLoopTurn, {
      next: Effect.async<void>((resume) => {
        counts.next++
        setImmediate(() => resume(Effect.void))
      }),
      schedule: (run) => {
        counts.schedule++
        setImmediate(run)
      },
    })
    const runtime = ManagedRuntime.make(layerMemory().pipe(Layer.provide(counting)))
    try {
      const registry = await runtime.runPromise(ModelRegistry)
      for (let i = 0; i < 5; i++) await runtime.runPromise(registry.register({ name: "lone", version: `1.0.${i}` }))
      expect(counts).toEqual({ schedule: 5, next: 0 })
      expect((await runtime.runPromise(registry.stats)).batches).toBe(5)
    } finally {
      await runtime.dispose()
    }
  })
})
