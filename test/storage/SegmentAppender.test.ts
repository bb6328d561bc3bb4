/**
 * The Node composition's segment appender (writeSync, then fdatasync on the thread pool): appends every byte,
 * truncates back, maps errors to the same `SystemError` reasons as @effect/platform-node, and is what the file
 * WAL uses when the Node layer is provided, so a registry reopened from it replays what it acknowledged.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { ModelRegistry } from "../../src/effects/ModelRegistry.ts"
import { layerFile, layerSegmentAppender } from "../../src/node.ts"
import { SegmentAppender } from "../../src/storage/SegmentAppender.ts"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "segment-appender-"))

describe("layerSegmentAppender", () => {
  it.effect("appends, syncs and truncates back", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "seg")
      fs.writeFileSync(file, "head:")
      const appender = yield* SegmentAppender
      yield* Effect.scoped(
        Effect.gen(function* () {
          const active = yield* appender.open(file)
          yield* active.writeAll(new TextEncoder().encode("one,"))
          yield* active.writeAll(new Uint8Array(0))
          yield* active.writeAll(new TextEncoder().encode("two"))
          yield* active.sync
          expect(fs.readFileSync(file, "utf8")).toBe("head:one,two")
          yield* active.truncate(9)
          yield* active.writeAll(new TextEncoder().encode("three"))
          yield* active.sync
        }),
      )
      expect(fs.readFileSync(file, "utf8")).toBe("head:one,three")
    }).pipe(Effect.provide(layerSegmentAppender)),
  )

  it.effect("fails with the platform's SystemError reasons", () =>
    Effect.gen(function* () {
      const appender = yield* SegmentAppender
      const exit = yield* Effect.scoped(appender.open(path.join(tempDir(), "missing", "seg"))).pipe(Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(exit.cause).toMatchObject({ error: { _tag: "SystemError", reason: "NotFound" } })
    }).pipe(Effect.provide(layerSegmentAppender)),
  )

  it("is what the file registry writes through: acknowledged registers survive a reopen", async () => {
    const directory = tempDir()
    const registerAll = Effect.gen(function* () {
      const registry = yield* ModelRegistry
      yield* Effect.all(
        Array.from({ length: 200 }, (_, i) => registry.register({ name: `m${i % 7}`, version: `1.0.${i}` })),
        { concurrency: "unbounded" },
      )
    })
    const withRegistry = <A, E>(effect: Effect.Effect<A, E, ModelRegistry>) =>
      Effect.runPromise(Effect.provide(effect, layerFile({ directory })))
    await withRegistry(registerAll)
    const versions = await withRegistry(Effect.flatMap(ModelRegistry, (registry) => registry.stats))
    expect(versions.versions).toBe(200)
    expect(versions.lastSeq).toBe(200)
  })
})
