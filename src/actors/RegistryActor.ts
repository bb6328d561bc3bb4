/**
 * The single writer (see docs/architecture.md). One fiber runs the batch loop, the only place where registry state
 * changes: it takes a batch from the mailbox and commits it (commitBatch.ts), and between batches lets the
 * compactor start or finish a snapshot (Compactor.ts). Group commit needs no timer: while one batch is being
 * synced, the next one collects.
 *
 * This module wires those parts together and owns what spans them: the failure latch (after a failed fsync every
 * command fails until reopened) and shutdown (pending callers are told the registry closed).
 */
import { type Cause, Effect, Either, Exit, Fiber, Option, RuntimeFlags, Stream } from "effect"
import { Overloaded, RegistryClosed, type StorageFailed, WalCorrupt } from "../domain/errors.ts"
import type { RegistryLimits } from "../storage/Limits.ts"
import type { SnapshotStore } from "../storage/SnapshotStore.ts"
import type { Wal } from "../storage/Wal.ts"
import { type CompactError, Compactor, type CompactReport, storageFailure } from "./Compactor.ts"
import {
  type ChangeError,
  type ChangePending,
  makeCommit,
  type Outcome,
  type Pending,
  type RegisterError,
  type RegisterPending,
  type SubmitError,
} from "./commitBatch.ts"
import { EventTail } from "./EventTail.ts"
import {
  type ChangeCommand,
  type ChangeDecideError,
  type Lifecycle,
  lifecycle,
  type RegisterCommand,
  type RegisterDecideError,
} from "./lifecycleRules.ts"
import { Mailbox } from "./Mailbox.ts"
import { BatchOverlay, RegistryIndex } from "./RegistryIndex.ts"
import { replayEvents } from "./replay.ts"
import { restoreIndex } from "./snapshotCodec.ts"

export type { CompactError, CompactReport } from "./Compactor.ts"
export { appendSeconds, type ChangeError, type Outcome, type RegisterError, type SubmitError } from "./commitBatch.ts"

export interface RegistryActor {
  readonly index: RegistryIndex
  readonly tail: EventTail
  /**
   * Queues a registration. Resolves after the batch that holds it is durable. `wait: false` fails with `Overloaded`
   * instead of waiting when the mailbox is full.
   */
  readonly register: (command: RegisterCommand, wait: boolean) => Effect.Effect<Outcome, RegisterError>
  /** Queues a promotion or deprecation, as `register`. */
  readonly change: (command: ChangeCommand, wait: boolean) => Effect.Effect<Outcome, ChangeError>
  readonly compact: Effect.Effect<CompactReport, CompactError>
  /** Set once a write or fsync failed: every later command fails with it until the registry is reopened. */
  readonly failure: () => StorageFailed | undefined
  readonly closed: () => boolean
  /** Number of commands waiting (queued or blocked on a full mailbox). */
  readonly mailboxDepth: () => number
  /** Lower bound on seqs that compaction must keep in the log (durable observer cursors). */
  readonly retainFrom: (provider: () => number) => () => void
  readonly stats: { batches: number; appendedRecords: number; compactions: number }
}

export const makeRegistryActor = (options: {
  readonly wal: Wal
  readonly snapshots: SnapshotStore
  readonly limits: RegistryLimits
  readonly lifecycle?: Lifecycle
}) =>
  Effect.gen(function* () {
    const { wal, snapshots, limits } = options
    const rules = options.lifecycle ?? lifecycle

    const clock = yield* Effect.clock
    // The commit span is made only when a tracer that can export it is installed: under Effect's built-in tracer a
    // span reaches no one, yet its random trace ids and context FiberRefs cost more than the rest of a small batch.
    const traced = (yield* Effect.tracer) !== builtinTracer
    const index = yield* recoverIndex(wal, snapshots, rules)
    const tail = new EventTail(limits.tailEventsMax, index.lastSeq)
    const stats = { batches: 0, appendedRecords: 0, compactions: 0 }
    const mailbox = new Mailbox<Pending>(limits)

    let wakeLoop: (() => void) | undefined
    let failure: StorageFailed | undefined
    let closing = false
    const wake = () => {
      const resume = wakeLoop
      wakeLoop = undefined
      resume?.()
    }
    const compactor = new Compactor({ wal, snapshots, index, limits, wake })

    /**
     * Every waiting caller, queued or blocked, and every pending compaction gets `error`, and subscribers wake to
     * see it. A compaction left out here would wait until close after a failed append (simulator seed 223).
     */
    const failEverything = (error: StorageFailed | RegistryClosed) =>
      Effect.suspend(() => {
        for (const pending of mailbox.drain()) pending.resume(Exit.fail(error))
        compactor.failAll(error)
        return tail.wake
      })

    /** Latches the registry failed: nothing more is written until it is reopened. */
    const failRegistry = (error: StorageFailed) =>
      Effect.suspend(() => {
        failure = error
        return failEverything(error)
      })

    const appendFailed = (batch: ReadonlyArray<Pending>, cause: Cause.Cause<StorageFailed>) =>
      Effect.gen(function* () {
        const error = storageFailure(cause, "append")
        // The outcome of this batch is unknown to its callers; whether the registry goes on depends on
        // whether the WAL could restore its last good state (ENOSPC) or is failed (fsync, EIO).
        if (!(yield* walStillHealthy(wal, index.lastSeq))) failure = error
        for (const pending of batch) pending.resume(Exit.fail(error))
        if (failure) yield* failEverything(failure)
      })

    const commit = makeCommit({
      wal,
      index,
      overlay: new BatchOverlay(index, rules),
      tail,
      rules,
      clock,
      stats,
      appended: (records) => compactor.appended(records),
      appendFailed,
    })

    /** Why a command cannot be queued now, if it cannot. */
    const refusal = (): StorageFailed | RegistryClosed | undefined =>
      failure ?? (closing ? new RegistryClosed() : undefined)

    // No canceler is returned from `Effect.async`: one makes Effect wrap the wait in `onInterrupt`, which cost more
    // than the rest of a request with hundreds in flight. Interruption is detected instead from the caller's fiber
    // when the loop takes the command (commitBatch.ts, `wasInterrupted`). `pendingOf` is a module-level function,
    // not a closure, so queuing allocates only the Pending itself.
    const enqueue = <C, E>(
      command: C,
      wait: boolean,
      pendingOf: (command: C, resume: Resume<E>, caller: Caller) => Pending,
    ): Effect.Effect<Outcome, E | SubmitError> =>
      Effect.withFiberRuntime((fiber, status) =>
        Effect.async<Outcome, E | SubmitError>((resume) => {
          const refused = refusal()
          if (refused) return resume(Exit.fail(refused))
          const caller = RuntimeFlags.interruptible(status.runtimeFlags) ? fiber : undefined
          if (mailbox.offer(pendingOf(command, resume, caller), wait) === "refused")
            return resume(Exit.fail(new Overloaded({ capacity: limits.mailboxCommandsMax })))
          wake()
        }),
      )

    const hasWork = () => !mailbox.isEmpty || compactor.hasWork
    const waitForWork = Effect.async<void>((resume) => {
      if (hasWork() || closing) return resume(Effect.void)
      wakeLoop = () => resume(Effect.void)
    })

    const commitTraced = (batch: ReadonlyArray<Pending>) =>
      commit(batch).pipe(
        Effect.withSpan("RegistryActor.commit", { attributes: { commands: batch.length }, captureStackTrace: false }),
      )

    const finishCompaction = Effect.map(compactor.finish(failRegistry), (completed) => {
      if (completed) stats.compactions++
    })

    const loop = Effect.gen(function* () {
      while (failure === undefined) {
        if (compactor.finished) {
          yield* finishCompaction
          continue
        }
        if (!hasWork()) {
          if (closing) return
          yield* waitForWork
          continue
        }
        if (!mailbox.isEmpty) {
          const batch = mailbox.take()
          yield* traced ? commitTraced(batch) : commit(batch)
        }
        if (failure === undefined && compactor.due) yield* compactor.start(failRegistry)
      }
    })

    const loopFiber = yield* Effect.forkDaemon(loop)

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        closing = true
        wake()
        yield* Fiber.await(loopFiber)
        if (failure === undefined && (yield* compactor.stop(failRegistry))) stats.compactions++
        yield* failEverything(failure ?? new RegistryClosed())
      }),
    )

    const compact = Effect.async<CompactReport, CompactError>((resume) => {
      const refused = refusal()
      if (refused) return resume(Exit.fail(refused))
      compactor.request(resume)
    })

    const actor: RegistryActor = {
      index,
      tail,
      register: (command, wait) => enqueue(command, wait, registerPending),
      change: (command, wait) => enqueue(command, wait, changePending),
      compact,
      failure: () => failure,
      closed: () => closing,
      mailboxDepth: () => mailbox.size,
      retainFrom: (provider) => compactor.retainFrom(provider),
      stats,
    }
    return actor
  })

type Caller = Fiber.RuntimeFiber<unknown, unknown> | undefined
type Resume<E> = (exit: Exit.Exit<Outcome, E | SubmitError>) => void

const registerPending = (
  command: RegisterCommand,
  resume: Resume<RegisterDecideError>,
  caller: Caller,
): RegisterPending => ({
  kind: "Register",
  command,
  resume,
  caller,
  version: undefined,
  event: null,
  rejection: undefined,
})

const changePending = (command: ChangeCommand, resume: Resume<ChangeDecideError>, caller: Caller): ChangePending => ({
  kind: "Change",
  command,
  resume,
  caller,
  version: undefined,
  event: null,
  rejection: undefined,
})

/** Effect's default tracer, which keeps spans in memory only. */
const builtinTracer = Effect.runSync(Effect.tracer)

/**
 * After a failed append: did the WAL truncate back to its last good state (a failed write, e.g. ENOSPC) or is
 * the port failed (a failed sync or truncate)? A failed port fails every call, so an empty read tells.
 */
const walStillHealthy = (wal: Wal, expectedSeq: number) =>
  Effect.gen(function* () {
    if ((yield* wal.lastSeq) !== expectedSeq) return false
    return Exit.isSuccess(yield* Effect.exit(Stream.runDrain(wal.read(expectedSeq + 1))))
  })

/** Rebuilds the committed state at open: newest valid snapshot, then every later record, in order. */
const recoverIndex = (wal: Wal, snapshots: SnapshotStore, rules: Lifecycle) =>
  Effect.gen(function* () {
    const snapshot = yield* snapshots.latest
    let index = new RegistryIndex(rules)
    if (Option.isSome(snapshot)) {
      const restored = restoreIndex(snapshot.value.state, rules)
      if (Either.isLeft(restored))
        return yield* new WalCorrupt({
          file: "snapshot",
          offset: 0,
          seq: snapshot.value.lastSeq,
          reason: `snapshot passed its checksum but does not restore: ${restored.left}`,
        })
      index = restored.right
    }
    yield* replayEvents(wal.read(index.lastSeq + 1), (event) => index.apply(event.seq, event))
    return index
  })
