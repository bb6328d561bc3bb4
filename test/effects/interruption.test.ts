/**
 * A caller interrupted while its command waits in the mailbox stops waiting at once, and its command is skipped
 * if the batch loop has not taken it yet; an uninterruptible caller's command always runs. The actor detects
 * this from the caller's fiber when it takes the batch (it returns no canceler from `Effect.async`, which was
 * the costliest part of a register).
 */
import { NodePath } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer } from "effect"
import * as Registry from "../../src/effects/ModelRegistry.ts"
import { layerChecksum, layerIds, layerProcessInfo } from "../../src/node.ts"
import { tempDirectory } from "../support/harness.ts"
import { layerWrapped } from "../support/wrapFileSystem.ts"

describe("interrupted callers", () => {
  it("skip a queued command, but not an uninterruptible one", async () => {
    const directory = tempDirectory("interrupt")
    try {
      const gate = Effect.runSync(Deferred.make<void>())
      let hold = false
      const held = Effect.runSync(Deferred.make<void>())
      const layer = Registry.layerFileSystem({ directory: directory.path }).pipe(
        Layer.provide(
          Layer.mergeAll(
            layerWrapped({
              beforeSync: (path) =>
                hold && path.endsWith(".seg")
                  ? Effect.zipRight(Deferred.succeed(held, undefined), Deferred.await(gate))
                  : Effect.void,
            }),
            NodePath.layer,
            layerChecksum,
            layerProcessInfo,
            layerIds,
          ),
        ),
      )
      await Effect.runPromise(
        Effect.gen(function* () {
          const registry = yield* Registry.ModelRegistry
          hold = true
          // The first batch is held in its fsync; the next commands queue behind it.
          const first = yield* Effect.fork(registry.register({ name: "m", version: "1.0.0" }))
          yield* Deferred.await(held)
          const skipped = yield* Effect.fork(registry.register({ name: "m", version: "2.0.0" }))
          const kept = yield* Effect.fork(Effect.uninterruptible(registry.register({ name: "m", version: "3.0.0" })))
          while ((yield* registry.stats).mailboxDepth < 2) yield* Effect.yieldNow()
          const interrupted = yield* Effect.fork(Fiber.interrupt(skipped))
          yield* Fiber.interruptFork(kept)
          yield* Fiber.await(interrupted)
          hold = false
          yield* Deferred.succeed(gate, undefined)
          expect(Exit.isSuccess(yield* Fiber.await(first))).toBe(true)
          // It is interrupted once its uninterruptible register returns, so only the registry tells that it ran.
          yield* Fiber.await(kept)
          const versions = (yield* registry.listVersions("m")).map((v) => v.version)
          expect(versions).toEqual(["1.0.0", "3.0.0"])
          // The registry goes on as usual.
          yield* registry.register({ name: "m", version: "2.0.0" })
          expect((yield* registry.stats).lastSeq).toBe(3)
        }).pipe(Effect.provide(layer)),
      )
    } finally {
      directory.remove()
    }
  })
})
