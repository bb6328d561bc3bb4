/**
 * A data directory moves between the runtimes unchanged: what the Node composition (src/node.ts, here under Deno's
 * Node compatibility, as it runs in production on Deno today) writes, the Deno composition (src/deno.ts, on Deno's
 * own file calls) opens with the same state, and the reverse; and a committed fixture of an earlier release opens
 * the same under both.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as DenoFileSystem from "../../src/deno/DenoFileSystem.ts"
import { openRegistry as openDeno } from "../../src/deno.ts"
import type { PromiseRegistry } from "../../src/effects/promise.ts"
import { openRegistry as openNode } from "../../src/node.ts"
import { denoTempDirectory } from "./backends.ts"

type Open = (options: { readonly directory: string }) => Promise<PromiseRegistry>

/** Everything a reader can see: each model, each version, each history. */
const stateOf = async (open: Open, directory: string) => {
  const registry = await open({ directory })
  try {
    const models = await registry.listModels()
    const names = models.map((m) => m.name)
    return {
      models,
      versions: await Promise.all(names.map((name) => registry.listVersions(name))),
      histories: await Promise.all(names.map((name) => registry.history(name))),
      lastSeq: (await registry.stats()).lastSeq,
    }
  } finally {
    await registry.close()
  }
}

const write = async (open: Open, directory: string, model: string) => {
  const registry = await open({ directory })
  try {
    for (let i = 0; i < 5; i++)
      await registry.register({ name: model, version: `1.${i}.0`, metrics: { i }, tags: { runtime: model } })
    await registry.promote(model, "1.1.0")
    await registry.compact()
    await registry.promote(model, "1.3.0")
    await registry.deprecate(model, "1.0.0")
  } finally {
    await registry.close()
  }
}

describe("a data directory between the Node and the Deno compositions", () => {
  it("opens what the other wrote with the same state, both ways", () =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const directory = yield* denoTempDirectory
          yield* Effect.promise(() => write(openNode, directory, "from-node"))
          const afterNode = yield* Effect.promise(() => stateOf(openNode, directory))
          expect(yield* Effect.promise(() => stateOf(openDeno, directory))).toEqual(afterNode)
          yield* Effect.promise(() => write(openDeno, directory, "from-deno"))
          const afterDeno = yield* Effect.promise(() => stateOf(openDeno, directory))
          expect(afterDeno.lastSeq).toBeGreaterThan(afterNode.lastSeq)
          expect(yield* Effect.promise(() => stateOf(openNode, directory))).toEqual(afterDeno)
        }),
      ),
    ))

  it("opens a committed fixture of an earlier release with the same state as the Node composition", () =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const fs = yield* FileSystem.FileSystem
          const fixture = new URL("../fixtures/release-0.4.0-history", import.meta.url).pathname
          const [forNode, forDeno] = [yield* denoTempDirectory, yield* denoTempDirectory]
          yield* Effect.orDie(fs.copy(fixture, forNode, { overwrite: true }))
          yield* Effect.orDie(fs.copy(fixture, forDeno, { overwrite: true }))
          const node = yield* Effect.promise(() => stateOf(openNode, forNode))
          expect(node.models.length).toBeGreaterThan(0)
          expect(yield* Effect.promise(() => stateOf(openDeno, forDeno))).toEqual(node)
        }),
      ).pipe(Effect.provide(DenoFileSystem.layer)),
    ))
})
