/**
 * The port-failed latch: only `DurabilityLost` (or, through `guardAll`, any failure) latches; once latched every
 * check fails with `PortFailed` naming the first failure, and the failed call reports what it was given.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { StorageFailed } from "../../src/domain/errors.ts"
import * as FailureLatch from "../../src/storage/FailureLatch.ts"
import { DurabilityLost } from "../../src/storage/StorageError.ts"

const failed = (operation: string) =>
  new StorageFailed({ operation, path: "p", reason: "Unknown", message: `${operation} failed` })

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Cause.squash(exit.cause)
}

describe("FailureLatch", () => {
  it.effect("a plain failure passes through guard without latching", () =>
    Effect.gen(function* () {
      const latch = FailureLatch.make()
      expect(failureOf(yield* latch.guard(Effect.fail(failed("write"))).pipe(Effect.exit))).toMatchObject({
        operation: "write",
      })
      expect(latch.failure()).toBeUndefined()
      yield* latch.check("append", "p")
    }),
  )

  it.effect("DurabilityLost latches: the call reports `reported`, later checks fail with PortFailed", () =>
    Effect.gen(function* () {
      const latch = FailureLatch.make()
      const lost = new DurabilityLost({ failure: failed("truncate"), reported: failed("write") })
      expect(failureOf(yield* latch.guard(Effect.fail(lost)).pipe(Effect.exit))).toMatchObject({ operation: "write" })
      expect(latch.failure()).toMatchObject({ operation: "truncate" })
      // The first failure stays the one named.
      yield* latch.guard(Effect.fail(new DurabilityLost({ failure: failed("fsync") }))).pipe(Effect.exit)
      expect(failureOf(yield* latch.check("read", "q").pipe(Effect.exit))).toMatchObject({
        _tag: "StorageFailed",
        operation: "read",
        path: "q",
        reason: "PortFailed",
        message: expect.stringContaining("truncate p"),
      })
    }),
  )

  it.effect("guardAll latches on any failure", () =>
    Effect.gen(function* () {
      const latch = FailureLatch.make()
      yield* latch.guardAll(Effect.fail(failed("rename"))).pipe(Effect.exit)
      expect(latch.failure()).toMatchObject({ operation: "rename" })
    }),
  )
})
