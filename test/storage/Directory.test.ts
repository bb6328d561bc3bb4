/**
 * `writeAndSync` on the simulated disk: the file holds its parts in order, never more than `syncEveryBytes` is
 * written between two fsyncs, and it ends synced.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { concatBytes } from "../../src/storage/ByteParts.ts"
import { writeAndSync } from "../../src/storage/Directory.ts"
import { makeSimulatedDisk } from "../../src/testing/SimulatedFileSystem.ts"

const file = "/data/file.tmp"

const written = (parts: ReadonlyArray<Uint8Array>, syncEveryBytes: number) => {
  const disk = makeSimulatedDisk({ seed: 1 })
  return Effect.runSync(
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      yield* fs.makeDirectory("/data")
      const start = disk.trace.length
      yield* writeAndSync(fs, file, parts, "w", syncEveryBytes)
      const trace = disk.trace.slice(start)
      return { bytes: yield* fs.readFile(file), trace }
    }).pipe(Effect.provide(disk.layerWithPath)),
  )
}

describe("writeAndSync", () => {
  it("writes the parts in order, fsyncs at least every syncEveryBytes, and ends with an fsync", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 5 }),
        fc.oneof(fc.integer({ min: 1, max: 48 }), fc.constant(Number.POSITIVE_INFINITY)),
        (parts, syncEveryBytes) => {
          const { bytes, trace } = written(parts, syncEveryBytes)
          expect(bytes).toEqual(concatBytes(parts))
          const steps = trace.map((line) => line.replace(/^\d+ /, "")).filter((line) => line.includes(file))
          expect(steps.at(-1)).toBe(`fsync ${file}`)
          let unsynced = 0
          for (const step of steps) {
            const size = /^write \S+ @\d+ \+(\d+)$/.exec(step)
            if (size) unsynced += Number(size[1])
            else if (step.startsWith("fsync")) unsynced = 0
            expect(unsynced).toBeLessThanOrEqual(syncEveryBytes)
          }
        },
      ),
      { numRuns: 200 },
    )
  })
})
