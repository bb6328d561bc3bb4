/**
 * A data directory removed or replaced under a running registry, on the simulated disk: once the watch's timer
 * ticks (TestClock) or the log rolls, storage fails with `StorageFailed { reason: "Removed" }` and no later write
 * is acknowledged, instead of acknowledging writes that the next start would not find.
 */

import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, TestClock } from "effect"
import * as IdGenerator from "../../src/effects/IdGenerator.ts"
import { ModelRegistry, layerFileSystem as registryLayer } from "../../src/effects/ModelRegistry.ts"
import { DirectoryWatch } from "../../src/storage/DirectoryWatch.ts"
import { layerFileSystem } from "../../src/storage/FileStorage.ts"
import { makeSimulatedDisk, type SimulatedDisk } from "../../src/testing/SimulatedFileSystem.ts"
import { processInfo, records, withPorts } from "./harness.ts"

const directory = "/data"
const intervalMillis = 1000
const watch = Layer.succeed(DirectoryWatch, { intervalMillis })

const onDisk = <A, E>(disk: SimulatedDisk, f: (fs: FileSystem.FileSystem) => Effect.Effect<A, E>) =>
  Effect.flatMap(FileSystem.FileSystem, f).pipe(Effect.provide(disk.layerWithPath))

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Cause.squash(exit.cause)
}

describe("a data directory removed under a running registry (simulated disk)", () => {
  it.effect(
    "after the next tick every register fails with StorageFailed, nothing is acknowledged, health says why",
    () =>
      Effect.gen(function* () {
        const disk = makeSimulatedDisk({ seed: 7 })
        let id = 0
        const ids = IdGenerator.layerFrom(() => `00000000-0000-4000-8000-${String(++id).padStart(12, "0")}`)
        const layer = registryLayer({ directory }).pipe(
          Layer.provide(Layer.mergeAll(disk.layerWithPath, processInfo(), ids, watch)),
        )
        yield* Effect.scoped(
          Effect.gen(function* () {
            const registry = Context.get(yield* Layer.build(layer), ModelRegistry)
            yield* registry.register({ name: "m", version: "1.0.0" })
            yield* onDisk(disk, (fs) => fs.remove(directory, { recursive: true }))
            yield* TestClock.adjust(intervalMillis)
            const exits = []
            for (let i = 1; i <= 20; i++)
              exits.push(yield* Effect.exit(registry.register({ name: "m", version: `1.0.${i}` })))
            expect(exits.filter(Exit.isSuccess)).toEqual([])
            for (const exit of exits) expect(failureOf(exit)).toMatchObject({ _tag: "StorageFailed" })
            expect(failureOf(yield* Effect.exit(registry.health))).toMatchObject({
              _tag: "StorageFailed",
              reason: "Removed",
              path: directory,
            })
            expect((yield* registry.listVersions("m")).map((v) => v.version)).toEqual(["1.0.0"])
          }),
        )
      }),
  )

  it.effect("a tick makes the next append check first, even before the timer's own check has run", () =>
    Effect.gen(function* () {
      const disk = makeSimulatedDisk({ seed: 8 })
      const open = layerFileSystem({ directory }).pipe(
        Layer.provide(Layer.mergeAll(disk.layerWithPath, processInfo(), watch)),
      )
      yield* withPorts(open, ({ wal }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 2))
          yield* onDisk(disk, (fs) => fs.remove(directory, { recursive: true }))
          // Removed but not yet noticed: within an interval the storage cannot know, and takes the write.
          yield* wal.append(records(3, 1))
          yield* TestClock.adjust(intervalMillis)
          expect(failureOf(yield* Effect.exit(wal.append(records(4, 1))))).toMatchObject({ _tag: "StorageFailed" })
          expect(failureOf(yield* Effect.exit(wal.health))).toMatchObject({ reason: "Removed" })
        }),
      )
    }),
  )

  it.effect("a directory removed and re-created under the same name is refused at the next segment roll", () =>
    Effect.gen(function* () {
      const disk = makeSimulatedDisk({ seed: 9 })
      const open = layerFileSystem({ directory }).pipe(
        Layer.provide(Layer.mergeAll(disk.layerWithPath, processInfo(), watch)),
      )
      yield* withPorts(open, ({ wal }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 2))
          yield* onDisk(disk, (fs) =>
            Effect.zipRight(fs.remove(directory, { recursive: true }), fs.makeDirectory(directory)),
          )
          // The roll that compaction asks for; a full segment takes the same path.
          const exit = yield* Effect.exit(wal.rotate)
          expect(failureOf(exit)).toMatchObject({ _tag: "StorageFailed", reason: "Removed", path: directory })
          expect(yield* onDisk(disk, (fs) => fs.readDirectory(directory))).toEqual([])
          expect(failureOf(yield* Effect.exit(wal.append(records(3, 1))))).toMatchObject({ _tag: "StorageFailed" })
        }),
      )
    }),
  )
})
