/**
 * When to snapshot, and the snapshot itself. Compaction starts in the batch loop between two batches: it fixes the
 * state the snapshot holds (the index's records are immutable, so the array of them is a consistent copy) and cuts
 * the log after it. A background fiber then encodes and writes the snapshot and deletes the segments it covers,
 * while batches go on into the new segment: writing the whole state in the loop would stop every writer for as long
 * as the snapshot takes. Its outcome is handed back to the loop, which alone changes the registry's state.
 */
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import { type RegistryClosed, StorageFailed } from "../domain/errors.ts"
import type { RegistryLimits } from "../storage/Limits.ts"
import type { SnapshotStore } from "../storage/SnapshotStore.ts"
import type { Wal } from "../storage/Wal.ts"
import type { RegistryIndex } from "./RegistryIndex.ts"
import { encodeIndexStateCooperatively } from "./snapshotCodec.ts"

export interface CompactReport {
  readonly snapshotSeq: number
  readonly versions: number
}

export type CompactError = StorageFailed | RegistryClosed

type CompactWaiter = (exit: Exit.Exit<CompactReport, CompactError>) => void

export class Compactor {
  private requests: Array<CompactWaiter> = []
  /** Callers of `compact` waiting for the running compaction; whoever settles them takes them, exactly once. */
  private waiters: Array<CompactWaiter> = []
  /** Set while a snapshot is written in the background; no other starts until it is done. */
  private running: Fiber.RuntimeFiber<void> | undefined = undefined
  /** The background snapshot's outcome, for the loop to finish. */
  private done: Exit.Exit<CompactReport, StorageFailed> | undefined = undefined
  private recordsSinceSnapshot = 0
  /** The state the last snapshot wrote (at open: the state recovered, which a snapshot plus its tail held). */
  private versionsAtSnapshot: number
  private readonly retention = new Set<() => number>()

  constructor(
    private readonly deps: {
      readonly wal: Wal
      readonly snapshots: SnapshotStore
      readonly index: RegistryIndex
      readonly limits: Pick<RegistryLimits, "snapshotThresholdRecords" | "snapshotThresholdLogToStateRatio">
      /** Wakes the batch loop: a request or a finished snapshot is work for it. */
      readonly wake: () => void
    },
  ) {
    this.versionsAtSnapshot = deps.index.versionCount
  }

  /** A `compact` call: runs at the loop's next turn, or joins the compaction after the running one. */
  request(waiter: CompactWaiter): void {
    this.requests.push(waiter)
    this.deps.wake()
  }

  appended(records: number): void {
    this.recordsSinceSnapshot += records
  }

  /** Lower bound on seqs that compaction must keep in the log (durable observer cursors). */
  retainFrom(provider: () => number): () => void {
    this.retention.add(provider)
    return () => this.retention.delete(provider)
  }

  /** Whether the loop has compaction work: a finished snapshot to settle, or a request while none runs. */
  get hasWork(): boolean {
    return this.done !== undefined || (this.requests.length > 0 && this.running === undefined)
  }

  get finished(): boolean {
    return this.done !== undefined
  }

  /**
   * Whether to start one now: asked for, or the log has grown past both thresholds. The second threshold makes the
   * log at least as long as the last snapshot's state (times the ratio), so compaction work per record stays
   * bounded at every size, as Redis rewrites its AOF after 100 % growth.
   */
  get due(): boolean {
    const { snapshotThresholdRecords, snapshotThresholdLogToStateRatio } = this.deps.limits
    return (
      this.running === undefined &&
      (this.requests.length > 0 ||
        (this.recordsSinceSnapshot >= snapshotThresholdRecords &&
          this.recordsSinceSnapshot >= snapshotThresholdLogToStateRatio * this.versionsAtSnapshot))
    )
  }

  /**
   * Compaction's first step, in the loop between batches. Its callers get a failure here; `failed` decides what it
   * does to the registry.
   */
  start(failed: (error: StorageFailed) => Effect.Effect<void>): Effect.Effect<void> {
    const waiters = this.requests
    this.requests = []
    return Effect.catchAllCause(this.fork(waiters), (cause) =>
      Effect.suspend(() => {
        const error = storageFailure(cause, "compact")
        this.settle(waiters, Exit.fail(error))
        return failed(error)
      }),
    )
  }

  private fork(waiters: Array<CompactWaiter>) {
    const { index, wal } = this.deps
    return Effect.gen(this, function* () {
      const snapshotSeq = index.lastSeq
      const snapshot = index.toSnapshot()
      this.recordsSinceSnapshot = 0
      this.versionsAtSnapshot = snapshot.versions.length
      yield* wal.rotate
      this.waiters = waiters
      this.running = yield* Effect.forkDaemon(
        Effect.flatMap(Effect.exit(this.write(snapshotSeq, snapshot)), (exit) =>
          Effect.sync(() => {
            this.done = exit
            this.deps.wake()
          }),
        ),
      )
    })
  }

  /** Writes the snapshot and deletes the log it covers, concurrently with the loop's later batches. */
  private write(snapshotSeq: number, snapshot: ReturnType<RegistryIndex["toSnapshot"]>) {
    const { snapshots, wal } = this.deps
    return Effect.gen(this, function* () {
      const state = yield* encodeIndexStateCooperatively(snapshot)
      yield* snapshots.write({ lastSeq: snapshotSeq, state })
      let keepFrom = snapshotSeq + 1
      for (const provider of this.retention) keepFrom = Math.min(keepFrom, provider())
      if (keepFrom > 1) yield* wal.deleteSegmentsUpTo(keepFrom - 1)
      return { snapshotSeq, versions: snapshot.versions.length }
    })
  }

  /**
   * Compaction's last step, in the loop: settles its callers and hands a failed snapshot or deletion to `failed`,
   * which decides what it does to the registry. Returns whether a compaction completed.
   */
  finish(failed: (error: StorageFailed) => Effect.Effect<void>): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      const done = this.done!
      this.done = undefined
      this.running = undefined
      const waiters = this.waiters.splice(0)
      if (Exit.isSuccess(done)) {
        this.settle(waiters, done)
        return Effect.succeed(true)
      }
      const error = storageFailure(done.cause, "compact")
      this.settle(waiters, Exit.fail(error))
      return Effect.as(failed(error), false)
    })
  }

  /**
   * At close: a snapshot still being written is abandoned (its tmp file is removed at the next open); one already
   * written is settled.
   */
  stop(failed: (error: StorageFailed) => Effect.Effect<void>): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      if (this.running !== undefined && this.done === undefined) return Effect.as(Fiber.interrupt(this.running), false)
      return this.done !== undefined ? this.finish(failed) : Effect.succeed(false)
    })
  }

  /** Every caller waiting for a compaction gets `error`. */
  failAll(error: CompactError): void {
    this.settle(this.requests.splice(0), Exit.fail(error))
    this.settle(this.waiters.splice(0), Exit.fail(error))
  }

  private settle(waiters: ReadonlyArray<CompactWaiter>, exit: Exit.Exit<CompactReport, CompactError>) {
    for (const waiter of waiters) waiter(exit)
  }
}

/** The StorageFailed a cause carries, or one describing its defect. */
export const storageFailure = (cause: Cause.Cause<unknown>, operation: string): StorageFailed => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure) && failure.value instanceof StorageFailed) return failure.value
  return new StorageFailed({ operation, path: "", reason: "Unknown", message: String(Cause.squash(cause)) })
}
