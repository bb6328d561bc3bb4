/**
 * The single writer (see docs/architecture.md). One fiber runs the batch loop, the only place where registry state
 * changes: it takes a batch from the mailbox and commits it (commitBatch.ts), and between batches lets the
 * compactor start or finish a snapshot (Compactor.ts). Group commit needs no timer: while one batch is being
 * synced, the next one collects.
 *
 * This module wires those parts together and owns what spans them: the failure latch (after a failed fsync every
 * command fails until reopened) and shutdown (pending callers are told the registry closed).
 */
import { type Cause, type Clock, Effect, Either, Exit, Fiber, FiberRef, Option, RuntimeFlags, Stream } from "effect"
import { embeddedActor } from "../domain/Actor.ts"
import {
  type LifecycleMismatch,
  type ModelIsArchived,
  Overloaded,
  RegistryClosed,
  StorageFailed,
  WalCorrupt,
} from "../domain/errors.ts"
import type { LifecycleChanged, RegistryEvent } from "../domain/RegistryEvent.ts"
import type { RegistryLimits } from "../storage/Limits.ts"
import { progressRecordsStep, reporter } from "../storage/Progress.ts"
import type { SharedLog } from "../storage/SharedLog.ts"
import type { SnapshotStore } from "../storage/SnapshotStore.ts"
import type { Wal, WalRecord } from "../storage/Wal.ts"
import { type CompactError, Compactor, type CompactReport, storageFailure } from "./Compactor.ts"
import {
  type AliasError,
  type AliasOutcome,
  type AliasPending,
  type AnnotateError,
  type AnnotatePending,
  type ChangeError,
  type ChangePending,
  commitTime,
  type ModelCommandError,
  type ModelOutcome,
  type ModelPending,
  makeCommit,
  type Outcome,
  type Pending,
  type RegisterError,
  type RegisterPending,
  type SubmitError,
} from "./commitBatch.ts"
import { EventLoopTurn } from "./EventLoopTurn.ts"
import { EventTail } from "./EventTail.ts"
import { encodeEventRecords } from "./eventCodec.ts"
import { type LifecycleMapping, lifecycleChange } from "./lifecycleBinding.ts"
import {
  type AliasCommand,
  type AliasDecideError,
  type ChangeCommand,
  type ChangeDecideError,
  type Lifecycle,
  lifecycle,
  type RegisterCommand,
  type RegisterDecideError,
} from "./lifecycleRules.ts"
import { Mailbox } from "./Mailbox.ts"
import { BatchOverlay, RegistryIndex } from "./RegistryIndex.ts"
import type { AnnotateDecideError, AnnotateVersionCommand, ModelCommand, ModelDecideError } from "./recordRules.ts"
import { decodeEvents, replayEvents } from "./replay.ts"
import { restoreIndex } from "./snapshotCodec.ts"

export type { CompactError, CompactReport } from "./Compactor.ts"
export {
  type AliasError,
  type AliasOutcome,
  type AnnotateError,
  appendSeconds,
  type ChangeError,
  type ModelCommandError,
  type ModelOutcome,
  type Outcome,
  type RegisterError,
  type SubmitError,
} from "./commitBatch.ts"

export interface RegistryActor {
  readonly index: RegistryIndex
  readonly tail: EventTail
  /**
   * Queues a registration. Resolves after the batch that holds it is durable. `wait: false` fails with `Overloaded`
   * instead of waiting when the mailbox is full. `actor` is recorded on its event.
   */
  readonly register: (command: RegisterCommand, wait: boolean, actor: string) => Effect.Effect<Outcome, RegisterError>
  /** Queues a lifecycle event for a version, as `register`. */
  readonly change: (command: ChangeCommand, wait: boolean, actor: string) => Effect.Effect<Outcome, ChangeError>
  /** Queues an alias set or removal, as `register`. */
  readonly alias: (command: AliasCommand, wait: boolean, actor: string) => Effect.Effect<AliasOutcome, AliasError>
  /** Queues a version's annotation, as `register`. */
  readonly annotate: (
    command: AnnotateVersionCommand,
    wait: boolean,
    actor: string,
  ) => Effect.Effect<Outcome, AnnotateError>
  /** Queues a model's annotation, archiving or restoring, as `register`. */
  readonly model: (
    command: ModelCommand,
    wait: boolean,
    actor: string,
  ) => Effect.Effect<ModelOutcome, ModelCommandError>
  readonly rules: Lifecycle
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
  /** How to move a directory written under another lifecycle to this one (see lifecycleBinding.ts). */
  readonly lifecycleMapping?: LifecycleMapping
  /** The log is shared with other servers (PostgreSQL): decide at its head, and follow what they commit. */
  readonly shared?: SharedLog
}) =>
  Effect.gen(function* () {
    const { wal, snapshots, limits } = options
    const rules = options.lifecycle ?? lifecycle
    const clock = yield* Effect.clock
    // The commit span is made only when a tracer that can export it is installed: under Effect's built-in tracer a
    // span reaches no one, yet its random trace ids and context FiberRefs cost more than the rest of a small batch.
    const traced = (yield* Effect.tracer) !== builtinTracer
    const { shared } = options
    const index = yield* recoverIndex(wal, snapshots)
    yield* bindLifecycle(wal, shared, index, rules, options.lifecycleMapping, clock)
    const tail = new EventTail(limits.tailEventsMax, index.lastSeq)
    /**
     * What other servers committed, in order: into the state, then to subscribers. It counts toward this server's
     * compaction too, so that the log is snapshotted as often as one server's would be, whoever wrote it. Returns
     * why this server must stop deciding, if another server moved the registry to another lifecycle.
     */
    const applyCommitted = (events: ReadonlyArray<RegistryEvent>): StorageFailed | undefined => {
      for (const event of events) {
        index.apply(event.seq, event)
        if (event._tag === "LifecycleChanged" && event.to.fingerprint !== rules.compiled.fingerprint)
          lifecycleMoved ??= new StorageFailed({
            operation: "follow",
            path: "lifecycle",
            reason: "InvalidData",
            message: `another server moved this registry to lifecycle "${event.to.name}" (${event.to.fingerprint}) at seq ${event.seq}; this server decides under "${rules.compiled.name}" and stops writing: restart it with that lifecycle`,
          })
      }
      tail.push(events)
      compactor.appended(events.length)
      return lifecycleMoved
    }
    /** Set once another server recorded a lifecycle other than this server's rules: no decision of it holds then. */
    let lifecycleMoved: StorageFailed | undefined
    const stats = { batches: 0, appendedRecords: 0, compactions: 0 }
    const mailbox = new Mailbox<Pending>(limits)
    const turn = Option.getOrUndefined(yield* Effect.serviceOption(EventLoopTurn))
    const status = new ActorStatus(turn)
    const compactor = new Compactor({ wal, snapshots, index, limits, wake: status.wake })

    /**
     * Every waiting caller, queued or blocked, and every pending compaction gets `error`, and subscribers wake to
     * see it. A compaction left out here would wait until close after a failed append.
     */
    const failEverything = (error: StorageFailed | RegistryClosed) =>
      Effect.sync(() => {
        for (const pending of mailbox.drain()) pending.resume(Exit.fail(error))
        compactor.failAll(error)
        tail.wake()
      })

    /** Latches the registry failed: nothing more is written until it is reopened. */
    const failRegistry = (error: StorageFailed) =>
      Effect.suspend(() => {
        status.failure = error
        return failEverything(error)
      })

    const appendFailed = (batch: ReadonlyArray<Pending>, cause: Cause.Cause<StorageFailed>) =>
      Effect.gen(function* () {
        const error = storageFailure(cause, "append")
        // The outcome of this batch is unknown to its callers; whether the registry goes on depends on
        // whether the WAL could restore its last good state (ENOSPC) or is failed (fsync, EIO). A shared log's
        // head moves with the other servers, so only its latch says.
        const healthy =
          shared === undefined
            ? yield* walStillHealthy(wal, index.lastSeq)
            : Exit.isSuccess(yield* Effect.exit(wal.health))
        if (!healthy) status.failure = error
        if (lifecycleMoved !== undefined) status.failure = lifecycleMoved
        for (const pending of batch) pending.resume(Exit.fail(error))
        if (status.failure) yield* failEverything(status.failure)
      })

    /**
     * A compaction that failed (its roll, or its background snapshot write) fails the registry only if the WAL is
     * failed: the log still holds every acknowledged event, and a full disk is not a failed registry.
     */
    const compactionFailed = (error: StorageFailed) =>
      Effect.flatMap(walStillHealthy(wal, index.lastSeq), (healthy) => (healthy ? Effect.void : failRegistry(error)))

    const overlay = new BatchOverlay(index)
    const appended = (records: number) => compactor.appended(records)
    const metricLabels = yield* FiberRef.get(FiberRef.currentMetricLabels)
    const commit = makeCommit({
      wal,
      index,
      overlay,
      tail,
      rules,
      clock,
      stats,
      metricLabels,
      appended,
      appendFailed,
      ...(shared === undefined
        ? {}
        : {
            shared: {
              log: shared,
              caughtUp: (records) => {
                const moved = applyCommitted(decodedOrThrow(records))
                if (moved !== undefined) throw moved
              },
            },
          }),
    })
    const follower = shared === undefined ? undefined : makeFollower(wal, index, applyCommitted, failRegistry)
    const loop = batchLoop({ mailbox, compactor, status, stats, compactionFailed, commit, traced, turn, follower })
    const loopFiber = yield* Effect.forkDaemon(loop)
    if (shared !== undefined && follower !== undefined)
      yield* Effect.forkScoped(
        shared.follow((head) => {
          if (head > follower.head) follower.head = head
          if (head > index.lastSeq && !follower.due) {
            follower.due = true
            status.wake()
          }
        }),
      )

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        status.closing = true
        status.wake()
        yield* Fiber.await(loopFiber)
        if (status.failure === undefined && (yield* compactor.stop(compactionFailed))) stats.compactions++
        yield* failEverything(status.failure ?? new RegistryClosed())
      }),
    )

    const enqueue = makeEnqueue(mailbox, status, limits)
    const actor: RegistryActor = {
      index,
      tail,
      register: (command, wait, actor) => enqueue(command, wait, actor, registerPending),
      change: (command, wait, actor) => enqueue(command, wait, actor, changePending),
      alias: (command, wait, actor) => enqueue(command, wait, actor, aliasPending),
      annotate: (command, wait, actor) => enqueue(command, wait, actor, annotatePending),
      model: (command, wait, actor) => enqueue(command, wait, actor, modelPending),
      rules,
      compact: Effect.async<CompactReport, CompactError>((resume) => {
        const refused = status.refusal()
        if (refused) return resume(Exit.fail(refused))
        compactor.request(resume)
      }),
      failure: () => status.failure,
      closed: () => status.closing,
      mailboxDepth: () => mailbox.size,
      retainFrom: (provider) => compactor.retainFrom(provider),
      stats,
    }
    return actor
  })

/**
 * Whether the registry failed or is closing, and the wake-up of the loop waiting for work. With an `EventLoopTurn`
 * the idle loop is woken on the next turn rather than at once: it would wait for that turn anyway before taking the
 * batch (see EventLoopTurn), and waking it first and then waiting cost a fiber suspend and resume more per batch.
 */
class ActorStatus {
  failure: StorageFailed | undefined = undefined
  closing = false
  private resumeLoop: ((effect: Effect.Effect<boolean>) => void) | undefined = undefined

  constructor(private readonly turn: EventLoopTurn | undefined) {}

  readonly wake = (): void => {
    const resume = this.resumeLoop
    if (resume === undefined) return
    this.resumeLoop = undefined
    if (this.turn === undefined) resume(notAfterTurn)
    else this.turn.schedule(() => resume(afterTurn))
  }

  /**
   * Resumes when `hasWork` or on close; each `wake` re-checks. Succeeds with whether it resumed on a turn after the
   * wake-up.
   */
  waitForWork(hasWork: () => boolean): Effect.Effect<boolean> {
    return Effect.async<boolean>((resume) => {
      if (hasWork() || this.closing) return resume(notAfterTurn)
      this.resumeLoop = resume
    })
  }

  /** Why a command cannot be queued now, if it cannot. */
  refusal(): StorageFailed | RegistryClosed | undefined {
    return this.failure ?? (this.closing ? new RegistryClosed() : undefined)
  }
}

/**
 * Queues a command and waits for its batch. No canceler is returned from `Effect.async`: one makes Effect wrap the
 * wait in `onInterrupt`, which cost more than the rest of a request with hundreds in flight. Interruption is
 * detected instead from the caller's fiber when the loop takes the command (commitBatch.ts, `wasInterrupted`).
 * `pendingOf` is a module-level function, not a closure, so queuing allocates only the Pending itself.
 */
const makeEnqueue =
  (mailbox: Mailbox<Pending>, status: ActorStatus, limits: RegistryLimits) =>
  <C, A, E>(
    command: C,
    wait: boolean,
    actor: string,
    pendingOf: (command: C, actor: string, resume: Resume<A, E>, caller: Caller) => Pending,
  ): Effect.Effect<A, E | SubmitError> =>
    Effect.withFiberRuntime((fiber, runtime) =>
      Effect.async<A, E | SubmitError>((resume) => {
        const refused = status.refusal()
        if (refused) return resume(Exit.fail(refused))
        const caller = RuntimeFlags.interruptible(runtime.runtimeFlags) ? fiber : undefined
        if (mailbox.offer(pendingOf(command, actor, resume, caller), wait) === "refused")
          return resume(Exit.fail(new Overloaded({ capacity: limits.mailboxCommandsMax })))
        status.wake()
      }),
    )

/**
 * The batch loop, the only fiber that changes registry state: commit a batch, then let the compactor start or
 * finish a snapshot, until the registry fails or closes with nothing left to do.
 */
const batchLoop = (deps: {
  readonly mailbox: Mailbox<Pending>
  readonly compactor: Compactor
  readonly status: ActorStatus
  readonly stats: { compactions: number }
  readonly compactionFailed: (error: StorageFailed) => Effect.Effect<void>
  readonly commit: (batch: ReadonlyArray<Pending>) => Effect.Effect<void>
  readonly traced: boolean
  readonly turn: EventLoopTurn | undefined
  readonly follower: Follower | undefined
}) => {
  const { mailbox, compactor, status, stats, compactionFailed, commit, traced, turn, follower } = deps
  const hasWork = () => !mailbox.isEmpty || compactor.hasWork || follower?.due === true
  const waitForWork = status.waitForWork(hasWork)
  const commitTraced = (batch: ReadonlyArray<Pending>) =>
    commit(batch).pipe(
      Effect.withSpan("RegistryActor.commit", { attributes: { commands: batch.length }, captureStackTrace: false }),
    )
  const finishCompaction = Effect.map(compactor.finish(compactionFailed), (completed) => {
    if (completed) stats.compactions++
  })
  return Effect.gen(function* () {
    // Whether the loop has waited a turn since it last took a batch (see EventLoopTurn).
    let gathered = false
    while (status.failure === undefined) {
      if (compactor.finished) {
        yield* finishCompaction
        continue
      }
      if (!hasWork()) {
        if (status.closing) return
        gathered = yield* waitForWork
        continue
      }
      // With commands waiting, the batch's append catches up itself, unless this server is so far behind that
      // reading it all under the append lock would hold every other server up.
      if (follower?.due === true && (mailbox.isEmpty || follower.head - follower.lastSeq() > catchUpUnderLockMax)) {
        yield* follower.catchUp
        continue
      }
      if (!mailbox.isEmpty) {
        if (turn !== undefined && !gathered) {
          gathered = true
          yield* turn.next
          continue
        }
        gathered = false
        const batch = mailbox.take()
        yield* traced ? commitTraced(batch) : commit(batch)
      }
      if (status.failure === undefined && compactor.due) yield* compactor.start(compactionFailed)
    }
  })
}

const afterTurn = Effect.succeed(true)
const notAfterTurn = Effect.succeed(false)

type Caller = Fiber.RuntimeFiber<unknown, unknown> | undefined
type Resume<A, E> = (exit: Exit.Exit<A, E | SubmitError>) => void

/** A Pending's result fields before its batch sets them. */
const unsettled = { version: undefined, event: null, rejection: undefined } as const

const registerPending = (
  command: RegisterCommand,
  actor: string,
  resume: Resume<Outcome, RegisterDecideError | ModelIsArchived>,
  caller: Caller,
) => ({ kind: "Register", command, actor, resume, caller, ...unsettled }) satisfies RegisterPending

const changePending = (
  command: ChangeCommand,
  actor: string,
  resume: Resume<Outcome, ChangeDecideError | ModelIsArchived>,
  caller: Caller,
) => ({ kind: "Change", command, actor, resume, caller, ...unsettled }) satisfies ChangePending

const aliasPending = (
  command: AliasCommand,
  actor: string,
  resume: Resume<AliasOutcome, AliasDecideError | ModelIsArchived>,
  caller: Caller,
) => ({ kind: "Alias", command, actor, resume, caller, ...unsettled, settled: false }) satisfies AliasPending

const annotatePending = (
  command: AnnotateVersionCommand,
  actor: string,
  resume: Resume<Outcome, AnnotateDecideError | ModelIsArchived>,
  caller: Caller,
) => ({ kind: "Annotate", command, actor, resume, caller, ...unsettled }) satisfies AnnotatePending

const modelPending = (
  command: ModelCommand,
  actor: string,
  resume: Resume<ModelOutcome, ModelDecideError | ModelIsArchived>,
  caller: Caller,
) => ({ kind: "Model", command, actor, resume, caller, ...unsettled, model: undefined }) satisfies ModelPending

/** Effect's default tracer, which keeps spans in memory only. */
const builtinTracer = Effect.runSync(Effect.tracer)

/**
 * After a failed append: did the WAL cut back to its last good state (a failed write, e.g. a full disk) or is the
 * port latched failed (a failed sync or cut-back)? The port says so itself, without IO.
 */
const walStillHealthy = (wal: Wal, expectedSeq: number) =>
  Effect.zipWith(
    wal.lastSeq,
    Effect.exit(wal.health),
    (lastSeq, health) => lastSeq === expectedSeq && Exit.isSuccess(health),
  )

/**
 * Rebuilds the committed state at open: newest valid snapshot, then every later record, in order, reported to
 * `Progress` (phase `replay`).
 */
const recoverIndex = (wal: Wal, snapshots: SnapshotStore) =>
  Effect.gen(function* () {
    const snapshot = yield* snapshots.latest
    let index = new RegistryIndex()
    if (Option.isSome(snapshot)) {
      const restored = restoreIndex(snapshot.value.state)
      if (Either.isLeft(restored))
        return yield* new WalCorrupt({
          file: "snapshot",
          offset: 0,
          seq: snapshot.value.lastSeq,
          reason: `snapshot passed its checksum but does not restore: ${restored.left}`,
        })
      index = restored.right
    }
    const report = yield* reporter
    const total = (yield* wal.lastSeq) - index.lastSeq
    let done = 0
    report({ phase: "replay", done, total })
    yield* replayEvents(wal.read(index.lastSeq + 1), (event) => {
      index.apply(event.seq, event)
      if (++done % progressRecordsStep === 0) report({ phase: "replay", done, total })
    })
    report({ phase: "replay", done: total, total })
    return index
  })

/**
 * Makes the recovered directory run under `rules`' lifecycle: nothing to do if it already does, else the
 * `LifecycleChanged` event is made durable and applied before the first command, or opening fails.
 */
const bindLifecycle = (
  wal: Wal,
  shared: SharedLog | undefined,
  index: RegistryIndex,
  rules: Lifecycle,
  mapping: LifecycleMapping | undefined,
  clock: Clock.Clock,
): Effect.Effect<void, LifecycleMismatch | StorageFailed> =>
  Effect.gen(function* () {
    let refused: LifecycleMismatch | undefined
    let written: LifecycleChanged | undefined
    const decide = () => {
      const change = lifecycleChange(index, rules.compiled, mapping)
      if (Either.isLeft(change)) refused = change.left
      else if (change.right !== undefined)
        written = {
          ...change.right,
          seq: index.lastSeq + 1,
          at: commitTime(clock, index.history.lastAt),
          // The opening process decides the change, and an opener names no actor.
          actor: embeddedActor,
        }
      return written === undefined ? [] : encodeEventRecords([written])
    }
    if (shared === undefined) {
      const records = decide()
      if (refused !== undefined) return yield* refused
      if (records.length > 0) yield* wal.append(records)
    } else {
      // Another server may have written since this one recovered: decided at the head, like every batch.
      yield* shared.appendAtHead(index.lastSeq, (behind) => {
        for (const event of decodedOrThrow(behind)) index.apply(event.seq, event)
        refused = written = undefined
        return decide()
      })
      if (refused !== undefined) return yield* refused
    }
    if (written !== undefined) index.apply(written.seq, written)
  })

/** Records other servers committed, decoded; a failure to decode throws, failing the append that read them. */
const decodedOrThrow = (records: ReadonlyArray<WalRecord>): Array<RegistryEvent> => {
  const decoded = decodeEvents(records)
  if (Either.isLeft(decoded)) throw new Error(decoded.left.message)
  return decoded.right
}

/**
 * Follows a log other servers append to: `due` once the log's head is past this server's state (set by the
 * `SharedLog` follow loop), and `catchUp` applies what they committed, in the batch loop like any change.
 */
interface Follower {
  due: boolean
  /** The newest head the log reported. */
  head: number
  readonly lastSeq: () => number
  readonly catchUp: Effect.Effect<void>
}

/** The most records a batch's append reads under the lock before deciding; more are caught up before it. */
const catchUpUnderLockMax = 1024

const makeFollower = (
  wal: Wal,
  index: RegistryIndex,
  applyCommitted: (events: ReadonlyArray<RegistryEvent>) => StorageFailed | undefined,
  failRegistry: (error: StorageFailed) => Effect.Effect<void>,
): Follower => {
  const follower: Follower = {
    due: false,
    head: 0,
    lastSeq: () => index.lastSeq,
    catchUp: Effect.suspend(() => {
      follower.due = false
      return Stream.runForEachChunk(wal.read(index.lastSeq + 1), (chunk) =>
        Effect.flatMap(decodeEvents(chunk), (events) => {
          const moved = applyCommitted(events)
          return moved === undefined ? Effect.void : Effect.fail(moved)
        }),
      ).pipe(
        Effect.catchAll((error) =>
          // Compacted: this server fell further behind than the log keeps, and only a reopen (from the newest
          // snapshot) can bring it back. Anything else (the database unreachable) is retried at the next wake.
          error._tag === "WalCorrupt"
            ? failRegistry(
                new StorageFailed({
                  operation: "follow",
                  path: error.file,
                  reason: "InvalidData",
                  message: error.message,
                }),
              )
            : error.reason === "Compacted" || error.operation === "follow"
              ? failRegistry(error)
              : Effect.void,
        ),
      )
    }),
  }
  return follower
}
