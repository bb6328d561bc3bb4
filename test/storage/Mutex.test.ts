/**
 * The WAL's lock: at most one holder at a time, holders in the order they asked, the lock released whatever way
 * the held effect ends (success, failure, defect, interruption), and a waiter interrupted before or right after its
 * turn never leaves it held.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, TestClock, TestContext } from "effect"
import fc from "fast-check"
import * as Mutex from "../../src/storage/Mutex.ts"

type Ending = "succeed" | "fail" | "die"

interface Task {
  /** How long it holds the lock, in simulated milliseconds. */
  readonly holdMillis: number
  readonly ending: Ending
  /** Interrupted this many simulated milliseconds after it asked, if set. */
  readonly interruptAfterMillis: number | undefined
}

const task: fc.Arbitrary<Task> = fc.record({
  holdMillis: fc.integer({ min: 0, max: 5 }),
  ending: fc.constantFrom<Ending>("succeed", "fail", "die"),
  interruptAfterMillis: fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }),
})

const ended = (ending: Ending, index: number) =>
  ending === "succeed" ? Effect.succeed(index) : ending === "fail" ? Effect.fail(index) : Effect.die(index)

describe("Mutex", () => {
  it("runs one holder at a time, in the order they asked, and is free after any ending", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(task, { minLength: 1, maxLength: 12 }), async (tasks) => {
        const trace = await Effect.runPromise(
          Effect.gen(function* () {
            const mutex = Mutex.make()
            let holder: number | undefined
            let overlapped = false
            const entered: Array<number> = []
            const fibers = yield* Effect.forEach(tasks, (t, index) =>
              Effect.fork(
                mutex.withLock(
                  Effect.suspend(() => {
                    overlapped ||= holder !== undefined
                    holder = index
                    entered.push(index)
                    return Effect.zipRight(Effect.sleep(t.holdMillis), ended(t.ending, index))
                  }).pipe(
                    Effect.ensuring(
                      Effect.sync(() => {
                        if (holder === index) holder = undefined
                      }),
                    ),
                  ),
                ),
              ),
            )
            yield* Effect.forEach(tasks, (t, index) =>
              t.interruptAfterMillis === undefined
                ? Effect.void
                : Effect.forkDaemon(
                    Effect.zipRight(Effect.sleep(t.interruptAfterMillis), Fiber.interrupt(fibers[index]!)),
                  ),
            )
            yield* TestClock.adjust(1000)
            const exits = yield* Effect.forEach(fibers, Fiber.await)
            // Free after everything: a new holder gets in at once.
            const after = yield* Effect.fork(mutex.withLock(Effect.succeed("free")))
            yield* TestClock.adjust(1)
            return { overlapped, entered, exits, after: yield* Fiber.poll(after) }
          }).pipe(Effect.provide(TestContext.TestContext)),
        )
        expect(trace.overlapped).toBe(false)
        expect(trace.entered).toEqual([...trace.entered].sort((a, b) => a - b))
        expect(trace.after).toEqual(Option.some(Exit.succeed("free")))
        trace.exits.forEach((exit, index) => {
          const t = tasks[index]!
          if (t.interruptAfterMillis === undefined) {
            expect(trace.entered).toContain(index)
            if (t.ending === "succeed") expect(exit).toEqual(Exit.succeed(index))
            else expect(Exit.isFailure(exit) && !Exit.isInterrupted(exit)).toBe(true)
          }
        })
      }),
      { numRuns: 100 },
    )
  })

  it.effect("a waiter interrupted while the lock is handed to it passes the lock on", () =>
    Effect.gen(function* () {
      const mutex = Mutex.make()
      const first = yield* Effect.fork(mutex.withLock(Effect.sleep(10)))
      yield* TestClock.adjust(1)
      const second = yield* Effect.fork(mutex.withLock(Effect.succeed("second")))
      const third = yield* Effect.fork(mutex.withLock(Effect.succeed("third")))
      yield* TestClock.adjust(1)
      // The release hands the lock to `second`, which is interrupted before it runs again.
      yield* Effect.fork(Effect.zipRight(Fiber.await(first), Fiber.interrupt(second)))
      yield* TestClock.adjust(10)
      expect(yield* Fiber.join(third)).toBe("third")
      expect(yield* mutex.withLock(Effect.succeed("free"))).toBe("free")
    }),
  )

  it.effect(
    "one locked effect, built once and run by many fibers at once (as the WAL's rotate is), runs one at a time",
    () =>
      Effect.gen(function* () {
        const mutex = Mutex.make()
        let inside = 0
        let most = 0
        const locked = mutex.withLock(
          Effect.acquireUseRelease(
            Effect.sync(() => {
              most = Math.max(most, ++inside)
            }),
            () => Effect.sleep(2),
            () => Effect.sync(() => inside--),
          ),
        )
        const running = yield* Effect.forEach(Array.from({ length: 8 }), () => Effect.fork(locked))
        yield* TestClock.adjust(100)
        yield* Effect.forEach(running, Fiber.join)
        expect(most).toBe(1)
      }),
  )
})
