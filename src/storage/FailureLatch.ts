/**
 * The "this port is dead" latch every durable port shares. After a failed fsync or a failed cut-back of a partial
 * write, the page cache and the file may disagree with what was acknowledged, and retrying the fsync would report
 * success for data that is gone ("fsyncgate"). So the first such failure latches: every later call fails with
 * `StorageFailed { reason: "PortFailed" }` until the storage is reopened and recovery reads the truth back.
 */
import { Effect } from "effect"
import type { StorageFailed } from "../domain/errors.ts"
import { type DurabilityLost, portFailed } from "./StorageError.ts"

export interface FailureLatch {
  /** The failure that latched, if any. */
  readonly failure: () => StorageFailed | undefined
  /** Fails with `PortFailed` once latched. */
  readonly check: (operation: string, path: string) => Effect.Effect<void, StorageFailed>
  /** Latches on `DurabilityLost`, which then surfaces as its `StorageFailed`; other failures pass through. */
  readonly guard: <A, R>(
    effect: Effect.Effect<A, StorageFailed | DurabilityLost, R>,
  ) => Effect.Effect<A, StorageFailed, R>
  /** What `guard` does with a failure, for a caller that handles success in the same step (the append). */
  readonly onError: (e: StorageFailed | DurabilityLost) => Effect.Effect<never, StorageFailed>
  /** Latches on any failure: for steps that leave the port half-changed whatever went wrong. */
  readonly guardAll: <A, R>(
    effect: Effect.Effect<A, StorageFailed | DurabilityLost, R>,
  ) => Effect.Effect<A, StorageFailed, R>
}

export const make = (): FailureLatch => {
  let failed: StorageFailed | undefined
  const latch = (failure: StorageFailed, reported: StorageFailed) => {
    failed ??= failure
    return Effect.fail(reported)
  }
  // Allocated once: `guard` wraps every append, which is the hot path.
  const onError = (e: StorageFailed | DurabilityLost) =>
    e._tag === "DurabilityLost" ? latch(e.failure, e.reported ?? e.failure) : Effect.fail(e)
  const onAnyError = (e: StorageFailed | DurabilityLost) =>
    e._tag === "DurabilityLost" ? latch(e.failure, e.reported ?? e.failure) : latch(e, e)
  return {
    failure: () => failed,
    check: (operation, path) =>
      Effect.suspend(() => (failed === undefined ? Effect.void : Effect.fail(portFailed(operation, path, failed)))),
    guard: (effect) => Effect.catchAll(effect, onError),
    onError,
    guardAll: (effect) => Effect.catchAll(effect, onAnyError),
  }
}
