/**
 * The batch commit, the one step where registry state changes: decide every command of a batch against committed
 * state plus the batch's earlier commands, make the accepted events durable with one append (one write, one
 * fsync), commit the decided state to the index, publish the events, and complete the callers.
 *
 * Runs once per batch, i.e. once per register with a single producer, so it is written with plain combinators
 * instead of Effect.gen, and writes each caller's result into its queued `Pending` instead of allocating one.
 */
import {
  Cause,
  type Clock,
  Effect,
  Exit,
  type Fiber,
  FiberRef,
  Metric,
  MetricBoundaries,
  type MetricLabel,
} from "effect"
import type { ModelInfo } from "../domain/Annotation.ts"
import { ModelIsArchived, type Overloaded, type RegistryClosed, type StorageFailed } from "../domain/errors.ts"
import type { ModelVersion } from "../domain/ModelVersion.ts"
import { type AnyEventBody, type EventBody, eventVersion, type RegistryEvent } from "../domain/RegistryEvent.ts"
import type { SharedLog } from "../storage/SharedLog.ts"
import type { Wal, WalRecord } from "../storage/Wal.ts"
import type { EventTail } from "./EventTail.ts"
import { makeBatchEncoder } from "./eventCodec.ts"
import type {
  AliasCommand,
  AliasDecideError,
  ChangeCommand,
  ChangeDecideError,
  Decision,
  Lifecycle,
  RegisterCommand,
  RegisterDecideError,
} from "./lifecycleRules.ts"
import type { BatchOverlay, ModelMeta, RegistryIndex } from "./RegistryIndex.ts"
import {
  type AnnotateDecideError,
  type AnnotateVersionCommand,
  decideAnnotateVersion,
  decideModelCommand,
  type ModelCommand,
  type ModelDecideError,
  type RecordDecision,
} from "./recordRules.ts"

/** What a write returns: the version as the caller's own command left it, and its event (`null`: nothing changed). */
export interface Outcome {
  readonly version: ModelVersion
  readonly event: RegistryEvent | null
}

/**
 * What an alias command returns: the version the alias names after it (for a removal, the one it named), `null` when
 * a removal found the alias not set, and its event (`null`: nothing changed).
 */
export interface AliasOutcome {
  readonly alias: string
  readonly version: ModelVersion | null
  readonly event: RegistryEvent | null
}

/** What a model command returns: the model's own record as the command left it, and its event (`null`: no change). */
export interface ModelOutcome {
  readonly model: ModelInfo
  readonly event: RegistryEvent | null
}

/** What any queued command can fail with, besides its own rejections. */
export type SubmitError = Overloaded | StorageFailed | RegistryClosed
export type RegisterError = RegisterDecideError | ModelIsArchived | SubmitError
export type ChangeError = ChangeDecideError | ModelIsArchived | SubmitError
export type AliasError = AliasDecideError | ModelIsArchived | SubmitError
export type AnnotateError = AnnotateDecideError | ModelIsArchived | SubmitError
export type ModelCommandError = ModelDecideError | ModelIsArchived | SubmitError

interface PendingBase {
  /** The waiting caller, when it can be interrupted: its command is skipped if it was interrupted before the loop took it. */
  readonly caller: Fiber.RuntimeFiber<unknown, unknown> | undefined
  /** Who asked: the event's `actor`. */
  readonly actor: string
  /** Set by the batch: the version as this command left it (`undefined`: skipped or rejected) and its event. */
  version: ModelVersion | undefined
  event: RegistryEvent | null
}
export interface RegisterPending extends PendingBase {
  readonly kind: "Register"
  readonly command: RegisterCommand
  readonly resume: (exit: Exit.Exit<Outcome, RegisterError>) => void
  rejection: RegisterDecideError | ModelIsArchived | undefined
}
export interface ChangePending extends PendingBase {
  readonly kind: "Change"
  readonly command: ChangeCommand
  readonly resume: (exit: Exit.Exit<Outcome, ChangeError>) => void
  rejection: ChangeDecideError | ModelIsArchived | undefined
}
export interface AliasPending extends PendingBase {
  readonly kind: "Alias"
  readonly command: AliasCommand
  readonly resume: (exit: Exit.Exit<AliasOutcome, AliasError>) => void
  rejection: AliasDecideError | ModelIsArchived | undefined
  /** Set by the batch when the command is decided, whether or not it names a version. */
  settled: boolean
}
export interface AnnotatePending extends PendingBase {
  readonly kind: "Annotate"
  readonly command: AnnotateVersionCommand
  readonly resume: (exit: Exit.Exit<Outcome, AnnotateError>) => void
  rejection: AnnotateDecideError | ModelIsArchived | undefined
}
export interface ModelPending extends PendingBase {
  readonly kind: "Model"
  readonly command: ModelCommand
  readonly resume: (exit: Exit.Exit<ModelOutcome, ModelCommandError>) => void
  rejection: ModelDecideError | ModelIsArchived | undefined
  /** Set by the batch: the model's own record as this command left it. */
  model: ModelInfo | undefined
}
/**
 * One queued command. The batch writes its result into the same object (no per-command result allocation: GC was a
 * large share of a register's CPU with hundreds in flight).
 */
export type Pending = RegisterPending | ChangePending | AliasPending | AnnotatePending | ModelPending

/** One batch's write + fdatasync, as the caller waits for it (Prometheus: registry_wal_append_seconds). */
export const appendSeconds = Metric.histogram(
  "registry_wal_append_seconds",
  MetricBoundaries.exponential({ start: 0.000_05, factor: 2, count: 16 }),
  "time to make one batch durable: one write and one fdatasync",
)

export interface CommitStats {
  batches: number
  appendedRecords: number
}

/**
 * Builds `commit(batch)` over the actor's state; `appendFailed` decides what a failed append does to the registry.
 *
 * Everything after the append is one synchronous step, and the batch in flight is held in this closure's variables
 * rather than in closures made per batch: with one producer a batch is one register, and each Effect operation of
 * its commit cost about as much as the decide and encode (bench/results; CPU and allocation profiles).
 */
export const makeCommit = (deps: {
  readonly wal: Wal
  readonly index: RegistryIndex
  readonly overlay: BatchOverlay
  readonly tail: EventTail
  readonly rules: Lifecycle
  readonly clock: Clock.Clock
  readonly stats: CommitStats
  /** The loop fiber's metric labels, for `appendSeconds`. */
  readonly metricLabels: ReadonlyArray<MetricLabel.MetricLabel>
  /** Called with every appended record count, for the compaction threshold. */
  readonly appended: (records: number) => void
  readonly appendFailed: (batch: ReadonlyArray<Pending>, cause: Cause.Cause<StorageFailed>) => Effect.Effect<void>
  /**
   * A log other servers append to as well: each batch is then decided inside the append, after `caughtUp` applied
   * what they committed since this server's last seq.
   */
  readonly shared?: {
    readonly log: SharedLog
    readonly caughtUp: (records: ReadonlyArray<WalRecord>) => void
  }
}) => {
  const { wal, index, overlay, tail, clock, stats, metricLabels } = deps
  // Its payloads live until the next batch is encoded, which is after this batch's append resolved.
  const encode = makeBatchEncoder()
  // The batch being appended (the loop commits one batch at a time), let go of once settled.
  let batch: ReadonlyArray<Pending> = []
  let events: ReadonlyArray<RegistryEvent> = []
  let started = 0n

  const handlers = {
    onFailure: (cause: Cause.Cause<StorageFailed>) => {
      const committed = batch
      batch = events = []
      return deps.appendFailed(committed, cause)
    },
    onSuccess: () => {
      appendSeconds.unsafeUpdate(Number(clock.unsafeCurrentTimeNanos() - started) / 1e9, metricLabels)
      const committed = batch
      const appendedEvents = events
      batch = events = []
      if (appendedEvents.length > 0) {
        index.commit(overlay, appendedEvents)
        stats.batches++
        stats.appendedRecords += appendedEvents.length
        deps.appended(appendedEvents.length)
        tail.push(appendedEvents)
      }
      overlay.clear()
      completeBatch(committed)
      return Effect.void
    },
  }

  const shared = deps.shared
  /** The decide step of a shared log's append: at the head, after what other servers committed. */
  const decideAtHead = (pending: ReadonlyArray<Pending>, behind: ReadonlyArray<WalRecord>) => {
    if (behind.length > 0) shared!.caughtUp(behind)
    events = decideBatch(pending, deps)
    return events.length === 0 ? noRecords : encode(events)
  }

  return (pending: ReadonlyArray<Pending>): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (shared !== undefined) {
        batch = pending
        events = []
        started = clock.unsafeCurrentTimeNanos()
        // Decided even when every command is a no-op or a rejection: only the head can say that it is one.
        return Effect.matchCauseEffect(
          shared.log.appendAtHead(index.lastSeq, (behind) => decideAtHead(pending, behind)),
          handlers,
        )
      }
      const decided = decideBatch(pending, deps)
      if (decided.length === 0) {
        completeBatch(pending)
        return Effect.void
      }
      const records = encode(decided)
      batch = pending
      events = decided
      started = clock.unsafeCurrentTimeNanos()
      return Effect.matchCauseEffect(wal.append(records), handlers)
    })
}

const noRecords: ReadonlyArray<WalRecord> = []

interface DecideContext {
  readonly index: RegistryIndex
  readonly overlay: BatchOverlay
  readonly rules: Lifecycle
  readonly clock: Clock.Clock
}

/** The event a decision accepted, applied to the overlay; `undefined` when nothing changes. */
const accepted = <E>(overlay: BatchOverlay, decision: Decision<E> | RecordDecision<E>): AnyEventBody | undefined => {
  if (decision._tag !== "Accept") return undefined
  const { event } = decision
  if ("event" in decision && isRecordDecision(decision)) overlay.applyRecord(decision.event)
  else overlay.apply(event as EventBody)
  return event
}

const isRecordDecision = <E>(decision: Decision<E> | RecordDecision<E>): decision is RecordDecision<E> =>
  decision._tag === "Accept" &&
  (decision.event._tag === "VersionAnnotated" ||
    decision.event._tag === "ModelAnnotated" ||
    decision.event._tag === "ModelArchived" ||
    decision.event._tag === "ModelRestored")

/** A model's own record as callers get it. */
const infoOf = (name: string, meta: ModelMeta): ModelInfo => {
  const { description, tags, archived } = meta
  return description === undefined ? { name, tags, archived } : { name, description, tags, archived }
}

/**
 * The batch's commit time: the clock's, but never before the last commit's, so that commit times never go back
 * along the seqs and "as of a time" names one point of the log (History.ts) even if the wall clock steps back.
 */
export const commitTime = (clock: Clock.Clock, lastAt: string): string => {
  const now = new Date(clock.unsafeCurrentTimeMillis()).toISOString()
  return now < lastAt ? lastAt : now
}

/** Decides every command of the batch against committed state plus the batch's earlier events. */
const decideBatch = (
  batch: ReadonlyArray<Pending>,
  { index, overlay, rules, clock }: DecideContext,
): Array<RegistryEvent> => {
  overlay.clear()
  const events: Array<RegistryEvent> = []
  // One clock read per batch: the commit time of its events and the createdAt of registrations that gave none.
  const at = commitTime(clock, index.history.lastAt)
  let seq = index.lastSeq
  for (let i = 0; i < batch.length; i++) {
    const pending = batch[i]!
    pending.version = undefined
    pending.event = null
    pending.rejection = undefined
    if (pending.kind === "Alias") pending.settled = false
    else if (pending.kind === "Model") pending.model = undefined
    if (wasInterrupted(pending)) continue
    let body: AnyEventBody | undefined
    let name: string
    let version: string | undefined
    const command = pending.command
    name = "metadata" in command ? command.metadata.name : command.name
    const meta = overlay.meta(name)
    // An archived model takes no change but its restoring; archiving it again is a retry, and changes nothing.
    if (meta?.archived === true && !(pending.kind === "Model" && pending.command._tag !== "AnnotateModel")) {
      pending.rejection = new ModelIsArchived({ name })
      continue
    }
    if (pending.kind === "Model") {
      const decision = decideModelCommand(meta, pending.command)
      if (decision._tag === "Reject") {
        pending.rejection = decision.error
        continue
      }
      body = accepted(overlay, decision)
      pending.model = infoOf(name, overlay.meta(name)!)
      if (body !== undefined) {
        const event = stampEvent(body, ++seq, at, pending.actor)
        events.push(event)
        pending.event = event
      }
      continue
    }
    if (pending.kind === "Annotate") {
      const command = pending.command
      version = command.version
      const decision = decideAnnotateVersion(overlay.record(name, version), meta !== undefined, command)
      if (decision._tag === "Reject") {
        pending.rejection = decision.error
        continue
      }
      body = accepted(overlay, decision)
    } else if (pending.kind === "Register") {
      const command = pending.command
      version = command.metadata.version
      const decision = rules.decideRegister(overlay.view(name), command, at)
      if (decision._tag === "Reject") {
        pending.rejection = decision.error
        continue
      }
      body = accepted(overlay, decision)
    } else if (pending.kind === "Change") {
      const command = pending.command
      version = command.version
      const decision = rules.decideChange(overlay.view(name), command)
      if (decision._tag === "Reject") {
        pending.rejection = decision.error
        continue
      }
      body = accepted(overlay, decision)
    } else {
      const command = pending.command
      const decision = rules.decideAlias(overlay.view(name), command)
      if (decision._tag === "Reject") {
        pending.rejection = decision.error
        continue
      }
      pending.settled = true
      body = accepted(overlay, decision)
      // The version the alias names after the command (for a removal, the one it named); none if it was not set.
      version =
        body !== undefined
          ? eventVersion(body as EventBody)
          : decision._tag === "Unchanged"
            ? decision.current?.metadata.version
            : undefined
    }
    if (body !== undefined) {
      const event = stampEvent(body, ++seq, at, pending.actor)
      events.push(event)
      pending.event = event
    }
    // The version as this command left it, not as the end of the batch does: a later command may change it.
    pending.version = version === undefined ? undefined : overlay.record(name, version)
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
    if (pending.kind === "Alias") {
      if (pending.rejection !== undefined) pending.resume(Exit.fail(pending.rejection))
      else if (pending.settled)
        pending.resume(
          Exit.succeed({ alias: pending.command.alias, version: pending.version ?? null, event: pending.event }),
        )
    } else if (pending.kind === "Model") {
      if (pending.rejection !== undefined) pending.resume(Exit.fail(pending.rejection))
      else if (pending.model !== undefined) pending.resume(Exit.succeed({ model: pending.model, event: pending.event }))
    } else if (pending.rejection !== undefined) {
      if (pending.kind === "Register") pending.resume(Exit.fail(pending.rejection))
      else if (pending.kind === "Annotate") pending.resume(Exit.fail(pending.rejection))
      else pending.resume(Exit.fail(pending.rejection))
    } else if (pending.version !== undefined)
      pending.resume(Exit.succeed({ version: pending.version, event: pending.event }))
  }
}

/**
 * The event with its seq, commit time and actor, built field by field in the Schema's key order: a spread copy per
 * event showed in profiles.
 */
const stampEvent = (body: AnyEventBody, seq: number, at: string, actor: string): RegistryEvent => {
  switch (body._tag) {
    case "Registered":
      return body.state === undefined
        ? { _tag: "Registered", seq, at, actor, metadata: body.metadata }
        : { _tag: "Registered", seq, at, actor, metadata: body.metadata, state: body.state }
    case "Promoted":
      return { _tag: "Promoted", seq, at, actor, name: body.name, version: body.version, supersedes: body.supersedes }
    case "Deprecated":
      return { _tag: "Deprecated", seq, at, actor, name: body.name, version: body.version }
    default:
      // The committed fields first, in the Schema's order, as a decoded event has them: a live event and the same
      // event read back must print alike.
      return Object.assign({ _tag: body._tag, seq, at, actor }, body) as RegistryEvent
  }
}

/** Whether the caller was interrupted while its command waited in the mailbox (it has stopped waiting). */
const wasInterrupted = (pending: Pending): boolean =>
  pending.caller !== undefined && !Cause.isEmpty(pending.caller.getFiberRef(FiberRef.interruptedCause))
