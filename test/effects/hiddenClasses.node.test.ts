/**
 * Every version's record, metrics and tags are held for the registry's whole life, so they must share V8 hidden
 * classes. `Object.freeze({ ...tags })` did not once optimized: each tags copy got a class of its own, about
 * 200 B per version (a Map and a DescriptorArray, found in a heap snapshot of the bench loader). Node-only:
 * it asks V8 itself, through a natives-syntax function.
 */
import { setFlagsFromString } from "node:v8"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Registry from "../../src/effects/ModelRegistry.ts"
import { open } from "../support/harness.ts"

setFlagsFromString("--allow-natives-syntax")
const sameHiddenClass = new Function("a", "b", "return %HaveSameMap(a, b)") as (a: object, b: object) => boolean

// Enough registers for V8 to optimize the register path, where the copies used to diverge.
const registers = 20_000

describe("stored versions share hidden classes", () => {
  it("the first and the last of many registered versions have the same classes for record, metrics and tags", async () => {
    const opened = await open(Registry.layerMemory())
    try {
      for (let i = 0; i < registers; i++) {
        // Fresh objects per call, as a JSON body gives them; every metric a non-integer, so that V8 keeps one
        // field representation throughout.
        const input = JSON.parse(
          `{"name":"model-${i % 7}","version":"1.0.${i}","metrics":{"accuracy":0.5${i % 97},"loss":${i % 5}.5},` +
            `"tags":{"framework":"jax","owner":"team-${i % 3}"}}`,
        )
        await opened.run(opened.registry.register(input))
      }
      const first = await opened.run(opened.registry.get("model-0", "1.0.0"))
      const last = await opened.run(
        opened.registry.get(`model-${(registers - 1) % 7}`, `1.0.${registers - 1}`).pipe(Effect.orDie),
      )
      expect(sameHiddenClass(first, last)).toBe(true)
      expect(sameHiddenClass(first.metrics, last.metrics)).toBe(true)
      expect(sameHiddenClass(first.tags, last.tags)).toBe(true)
    } finally {
      await opened.close()
    }
  })
})
