/**
 * The single writer (DESIGN.md §6). One fiber owns the batch loop, the only place where registry state
 * changes: take everything queued (up to `batchMax`), decide each command against committed state plus the
 * batch's earlier commands, make the accepted events durable with one append (one write, one fsync), then
 * apply them to the index, publish them, and complete the callers. Group commit needs no timer: while one
 * batch is being synced, the next one collects.
 *
 * The mailbox is a plain array and each caller waits in `Effect.async`: a Deferred + Queue + fiber per
 * request costs 3–4× more CPU here (../shared/reference/performance-facts.md).
 */
import { Cause, Clock, Effect, Exit, Fiber, Option, Stream } from "effect"
import {
  type InvalidTransition,
  type ModelNotFound,
  Overloaded,
  StorageFailed,
  type VersionConflict,
  type VersionNotFound,
  WalCorrupt,
} from "../domain/errors.ts"
import type { ModelVersion } from "../domain/ModelVersion.ts"
import type { EventBody, RegistryEvent } from "../domain/RegistryEvent.ts"
import type { RegistryLimits } from "../effects/RegistryConfig.ts"
import type { SnapshotStore } from "../storage/SnapshotStore.ts"
import type { Wal, WalRecord } from "../storage/Wal.ts"
import { EventTail } from "./EventTail.ts"
import { decodeSnapshot, encodeEventPayload, encodeSnapshot, recordTypes } from "./eventCodec.ts"
import { type Command, type Lifecycle, lifecycle } from "./lifecycle.ts"
import { BatchOverlay, RegistryIndex } from "./RegistryIndex.ts"
import { replayEvents } from "./replay.ts"

/** What a write returns: the version as committed, and the event recorded (`null` when nothing changed). */
export interface Outcome {
  readonly version: ModelVersion
  readonly event: RegistryEvent | null
}

export type CommandError =
  | ModelNotFound
  | VersionNotFound
  | VersionConflict
  | InvalidTransition
  | Overloaded
  | StorageFailed

export interface CompactReport {
  readonly snapshotSeq: number
  readonly versions: number
}

interface Pending {
  readonly command: Command
  resume: (exit: Exit.Exit<Outcome, CommandError>) => void
  cancelled: boolean
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

    const index = yield* recoverIndex(wal, snapshots, rules)
    const tail = new EventTail(limits.tailEventsMax, index.lastSeq)
    const overlay = new BatchOverlay(index, rules)
    const stats = { batches: 0, appendedRecords: 0, compactions: 0 }

    const queue: Array<Pending> = []
    const blocked: Array<Pending> = []
    let compactRequests: Array<CompactRequest> = []
    let wakeLoop: (() => void) | undefined
    let failure: StorageFailed | undefined
    let closing = false
    let recordsSinceSnapshot = 0
    const retention = new Set<() => number>()

    const wake = () => {
      const resume = wakeLoop
      wakeLoop = undefined
      resume?.()
    }

    const submit = (command: Command, wait: boolean): Effect.Effect<Outcome, CommandError> =>
      Effect.async<Outcome, CommandError>((resume) => {
        if (failure) return resume(Exit.fail(failure))
        if (closing) return resume(Exit.fail(closedError()))
        const pending: Pending = { command, resume, cancelled: false }
        if (queue.length < limits.mailboxCapacity) queue.push(pending)
        else if (wait) blocked.push(pending)
        else return resume(Exit.fail(new Overloaded({ capacity: limits.mailboxCapacity })))
        wake()
        // An interrupted caller's command is skipped if the loop has not taken it yet.
        return Effect.sync(() => {
          pending.cancelled = true
        })
      })

    const takeBatch = (): Array<Pending> => {
      const batch = queue.splice(0, limits.batchMax)
      if (blocked.length > 0) queue.push(...blocked.splice(0, limits.mailboxCapacity - queue.length))
      return batch
    }

    const failAll = (error: StorageFailed, pending: ReadonlyArray<Pending>) => {
      for (const p of pending) p.resume(Exit.fail(error))
    }

    const runBatch = (batch: ReadonlyArray<Pending>) =>
      Effect.gen(function* () {
        overlay.clear()
        const at = new Date(yield* Clock.currentTimeMillis).toISOString()
        // Callers are completed only after the append: even a no-op or a rejection may rest on an earlier,
        // not yet durable command of the same batch.
        const decided: Array<{ pending: Pending; rejection?: Exit.Exit<never, CommandError>; event?: RegistryEvent }> =
          []
        const events: Array<RegistryEvent> = []
        let seq = index.lastSeq
        for (const pending of batch) {
          if (pending.cancelled) continue
          const { command } = pending
          const name = command._tag === "Register" ? command.metadata.name : command.name
          const decision = rules.decide(overlay.view(name), command)
          if (decision._tag === "Reject") decided.push({ pending, rejection: Exit.fail(decision.error) })
          else if (decision._tag === "Unchanged") decided.push({ pending })
          else {
            overlay.apply(decision.event)
            const event = { ...decision.event, seq: ++seq, at } as RegistryEvent
            events.push(event)
            decided.push({ pending, event })
          }
        }

        if (events.length > 0) {
          const records: Array<WalRecord> = events.map((event) => ({
            seq: event.seq,
            type: recordTypes[event._tag],
            payload: encodeEventPayload(event),
          }))
          if (mutations.ackBeforeFsync) {
            yield* Effect.forkDaemon(wal.append(records))
          } else {
            const appended = yield* Effect.exit(wal.append(records))
            if (Exit.isFailure(appended)) {
              const error = Option.getOrElse(
                Exit.causeOption(appended).pipe(Option.flatMap((c) => Option.fromNullable(squashStorage(c)))),
                () => new StorageFailed({ operation: "append", path: "", reason: "Unknown", message: "append failed" }),
              )
              // The outcome of this batch is unknown to its callers; whether the registry goes on depends on
              // whether the WAL could restore its last good state (ENOSPC) or is failed (fsync, EIO).
              if (!(yield* walStillHealthy(wal, index.lastSeq))) failure = error
              failAll(error, batch)
              if (failure) {
                failAll(failure, queue.splice(0))
                failAll(failure, blocked.splice(0))
                yield* tail.wake
              }
              return
            }
          }
          for (let i = 0; i < events.length; i++) {
            const event = events[i]!
            const { seq: s, at: _a, ...body } = event
            index.apply(s, body as EventBody)
          }
          stats.batches++
          stats.appendedRecords += events.length
          recordsSinceSnapshot += events.length
          yield* tail.push(events)
        }

        for (const { pending, rejection, event } of decided) {
          if (rejection) {
            pending.resume(rejection)
            continue
          }
          const command = pending.command
          const name = command._tag === "Register" ? command.metadata.name : command.name
          const version = command._tag === "Register" ? command.metadata.version : command.version
          pending.resume(Exit.succeed({ version: index.get(name, version)!, event: event ?? null }))
        }
      })

    const runCompaction = Effect.gen(function* () {
      const snapshotSeq = index.lastSeq
      let snapshot = index.toSnapshot()
      if (mutations.compactRegistrationsOnly)
        snapshot = { ...snapshot, versions: snapshot.versions.map((v) => ({ ...v, state: "registered" as const })) }
      if (mutations.compactionRacesAppends) {
        const state = encodeSnapshot(snapshot)
        yield* Effect.forkDaemon(
          Effect.gen(function* () {
            for (let i = 0; i < 8; i++) yield* Effect.yieldNow()
            yield* wal.rotate
            yield* snapshots.write({ lastSeq: snapshotSeq, state })
            yield* wal.deleteSegmentsUpTo(yield* wal.lastSeq)
          }).pipe(Effect.ignore),
        )
        recordsSinceSnapshot = 0
        return { snapshotSeq, versions: snapshot.versions.length }
      }
      yield* wal.rotate
      yield* snapshots.write({ lastSeq: snapshotSeq, state: encodeSnapshot(snapshot) })
      let keepFrom = snapshotSeq + 1
      for (const provider of retention) keepFrom = Math.min(keepFrom, provider())
      if (keepFrom > 1) yield* wal.deleteSegmentsUpTo(keepFrom - 1)
      recordsSinceSnapshot = 0
      stats.compactions++
      return { snapshotSeq, versions: snapshot.versions.length }
    })

    const compactNow = (requests: ReadonlyArray<CompactRequest>) =>
      Effect.gen(function* () {
        const result = yield* Effect.exit(runCompaction)
        if (Exit.isFailure(result)) {
          const error =
            squashStorage(result.cause) ??
            new StorageFailed({ operation: "compact", path: "", reason: "Unknown", message: "compaction failed" })
          failure = error
          failAll(error, queue.splice(0))
          failAll(error, blocked.splice(0))
          for (const r of requests) r.resume(Exit.fail(error))
          yield* tail.wake
          return
        }
        for (const r of requests) r.resume(result)
      })

    const waitForWork = Effect.async<void>((resume) => {
      if (queue.length > 0 || compactRequests.length > 0 || closing) return resume(Effect.void)
      wakeLoop = () => resume(Effect.void)
    })

    const loop = Effect.gen(function* () {
      while (failure === undefined) {
        if (queue.length === 0 && compactRequests.length === 0) {
          if (closing) return
          yield* waitForWork
          continue
        }
        if (queue.length > 0) {
          const batch = takeBatch()
          yield* runBatch(batch).pipe(
            Effect.withSpan("RegistryActor.commit", {
              attributes: { commands: batch.length },
              captureStackTrace: false,
            }),
          )
        }
        if (failure) break
        if (compactRequests.length > 0 || recordsSinceSnapshot >= limits.snapshotEveryRecords) {
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
        const error = failure ?? closedError()
        failAll(error, queue.splice(0))
        failAll(error, blocked.splice(0))
        for (const r of compactRequests.splice(0)) r.resume(Exit.fail(error))
        yield* tail.wake
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
      const decoded = decodeSnapshot(snapshot.value.state)
      if (decoded._tag === "Left")
        return yield* new WalCorrupt({
          file: "snapshot",
          offset: 0,
          seq: snapshot.value.lastSeq,
          reason: `snapshot passed its checksum but does not decode: ${decoded.left}`,
        })
      index = RegistryIndex.fromSnapshot(decoded.right, rules)
    }
    yield* replayEvents(wal.read(index.lastSeq + 1), (event) => {
      const { seq, at: _at, ...body } = event
      index.apply(seq, body as EventBody)
    })
    return index
  })
