/**
 * With every fault knob at 0 the simulated disk must be indistinguishable from a real one: the same random
 * programs run on both must give the same outcomes (values, or error tag + reason) and leave the same tree.
 */
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { makeSimulatedDisk } from "../../src/testing/index.ts"
import { program, runProgram } from "./fsOps.ts"

describe("SimulatedFileSystem vs the real disk", () => {
  it.live("agrees on random operation sequences (outcomes and final contents)", () =>
    Effect.gen(function* () {
      const real = yield* FileSystem.FileSystem
      const root = yield* real.makeTempDirectoryScoped({ prefix: "simfs-diff-" })
      let run = 0
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(program, async (ops) => {
            run++
            const base = `${root}/run${run}`
            const expected = await Effect.runPromise(
              Effect.flatMap(real.makeDirectory(base), () => runProgram(real, base, ops)),
            )
            const disk = makeSimulatedDisk({ seed: run })
            const sim = disk.fileSystem
            const actual = await Effect.runPromise(
              Effect.flatMap(sim.makeDirectory("/base", { recursive: true }), () => runProgram(sim, "/base", ops)),
            )
            expect(actual.outcomes).toEqual(expected.outcomes)
            expect(actual.tree).toEqual(expected.tree)
            expect(disk.openFiles).toBe(0)
          }),
          { numRuns: 300 },
        ),
      )
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)),
  )
})
