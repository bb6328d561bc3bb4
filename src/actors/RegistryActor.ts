/**
 * The single writer (DESIGN.md §6). One fiber owns the batch loop, the only place where registry state
 * changes: take everything queued (up to `batchCommandsMax`), decide each command against committed state plus the
 * batch's earlier commands, make the accepted events durable with one append (one write, one fsync), then
 * apply them to the index, publish them, and complete the callers. Group commit needs no timer: while one
 * batch is being synced, the next one collects.
 *
 * The mailbox is a plain array and each caller waits in `Effect.async`: a Deferred + Queue + fiber per
 * request costs 3–4× more CPU here (../shared/reference/performance-facts.md).
 */
import {
  Cause,
  Effect,
  Either,
  Exit,
  Fiber,
  FiberRef,
  Metric,
  MetricBoundaries,
  Option,
  RuntimeFlags,
  Stream,
} from "effect"
import {
  type DirectoryLocked,
  type InvalidInput,
  Overloaded,
  type RegistryError,
  StorageFailed,
  WalCorrupt,
} from "../domain/errors.ts"
import type { ModelVersion } from "../domain/ModelVersion.ts"
import type { EventBody, RegistryEvent } from "../domain/RegistryEvent.ts"
import type { RegistryLimits } from "../storage/Limits.ts"
import type { SnapshotStore } from "../storage/SnapshotStore.ts"
import type { Wal } from "../storage/Wal.ts"
import { EventTail } from "./EventTail.ts"
import { encodeEventRecords } from "./eventCodec.ts"
import { type Command, type Lifecycle, lifecycle } from "./lifecycleRules.ts"
import { BatchOverlay, type IndexSnapshot, RegistryIndex } from "./RegistryIndex.ts"
import { replayEvents } from "./replay.ts"
import { encodeIndexState, encodeIndexStateCooperatively, restoreIndex } from "./snapshotCodec.ts"

/** What a write returns: the version as committed, and the event recorded (`null` when nothing changed). */
export interface Outcome {
  readonly version: ModelVersion
  readonly event: RegistryEvent | null
}

/** One batch's write + fdatasync, as the caller waits for it (Prometheus: registry_wal_append_seconds). */
export const appendSeconds = Metric.histogram(
  "registry_wal_append_seconds",
  MetricBoundaries.exponential({ start: 0.000_05, factor: 2, count: 16 }),
  "time to make one batch durable: one write and one fdatasync",
)

/** What a queued command can fail with: every registry error except those of input decoding and of opening. */
export type CommandError = Exclude<RegistryError, InvalidInput | WalCorrupt | DirectoryLocked>

export interface CompactReport {
  readonly snapshotSeq: number
  readonly versions: number
}

/**
 * One queued command. The batch writes its result into the same object (no per-command result allocation:
 * GC was 20–35 % of a register's CPU at 512 in flight).
 */
interface Pending {
  readonly command: Command
  readonly resume: (exit: Exit.Exit<Outcome, CommandError>) => void
  /** The waiting caller, when it can be interrupted: its command is skipped if it was interrupted before the loop took it. */
  readonly caller: Fiber.RuntimeFiber<unknown, unknown> | undefined
  /** Set by the batch: `undefined` (skipped), `null` (unchanged), the event recorded, or the rejection. */
  result: RegistryEvent | null | undefined
  rejection: CommandError | undefined
}

interface CompactRequest {
  readonly resume: (exit: Exit.Exit<CompactReport, StorageFailed>) => void
}

/** Test-only switches that re-introduce the seed's bugs, so the simulator can prove it catches each one. */
export interface ActorMutations {
  /** Acknowledge callers before the append's fsync has returned. */
  readonly ackBeforeFsync?: boolean
  /** Snapshot only registrations (every version back to `registered`), as the seed's compaction did. */
  readonly compactRegistrationsOnly?: boolean
  /**
   * Compact in the background while batches keep committing, then delete the log up to wherever it has got to
   * (the seed snapshotted, then renamed over a live log that had moved on).
   */
  readonly compactionRacesAppends?: boolean
}

export interface RegistryActor {
  readonly index: RegistryIndex
  readonly tail: EventTail
  /** Queues a command. `wait: false` fails with `Overloaded` instead of waiting when the mailbox is full. */
  readonly submit: (command: Command, wait: boolean) => Effect.Effect<Outcome, CommandError>
  readonly compact: Effect.Effect<CompactReport, StorageFailed>
  /** Set once a write or fsync failed: every later command fails with it until the registry is reopened. */
  readonly failure: () => StorageFailed | undefined
  readonly closed: () => boolean
  /** Number of commands waiting (queued or blocked on a full mailbox). */
  readonly mailboxDepth: () => number
  /** Lower bound on seqs that compaction must keep in the log (durable observer cursors). */
  readonly retainFrom: (provider: () => number) => () => void
  readonly stats: { batches: number; appendedRecords: number; compactions: number }
}

const closedError = () =>
  new StorageFailed({ operation: "submit", path: "", reason: "Closed", message: "the registry is closed" })

export const makeRegistryActor = (options: {
  readonly wal: Wal
  readonly snapshots: SnapshotStore
  readonly limits: RegistryLimits
  readonly lifecycle?: Lifecycle
  readonly mutations?: ActorMutations
}) =>
  Effect.gen(function* () {
    const { wal, snapshots, limits } = options
    const rules = options.lifecycle ?? lifecycle
    const mutations = options.mutations ?? {}

    const clock = yield* Effect.clock
    // The commit span is made only when a tracer that can export it is installed. Under Effect's built-in tracer a
    // span reaches no one, yet cost ~13 µs per batch (random trace ids, context FiberRefs): with one producer in
    // memory, p50 20 → 33 µs and p99 0.1 → 4 ms.
    const traced = (yield* Effect.tracer) !== builtinTracer
    const index = yield* recoverIndex(wal, snapshots, rules)
    const tail = new EventTail(limits.tailEventsMax, index.lastSeq)
    const overlay = new BatchOverlay(index, rules)
    const stats = { batches: 0, appendedRecords: 0, compactions: 0 }

    let queue: Array<Pending> = []
    const blocked: Array<Pending> = []
    let compactRequests: Array<CompactRequest> = []
    let wakeLoop: (() => void) | undefined
    let failure: StorageFailed | undefined
    let closing = false
    let recordsSinceSnapshot = 0
    /** The state the last snapshot wrote (at open: the state recovered, which a snapshot plus its tail held). */
    let versionsAtSnapshot = index.versionCount
    const retention = new Set<() => number>()
    /** Set while a snapshot is written in the background; the loop starts no other until it is done. */
    let compactionFiber: Fiber.RuntimeFiber<void> | undefined
    /** Its outcome, handed back to the loop, which alone changes the registry's state. */
    let compactionDone: Exit.Exit<CompactReport, StorageFailed> | undefined
    /** Callers of `compact` waiting for the running compaction; whoever settles them takes them, exactly once. */
    let compactionWaiters: Array<CompactRequest> = []
    const takeCompactionWaiters = () => compactionWaiters.splice(0)

    const wake = () => {
      const resume = wakeLoop
      wakeLoop = undefined
      resume?.()
    }

    // No canceler is returned from `Effect.async`: one makes Effect wrap the wait in `onInterrupt`, which cost
    // ~10 µs per request at 512 in flight against ~2 µs without (micro-benchmark, same process). Interruption is
    // detected instead from the caller's fiber when the loop takes the command (`wasInterrupted`).
    const submit = (command: Command, wait: boolean): Effect.Effect<Outcome, CommandError> =>
      Effect.withFiberRuntime<Outcome, CommandError>((fiber, status) =>
        Effect.async<Outcome, CommandError>((resume) => {
          if (failure) return resume(Exit.fail(failure))
          if (closing) return resume(Exit.fail(closedError()))
          const pending: Pending = {
            command,
            resume,
            caller: RuntimeFlags.interruptible(status.runtimeFlags) ? fiber : undefined,
            result: undefined,
            rejection: undefined,
          }
          if (queue.length < limits.mailboxCommandsMax) queue.push(pending)
          else if (wait) blocked.push(pending)
          else return resume(Exit.fail(new Overloaded({ capacity: limits.mailboxCommandsMax })))
          wake()
        }),
      )

    const takeBatch = (): Array<Pending> => {
      let batch: Array<Pending>
      if (queue.length <= limits.batchCommandsMax) {
        // Swapping arrays instead of splicing: the common case takes the whole mailbox.
        batch = queue
        queue = []
      } else batch = queue.splice(0, limits.batchCommandsMax)
      if (blocked.length > 0) queue.push(...blocked.splice(0, limits.mailboxCommandsMax - queue.length))
      return batch
    }

    const failAll = (error: StorageFailed, pending: ReadonlyArray<Pending>) => {
      for (const p of pending) p.resume(Exit.fail(error))
    }

    /**
     * Every waiting caller, queued or blocked, and every pending compaction gets `error`, and subscribers wake to
     * see it. A compaction left out here once hung until close after a failed append (simulator seed 223).
     */
    const failEverything = (error: StorageFailed) =>
      Effect.suspend(() => {
        failAll(error, queue.splice(0))
        failAll(error, blocked.splice(0))
        for (const request of compactRequests.splice(0)) request.resume(Exit.fail(error))
        for (const request of takeCompactionWaiters()) request.resume(Exit.fail(error))
        return tail.wake
      })

    /** Decides every command of the batch against committed state plus the batch's earlier events. */
    const decideBatch = (batch: ReadonlyArray<Pending>): Array<RegistryEvent> => {
      overlay.clear()
      const events: Array<RegistryEvent> = []
      let at: string | undefined
      let seq = index.lastSeq
      for (let i = 0; i < batch.length; i++) {
        const pending = batch[i]!
        pending.result = undefined
        pending.rejection = undefined
        if (wasInterrupted(pending)) continue
        const command = pending.command
        const decision = rules.decide(overlay.view(commandName(command)), command)
        if (decision._tag === "Reject") pending.rejection = decision.error
        else if (decision._tag === "Unchanged") pending.result = null
        else {
          overlay.apply(decision.event)
          at ??= new Date(clock.unsafeCurrentTimeMillis()).toISOString()
          const event = stampEvent(decision.event, ++seq, at)
          events.push(event)
          pending.result = event
        }
      }
      return events
    }

    /**
     * Callers are completed only after the append: even a no-op or a rejection may rest on an earlier, not yet
     * durable command of the same batch.
     */
    const completeBatch = (batch: ReadonlyArray<Pending>) => {
      for (let i = 0; i < batch.length; i++) {
        const pending = batch[i]!
        if (pending.rejection !== undefined) pending.resume(Exit.fail(pending.rejection))
        else if (pending.result !== undefined) {
          const command = pending.command
          const version =
            command._tag === "Register"
              ? index.get(command.metadata.name, command.metadata.version)
              : index.get(command.name, command.version)
          pending.resume(Exit.succeed({ version: version!, event: pending.result }))
        }
      }
    }

    const applyCommitted = (events: ReadonlyArray<RegistryEvent>) => {
      for (let i = 0; i < events.length; i++) index.apply(events[i]!.seq, events[i]!)
      stats.batches++
      stats.appendedRecords += events.length
      recordsSinceSnapshot += events.length
    }

    const appendFailed = (batch: ReadonlyArray<Pending>, cause: Cause.Cause<StorageFailed>) =>
      Effect.gen(function* () {
        const error =
          squashStorage(cause) ??
          new StorageFailed({ operation: "append", path: "", reason: "Unknown", message: "append failed" })
        // The outcome of this batch is unknown to its callers; whether the registry goes on depends on
        // whether the WAL could restore its last good state (ENOSPC) or is failed (fsync, EIO).
        if (!(yield* walStillHealthy(wal, index.lastSeq))) failure = error
        failAll(error, batch)
        if (failure) yield* failEverything(failure)
      })

    // Plain combinators rather than Effect.gen: this runs once per batch, i.e. once per register with one producer.
    const runBatch = (batch: ReadonlyArray<Pending>): Effect.Effect<void> =>
      Effect.suspend(() => {
        const events = decideBatch(batch)
        if (events.length === 0) {
          completeBatch(batch)
          return Effect.void
        }
        const records = encodeEventRecords(events)
        const committed = Effect.suspend(() => {
          applyCommitted(events)
          return Effect.zipRight(
            tail.push(events),
            Effect.sync(() => completeBatch(batch)),
          )
        })
        if (mutations.ackBeforeFsync) return Effect.zipRight(Effect.forkDaemon(wal.append(records)), committed)
        const started = clock.unsafeCurrentTimeNanos()
        return Effect.matchCauseEffect(wal.append(records), {
          onFailure: (cause) => appendFailed(batch, cause),
          onSuccess: () =>
            Effect.zipRight(
              Metric.update(appendSeconds, Number(clock.unsafeCurrentTimeNanos() - started) / 1e9),
              committed,
            ),
        })
      })

    /** Writes the snapshot and deletes the log it covers, concurrently with the loop's later batches. */
    const writeSnapshot = (snapshotSeq: number, snapshot: IndexSnapshot) =>
      Effect.gen(function* () {
        const state = yield* encodeIndexStateCooperatively(snapshot)
        yield* snapshots.write({ lastSeq: snapshotSeq, state })
        let keepFrom = snapshotSeq + 1
        for (const provider of retention) keepFrom = Math.min(keepFrom, provider())
        if (keepFrom > 1) yield* wal.deleteSegmentsUpTo(keepFrom - 1)
        return { snapshotSeq, versions: snapshot.versions.length }
      })

    /**
     * Compaction step 1, in the loop between batches: fix the state the snapshot holds (the index's records are
     * immutable, so the array of them is a consistent copy) and cut the log after it. The snapshot is then written
     * in the background while batches go on into the new segment: writing the whole state stopped every writer for
     * 8.3 s at 1M versions (bench/, recovery scenario).
     */
    const startCompaction = (requests: ReadonlyArray<CompactRequest>) =>
      Effect.gen(function* () {
        const snapshotSeq = index.lastSeq
        let snapshot = index.toSnapshot()
        if (mutations.compactRegistrationsOnly)
          snapshot = { ...snapshot, versions: snapshot.versions.map((v) => ({ ...v, state: "registered" as const })) }
        recordsSinceSnapshot = 0
        versionsAtSnapshot = snapshot.versions.length
        if (mutations.compactionRacesAppends) {
          const state = encodeIndexState(snapshot)
          yield* Effect.forkDaemon(
            Effect.gen(function* () {
              for (let i = 0; i < 8; i++) yield* Effect.yieldNow()
              yield* wal.rotate
              yield* snapshots.write({ lastSeq: snapshotSeq, state })
              yield* wal.deleteSegmentsUpTo(yield* wal.lastSeq)
            }).pipe(Effect.ignore),
          )
          for (const r of requests) r.resume(Exit.succeed({ snapshotSeq, versions: snapshot.versions.length }))
          return
        }
        yield* wal.rotate
        compactionWaiters = [...requests]
        compactionFiber = yield* Effect.forkDaemon(
          Effect.flatMap(Effect.exit(writeSnapshot(snapshotSeq, snapshot)), (exit) =>
            Effect.sync(() => {
              compactionDone = exit
              wake()
            }),
          ),
        )
      })

    const failCompaction = (cause: Cause.Cause<unknown>, requests: ReadonlyArray<CompactRequest>) =>
      Effect.suspend(() => {
        const error =
          squashStorage(cause) ??
          new StorageFailed({ operation: "compact", path: "", reason: "Unknown", message: "compaction failed" })
        failure = error
        for (const r of requests) r.resume(Exit.fail(error))
        return failEverything(error)
      })

    const compactNow = (requests: ReadonlyArray<CompactRequest>) =>
      Effect.gen(function* () {
        const started = yield* Effect.exit(startCompaction(requests))
        if (Exit.isFailure(started)) yield* failCompaction(started.cause, requests)
      })

    /** Compaction's last step, in the loop: a failed snapshot or deletion fails the registry, as a failed append. */
    const finishCompaction = Effect.suspend(() => {
      const done = compactionDone!
      compactionDone = undefined
      compactionFiber = undefined
      if (Exit.isFailure(done)) return failCompaction(done.cause, takeCompactionWaiters())
      stats.compactions++
      for (const r of takeCompactionWaiters()) r.resume(done)
      return Effect.void
    })

    const hasWork = () =>
      queue.length > 0 || compactionDone !== undefined || (compactRequests.length > 0 && compactionFiber === undefined)
    const waitForWork = Effect.async<void>((resume) => {
      if (hasWork() || closing) return resume(Effect.void)
      wakeLoop = () => resume(Effect.void)
    })

    const loop = Effect.gen(function* () {
      while (failure === undefined) {
        if (compactionDone !== undefined) {
          yield* finishCompaction
          continue
        }
        if (!hasWork()) {
          if (closing) return
          yield* waitForWork
          continue
        }
        if (queue.length > 0) {
          const batch = takeBatch()
          yield* traced
            ? runBatch(batch).pipe(
                Effect.withSpan("RegistryActor.commit", {
                  attributes: { commands: batch.length },
                  captureStackTrace: false,
                }),
              )
            : runBatch(batch)
        }
        if (failure) break
        if (
          compactionFiber === undefined &&
          (compactRequests.length > 0 ||
            (recordsSinceSnapshot >= limits.snapshotThresholdRecords &&
              recordsSinceSnapshot >= limits.snapshotThresholdLogToStateRatio * versionsAtSnapshot))
        ) {
          const requests = compactRequests
          compactRequests = []
          yield* compactNow(requests)
        }
      }
    })

    const loopFiber = yield* Effect.forkDaemon(loop)

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        closing = true
        wake()
        yield* Fiber.await(loopFiber)
        // A snapshot still being written is abandoned (its tmp file is removed at the next open); its callers
        // are told the registry closed.
        if (compactionFiber !== undefined) yield* Fiber.interrupt(compactionFiber)
        if (compactionDone !== undefined && failure === undefined) yield* finishCompaction
        yield* failEverything(failure ?? closedError())
      }),
    )

    const compact = Effect.async<CompactReport, StorageFailed>((resume) => {
      if (failure) return resume(Exit.fail(failure))
      if (closing) return resume(Exit.fail(closedError()))
      compactRequests.push({ resume })
      wake()
    })

    const actor: RegistryActor = {
      index,
      tail,
      submit,
      compact,
      failure: () => failure,
      closed: () => closing,
      mailboxDepth: () => queue.length + blocked.length,
      retainFrom: (provider) => {
        retention.add(provider)
        return () => retention.delete(provider)
      },
      stats,
    }
    return actor
  })

/** Effect's default tracer, which keeps spans in memory only. */
const builtinTracer = Effect.runSync(Effect.tracer)

const commandName = (command: Command) => (command._tag === "Register" ? command.metadata.name : command.name)

/** The event with its seq and commit time, built field by field: a spread copy per event showed in profiles. */
const stampEvent = (body: EventBody, seq: number, at: string): RegistryEvent => {
  switch (body._tag) {
    case "Registered":
      return { _tag: "Registered", seq, at, metadata: body.metadata }
    case "Promoted":
      return { _tag: "Promoted", seq, at, name: body.name, version: body.version, supersedes: body.supersedes }
    case "Deprecated":
      return { _tag: "Deprecated", seq, at, name: body.name, version: body.version }
  }
}

/** Whether the caller was interrupted while its command waited in the mailbox (it has stopped waiting). */
const wasInterrupted = (pending: Pending): boolean =>
  pending.caller !== undefined && !Cause.isEmpty(pending.caller.getFiberRef(FiberRef.interruptedCause))

const squashStorage = (cause: Cause.Cause<unknown>): StorageFailed | undefined => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure) && failure.value instanceof StorageFailed) return failure.value
  const defect = Cause.squash(cause)
  return new StorageFailed({ operation: "append", path: "", reason: "Unknown", message: String(defect) })
}

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
