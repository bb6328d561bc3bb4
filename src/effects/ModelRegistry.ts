/**
 * The public Effect API: the `ModelRegistry` service and its layers (see docs/architecture.md).
 *
 * Promises: a write resolves only after its event is fsynced; readers and observers never see an event
 * before that. Reads see committed state only and never wait behind writes. Every failure is a tagged error.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Context, Effect, Either, Layer, Option, type Scope, type Stream } from "effect"
import { auditLog, metrics } from "../actors/builtinObservers.ts"
import type { LifecycleMapping } from "../actors/lifecycleBinding.ts"
import { verifyLifecycle } from "../actors/lifecycleChecker.ts"
import {
  type CompiledLifecycle,
  compileLifecycle,
  describeLifecycle,
  type LifecycleDefinition,
  type LifecycleDescription,
} from "../actors/lifecycleDefinition.ts"
import {
  type AliasCommand,
  type ChangeCommand,
  lifecycle as defaultRules,
  makeLifecycle,
  type RegisterMetadata,
} from "../actors/lifecycleRules.ts"
import {
  type Delivery,
  type ObserverHandle,
  type ObserverOptions,
  type ObserverStatus,
  startObserver,
} from "../actors/ObserverActor.ts"
import {
  type AliasError,
  type AliasOutcome,
  type AnnotateError,
  type ChangeError,
  type CompactError,
  type CompactReport,
  type ModelCommandError,
  type ModelOutcome,
  makeRegistryActor,
  type Outcome,
  type RegisterError,
  type RegistryActor,
} from "../actors/RegistryActor.ts"
import type { ModelEntry, RegistryIndex } from "../actors/RegistryIndex.ts"
import type { ModelCommand } from "../actors/recordRules.ts"
import { type SubscribeError, subscribe } from "../actors/subscription.ts"
import { actorOptionViolation, embeddedActor } from "../domain/Actor.ts"
import { Annotation } from "../domain/Annotation.ts"
import { type AsOf, decodeAsOf, type ReadOptions } from "../domain/AsOf.ts"
import { decodeModelName, decoder, decodeSemVer } from "../domain/decode.ts"
import {
  AliasNotFound,
  type DirectoryLocked,
  type HistoryUnavailable,
  InvalidInput,
  type InvalidLifecycle,
  type LifecycleMismatch,
  ModelNotFound,
  RegistryClosed,
  type StorageFailed,
  VersionNotFound,
  type WalCorrupt,
} from "../domain/errors.ts"
import { decodeRegisterInputFast, type RegisterInputDecoded } from "../domain/fastDecode.ts"
import { frozenCopy, type JsonObject } from "../domain/Json.ts"
import { AliasName, LifecycleStateName, lifecycleNameViolation } from "../domain/Lifecycle.ts"
import { addProvenance, type RegisterInput, type Tags } from "../domain/ModelMetadata.ts"
import type { ModelName } from "../domain/ModelName.ts"
import type { LastChange, ModelSummary, ModelVersion } from "../domain/ModelVersion.ts"
import type { RegistryEvent } from "../domain/RegistryEvent.ts"
import {
  decodeModelsQuery,
  decodeSearchQuery,
  type ModelsPage,
  type ModelsQuery,
  type SearchPage,
  type SearchQuery,
} from "../domain/Search.ts"
import type { SemVer } from "../domain/SemVer.ts"
import * as AppendSinkModule from "../storage/AppendSink.ts"
import { AppendSink } from "../storage/AppendSink.ts"
import * as CursorStoreModule from "../storage/CursorStore.ts"
import { CursorStore } from "../storage/CursorStore.ts"
import * as FileStorage from "../storage/FileStorage.ts"
import { type RegistryLimits, type StorageLimits, validateLimits } from "../storage/Limits.ts"
import type { MemoryStore } from "../storage/MemoryStorage.ts"
import * as Storage from "../storage/MemoryStorage.ts"
import { ObserverLease } from "../storage/ObserverLease.ts"
import type { ProcessInfo } from "../storage/ProcessInfo.ts"
import { SharedLog } from "../storage/SharedLog.ts"
import { SnapshotStore } from "../storage/SnapshotStore.ts"
import { Wal } from "../storage/Wal.ts"
import * as IdGeneratorLayer from "./IdGenerator.ts"
import { IdGenerator } from "./IdGenerator.ts"

export type {
  AliasError,
  AliasOutcome,
  AnnotateError,
  ChangeError,
  CompactError,
  CompactReport,
  LifecycleDefinition,
  LifecycleDescription,
  LifecycleMapping,
  ModelCommandError,
  ModelOutcome,
  ObserverHandle,
  ObserverOptions,
  ObserverStatus,
  Outcome,
  RegisterError,
}

export interface WriteOptions {
  /** When the mailbox is full: wait for room (default) or fail at once with `Overloaded`. */
  readonly wait?: boolean
  /**
   * Who is writing, recorded as the event's `actor` (domain/Actor.ts): 1–128 printable characters, not starting
   * with "(" (the registry's reserved actors). Without it the event names `(embedded)`: the embedding process,
   * which did not say who. An invalid one fails the write with `InvalidInput` (field `actor`), nothing written.
   */
  readonly actor?: string
}

/** The write's actor, or the refusal of the one it gives; a string, not an Either: it runs once per register. */
const actorOf = (options: WriteOptions | undefined): string | InvalidInput => {
  const given = options?.actor
  if (given === undefined) return embeddedActor
  const violation = actorOptionViolation(given)
  return violation === undefined ? given : new InvalidInput({ field: "actor", message: `actor: ${violation}` })
}

/** A version's or a model's changes, oldest first. */
export interface History {
  readonly name: string
  /** Absent for a model's history. */
  readonly version?: string
  /**
   * The changes are complete after this seq: 0, unless the directory was opened from a snapshot of an earlier
   * release, which kept no history (its state then is the baseline; `asOf` reads before it fail).
   */
  readonly since: number
  readonly events: ReadonlyArray<RegistryEvent>
}

/** A read that may look at the past fails, besides its own errors, when that past was not kept. */
type PastError = InvalidInput | HistoryUnavailable

export interface RegistryStats {
  readonly lastSeq: number
  /**
   * The first seq `subscribe` can still start from: what compaction left of the log, or the in-memory tail where
   * that reaches further back (`lastSeq + 1` when neither holds an event).
   */
  readonly firstSeq: number
  readonly versions: number
  readonly mailboxDepth: number
  readonly batches: number
  readonly appendedRecords: number
  readonly compactions: number
}

export interface ModelRegistry {
  /**
   * Registers a version. Resolves once the `Registered` event is durable, with `event` set; an identical
   * re-send (same content, and the same id/createdAt where given) resolves with `event: null` and writes nothing.
   */
  readonly register: (
    input: RegisterInput,
    options?: WriteOptions,
  ) => Effect.Effect<Outcome, InvalidInput | RegisterError>
  /**
   * `register` for an input already decoded by `Schema.decodeUnknown(RegisterInput)` (an HTTP handler, say), so it
   * is not decoded twice. Same promises as `register`.
   */
  readonly registerDecoded: (
    input: RegisterInputDecoded,
    options?: WriteOptions,
  ) => Effect.Effect<Outcome, InvalidInput | RegisterError>
  /**
   * Sends a lifecycle event to a version. Resolves once the event is durable, with the version as it left it and the
   * recorded event (which names any version it displaced from an exclusive state and any alias it cleared); a
   * version already in a state the event leads to resolves with `event: null` and writes nothing.
   */
  readonly transition: (
    name: string,
    version: string,
    event: string,
    options?: WriteOptions,
  ) => Effect.Effect<Outcome, LifecycleError>
  /** `transition(name, version, "promote")`: under the default lifecycle, to production, superseding the current one. */
  readonly promote: (name: string, version: string, options?: WriteOptions) => Effect.Effect<Outcome, LifecycleError>
  /** `transition(name, version, "deprecate")`: under the default lifecycle, terminal. */
  readonly deprecate: (name: string, version: string, options?: WriteOptions) => Effect.Effect<Outcome, LifecycleError>
  /** Points an alias at a version (moving it, in one event that names its previous version, if it was set). */
  readonly setAlias: (
    name: string,
    alias: string,
    version: string,
    options?: WriteOptions,
  ) => Effect.Effect<AliasOutcome, InvalidInput | AliasError>
  /** Removes an alias; removing one that is not set succeeds with `event: null`, so retries are safe. */
  readonly removeAlias: (
    name: string,
    alias: string,
    options?: WriteOptions,
  ) => Effect.Effect<AliasOutcome, InvalidInput | AliasError>
  /**
   * Sets or removes a version's tags (`{key: value}`, `{key: null}`) and its description (`null` removes it), as one
   * event that names what each changed field held before. Resolves once durable, with the version as it left it;
   * an annotation that changes nothing resolves with `event: null` and writes nothing. A version may hold at most 64
   * tags, as at registration.
   */
  readonly annotate: (
    name: string,
    version: string,
    annotation: Annotation,
    options?: WriteOptions,
  ) => Effect.Effect<Outcome, InvalidInput | AnnotateError>
  /** Sets or removes a model's own tags and description, as `annotate` does a version's. */
  readonly annotateModel: (
    name: string,
    annotation: Annotation,
    options?: WriteOptions,
  ) => Effect.Effect<ModelOutcome, InvalidInput | ModelCommandError>
  /**
   * Archives a model: left out of `listModels` and search unless they include archived models, and every change
   * but `restoreModel` refused with `ModelIsArchived`. Nothing is deleted; reads by name still answer.
   */
  readonly archiveModel: (
    name: string,
    options?: WriteOptions,
  ) => Effect.Effect<ModelOutcome, InvalidInput | ModelCommandError>
  /** Brings an archived model back. */
  readonly restoreModel: (
    name: string,
    options?: WriteOptions,
  ) => Effect.Effect<ModelOutcome, InvalidInput | ModelCommandError>
  /**
   * A version's changes (its registration, every move, alias and annotation), or a model's (every registration and
   * change of it and its versions), oldest first, with each change's seq, time and actor. Kept through compactions
   * and restarts.
   */
  readonly history: (
    name: string,
    version?: string,
  ) => Effect.Effect<History, InvalidInput | ModelNotFound | VersionNotFound>
  /** The version an alias names (at `asOf`, if given). */
  readonly resolveAlias: (
    name: string,
    alias: string,
    options?: ReadOptions,
  ) => Effect.Effect<ModelVersion, PastError | ModelNotFound | AliasNotFound>
  /** The lifecycle this registry runs: states, events, transitions, exclusive states and alias constraints. */
  readonly lifecycle: LifecycleDescription
  /**
   * A version; with `asOf` (a seq, `"seq:N"`, or a time), as it was then: its state, aliases, tags and description.
   * A version or model that did not exist yet is `VersionNotFound` or `ModelNotFound`.
   */
  readonly get: (
    name: string,
    version: string,
    options?: ReadOptions,
  ) => Effect.Effect<ModelVersion, PastError | ModelNotFound | VersionNotFound>
  /** Every version of a model, in semver precedence order (at `asOf`, if given). */
  readonly listVersions: (
    name: string,
    options?: ReadOptions,
  ) => Effect.Effect<ReadonlyArray<ModelVersion>, PastError | ModelNotFound>
  /** One model's summary, archived or not (at `asOf`, if given). */
  readonly model: (name: string, options?: ReadOptions) => Effect.Effect<ModelSummary, PastError | ModelNotFound>
  /** Every model but the archived ones, in name order. */
  readonly listModels: Effect.Effect<ReadonlyArray<ModelSummary>>
  /**
   * Models in name order, optionally those whose name starts with `namePrefix`; all of them unless `limit` is given.
   * Archived models only with `includeArchived`.
   */
  readonly listModelsPage: (query?: typeof ModelsQuery.Encoded) => Effect.Effect<ModelsPage, InvalidInput>
  /**
   * A page of the versions matching every filter given (name prefix, tag equality, state, alias, metric
   * comparisons), in `orderBy` order. Pass the page's `nextCursor` back with the same query for the next page:
   * writes between pages neither repeat nor skip a version that matches throughout.
   */
  readonly search: (query?: typeof SearchQuery.Encoded, options?: ReadOptions) => Effect.Effect<SearchPage, PastError>
  /** The version in `production` (at `asOf`, if given). */
  readonly production: (
    name: string,
    options?: ReadOptions,
  ) => Effect.Effect<Option.Option<ModelVersion>, PastError | ModelNotFound>
  /** The version in an exclusive state (at `asOf`, if given); `InvalidInput` for a state that is not exclusive then. */
  readonly holder: (
    name: string,
    state: string,
    options?: ReadOptions,
  ) => Effect.Effect<Option.Option<ModelVersion>, PastError | ModelNotFound>
  /** Committed events from `from` (default: the next one), replayed from the log if needed, then live. */
  readonly subscribe: (options?: { readonly from?: number }) => Stream.Stream<RegistryEvent, SubscribeError>
  /** Snapshots the full state and deletes the log segments it covers. Runs between batches. */
  readonly compact: Effect.Effect<CompactReport, CompactError>
  readonly stats: Effect.Effect<RegistryStats>
  /**
   * Succeeds while writes can succeed; fails with why they cannot: what stopped the registry from writing (a
   * failed fsync, storage that failed on its own such as a removed data directory) until it is reopened, or
   * `RegistryClosed`. A full disk that failed one batch is not a failed registry.
   */
  readonly health: Effect.Effect<void, StorageFailed | RegistryClosed>
  /**
   * Runs `handler` for every committed event, in order, at least once, in its own supervised fiber, until the
   * scope closes. Its durable cursor (per `name`) survives restarts; failures are retried and then dead-lettered.
   */
  readonly observe: <E>(
    name: string,
    handler: (event: RegistryEvent) => Effect.Effect<void, E>,
    options?: ObserverOptions,
  ) => Effect.Effect<ObserverHandle, InvalidInput | StorageFailed, Scope.Scope>
  /** The built-in audit observer: every event as one NDJSON line in `file` (default `audit.ndjson`). */
  readonly auditLog: (
    options?: ObserverOptions & { readonly file?: string },
  ) => Effect.Effect<ObserverHandle, InvalidInput | StorageFailed, Scope.Scope>
  /** The built-in metrics observer: `registry_events_total{type}` and the lag gauge. */
  readonly metrics: (
    options?: ObserverOptions,
  ) => Effect.Effect<ObserverHandle, InvalidInput | StorageFailed, Scope.Scope>
}

type LifecycleError = InvalidInput | ChangeError

/** Why a registry cannot open: its storage, or its lifecycle. */
export type RegistryOpenError = FileStorage.OpenError | InvalidLifecycle | LifecycleMismatch

export const ModelRegistry: Context.Tag<ModelRegistry, ModelRegistry> = Context.GenericTag<ModelRegistry>(
  "@visutility/model-registry/ModelRegistry",
)

export interface RegistryOptions extends Partial<RegistryLimits> {
  /** Wrap every `register` in its own span (default: only the batch that commits it is traced). */
  readonly traceRegisters?: boolean
  /**
   * The lifecycle versions follow (default: `defaultLifecycle`). It is checked when the registry opens, which fails
   * with `InvalidLifecycle` and a counterexample if it is unsound.
   */
  readonly lifecycle?: LifecycleDefinition
  /**
   * Opening a directory written under another lifecycle fails with `LifecycleMismatch` unless it holds no version,
   * or this maps the states its versions are in to states of `lifecycle`. The move is recorded as an event.
   */
  readonly lifecycleMapping?: LifecycleMapping
}

/**
 * Definitions that passed the check, by identity: the check is a pure function of the definition and costs a few
 * hundred milliseconds, which a process that reopens its registry (a supervisor, the simulator) pays once.
 */
const verified = new WeakMap<LifecycleDefinition, CompiledLifecycle>()

/** Compiles a lifecycle and model-checks it (lifecycleChecker.ts `openCheckSize`) for a registry to run. */
export const prepareLifecycle = (
  definition: LifecycleDefinition | undefined,
): Effect.Effect<CompiledLifecycle, InvalidLifecycle> =>
  definition === undefined
    ? Effect.succeed(defaultRules.compiled)
    : Effect.suspend(() => {
        const known = verified.get(definition)
        if (known !== undefined) return Effect.succeed(known)
        return Either.flatMap(compileLifecycle(definition), verifyLifecycle).pipe(
          Either.map((compiled) => {
            verified.set(definition, compiled)
            return compiled
          }),
        )
      })

/**
 * The hand-written validator, falling back to `decoder(RegisterInput)` for anything it cannot prove valid (same
 * results, see fastDecode.ts): the Schema decoder alone cost more than the whole per-register CPU budget
 * (bench/results).
 */
const decodeRegister = decodeRegisterInputFast
const emptyObject = Object.freeze({})

/** Builds the registry over whatever storage ports are provided; closing the scope drains and stops it. */
export const make = (
  options: RegistryOptions = {},
): Effect.Effect<
  ModelRegistry,
  InvalidInput | InvalidLifecycle | LifecycleMismatch | StorageFailed | WalCorrupt,
  Wal | SnapshotStore | CursorStore | AppendSink | IdGenerator | Scope.Scope
> =>
  Effect.gen(function* () {
    const { traceRegisters, lifecycle: definition, lifecycleMapping, ...given } = options
    const limits = yield* validateLimits(given)
    const compiled = yield* prepareLifecycle(definition)
    const wal = yield* Wal
    const snapshots = yield* SnapshotStore
    const ids = yield* IdGenerator
    const cursors = yield* CursorStore
    const sink = yield* AppendSink
    const shared = Option.getOrUndefined(yield* Effect.serviceOption(SharedLog))
    const actor = yield* makeRegistryActor({
      wal,
      snapshots,
      limits,
      ...(shared === undefined ? {} : { shared }),
      lifecycle: compiled === defaultRules.compiled ? defaultRules : makeLifecycle(compiled),
      ...(lifecycleMapping === undefined ? {} : { lifecycleMapping }),
    })
    const { index } = actor
    const registry: ModelRegistry = {
      ...writes(actor, ids, traceRegisters ?? false),
      ...reads(index),
      lifecycle: describeLifecycle(compiled),
      ...observers(actor, wal, cursors, sink, Option.getOrUndefined(yield* Effect.serviceOption(ObserverLease))),
      subscribe: (subscribeOptions) => subscribe(actor, wal, subscribeOptions),
      compact: actor.compact.pipe(Effect.withSpan("ModelRegistry.compact")),
      stats: Effect.map(wal.firstSeq, (walFirstSeq) => ({
        lastSeq: index.lastSeq,
        firstSeq: Math.min(walFirstSeq, actor.tail.oldestSeq),
        versions: index.versionCount,
        mailboxDepth: actor.mailboxDepth(),
        ...actor.stats,
      })),
      // The WAL's own failure first: it is the cause (a removed directory), where the actor's is what a write saw.
      health: Effect.zipRight(
        shared === undefined ? wal.health : Effect.zipRight(wal.health, shared.reachable),
        Effect.suspend((): Effect.Effect<void, StorageFailed | RegistryClosed> => {
          const failed = actor.failure()
          if (failed !== undefined) return Effect.fail(failed)
          return actor.closed() ? Effect.fail(new RegistryClosed()) : Effect.void
        }),
      ),
    }
    return registry
  })

const nameAndVersion = (name: string, version: string) =>
  Either.flatMap(decodeModelName(name), (n) => Either.map(decodeSemVer(version), (v) => [n, v] as const))

/**
 * A span costs more CPU per call than the rest of a register (bench/results), so registers are traced per batch by
 * the actor and per call only on request.
 */
const registerSpan = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.withSpan(effect, "ModelRegistry.register", { captureStackTrace: false })

const writes = (
  actor: RegistryActor,
  ids: IdGenerator,
  traced: boolean,
): Pick<
  ModelRegistry,
  | "register"
  | "registerDecoded"
  | "transition"
  | "promote"
  | "deprecate"
  | "setAlias"
  | "removeAlias"
  | "annotate"
  | "annotateModel"
  | "archiveModel"
  | "restoreModel"
> => {
  const transition = (span: string) => (name: string, version: string, event: string, writeOptions?: WriteOptions) =>
    Effect.suspend((): Effect.Effect<Outcome, LifecycleError> => {
      const decoded = nameAndVersion(name, version)
      if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
      const problem = typeof event === "string" ? lifecycleNameViolation(event) : "must be a string"
      if (problem !== undefined) return Effect.fail(new InvalidInput({ field: "event", message: `event: ${problem}` }))
      const by = actorOf(writeOptions)
      if (typeof by !== "string") return Effect.fail(by)
      const [n, v] = decoded.right
      const command: ChangeCommand = { _tag: "Transition", name: n, version: v, event }
      return actor.change(command, writeOptions?.wait ?? true, by)
    }).pipe(Effect.withSpan(span, { attributes: { model: name, version, event } }))
  const named = (span: string, event: string) => (name: string, version: string, writeOptions?: WriteOptions) =>
    transition(span)(name, version, event, writeOptions)

  const aliasCommand = (
    name: string,
    alias: string,
    version: string | undefined,
    writeOptions: WriteOptions | undefined,
  ): Effect.Effect<AliasOutcome, InvalidInput | AliasError> =>
    Effect.suspend((): Effect.Effect<AliasOutcome, InvalidInput | AliasError> => {
      const decoded = Either.all([
        decodeModelName(name),
        decodeAlias(alias),
        version === undefined ? Either.right(undefined) : decodeSemVer(version),
      ])
      if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
      const by = actorOf(writeOptions)
      if (typeof by !== "string") return Effect.fail(by)
      const [n, a, v] = decoded.right
      const command: AliasCommand =
        v === undefined
          ? { _tag: "RemoveAlias", name: n, alias: a }
          : { _tag: "SetAlias", name: n, alias: a, version: v }
      return actor.alias(command, writeOptions?.wait ?? true, by)
    }).pipe(Effect.withSpan(version === undefined ? "ModelRegistry.removeAlias" : "ModelRegistry.setAlias"))

  const registerDecoded: ModelRegistry["registerDecoded"] = (given, writeOptions) => {
    const by = actorOf(writeOptions)
    if (typeof by !== "string") return Effect.fail(by)
    // Ids are filled synchronously from a service captured at start-up, and createdAt by the batch's one clock
    // read: one Effect per register (the mailbox wait) instead of three.
    const metadata: RegisterMetadata = {
      id: given.id ?? ids.next(),
      name: given.name,
      version: given.version,
      createdAt: given.createdAt,
      // Copies: the caller may keep and change its objects after the call (see frozenCopy).
      metrics: given.metrics === undefined ? emptyObject : (frozenCopy(given.metrics) as JsonObject),
      // Not `Object.freeze({ ...tags })`: once optimized, that gave every copy a hidden class of its own
      // (heap snapshot; test/effects/hiddenClasses.node.test.ts).
      tags: given.tags === undefined ? emptyObject : (frozenCopy(given.tags) as Tags),
    }
    return actor.register(
      {
        _tag: "Register",
        metadata: addProvenance(metadata, given),
        compareId: given.id !== undefined,
      },
      writeOptions?.wait ?? true,
      by,
    )
  }

  const register: ModelRegistry["register"] = (input, writeOptions) =>
    Effect.suspend((): Effect.Effect<Outcome, InvalidInput | RegisterError> => {
      const decoded = decodeRegister(input)
      return Either.isLeft(decoded) ? Effect.fail(decoded.left) : registerDecoded(decoded.right, writeOptions)
    })

  return {
    register: traced ? (input, writeOptions) => registerSpan(register(input, writeOptions)) : register,
    registerDecoded: traced
      ? (input, writeOptions) => registerSpan(registerDecoded(input, writeOptions))
      : registerDecoded,
    transition: transition("ModelRegistry.transition"),
    promote: named("ModelRegistry.promote", "promote"),
    deprecate: named("ModelRegistry.deprecate", "deprecate"),
    setAlias: (name, alias, version, writeOptions) => aliasCommand(name, alias, version, writeOptions),
    removeAlias: (name, alias, writeOptions) => aliasCommand(name, alias, undefined, writeOptions),
    annotate: (name, version, annotation, writeOptions) =>
      Effect.suspend((): Effect.Effect<Outcome, InvalidInput | AnnotateError> => {
        const decoded = Either.all([nameAndVersion(name, version), decodeAnnotation(annotation)])
        if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
        const by = actorOf(writeOptions)
        if (typeof by !== "string") return Effect.fail(by)
        const [[n, v], given] = decoded.right
        return actor.annotate(
          { _tag: "AnnotateVersion", name: n, version: v, ...given },
          writeOptions?.wait ?? true,
          by,
        )
      }).pipe(Effect.withSpan("ModelRegistry.annotate", { attributes: { model: name, version } })),
    annotateModel: (name, annotation, writeOptions) =>
      Effect.flatMap(decodeAnnotationEffect(annotation), (given) =>
        modelCommand("annotateModel", name, writeOptions, (n) => ({ _tag: "AnnotateModel", name: n, ...given })),
      ),
    archiveModel: (name, writeOptions) =>
      modelCommand("archiveModel", name, writeOptions, (n) => ({ _tag: "ArchiveModel", name: n })),
    restoreModel: (name, writeOptions) =>
      modelCommand("restoreModel", name, writeOptions, (n) => ({ _tag: "RestoreModel", name: n })),
  }

  function modelCommand(
    span: "annotateModel" | "archiveModel" | "restoreModel",
    name: string,
    writeOptions: WriteOptions | undefined,
    command: (name: ModelName) => ModelCommand,
  ): Effect.Effect<ModelOutcome, InvalidInput | ModelCommandError> {
    return Effect.suspend((): Effect.Effect<ModelOutcome, InvalidInput | ModelCommandError> => {
      const decoded = decodeModelName(name)
      if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
      const by = actorOf(writeOptions)
      if (typeof by !== "string") return Effect.fail(by)
      const made = command(decoded.right)
      return actor.model(made, writeOptions?.wait ?? true, by)
    }).pipe(Effect.withSpan(`ModelRegistry.${span}`, { attributes: { model: name } }))
  }
}

const decodeAnnotationEffect = (annotation: unknown): Effect.Effect<Annotation, InvalidInput> =>
  Effect.suspend(() => decodeAnnotation(annotation))

/** Reads answer from the committed index directly: they never queue behind writes. */
const decodeAlias = decoder(AliasName, "alias")

const decodeAnnotation = decoder(Annotation)
const decodeState = decoder(LifecycleStateName, "state")

/** The moment a read asks for: `undefined` for now, or the past moment if the history reaches it. */
const momentOf = (
  index: RegistryIndex,
  options: ReadOptions | undefined,
): Either.Either<AsOf | undefined, PastError> => {
  if (options?.asOf === undefined) return Either.right(undefined)
  return Either.flatMap(decodeAsOf(options.asOf), (asOf) => {
    const refused = index.history.refusal(asOf, index.lastSeq)
    return refused === undefined ? Either.right(asOf) : Either.left(refused)
  })
}

/** The newest of a model's events that had happened by `asOf`, or `null` if none the history holds had. */
const lastChangeAt = (events: ReadonlyArray<RegistryEvent>, asOf: AsOf): LastChange | null => {
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i]!
    if (asOf._tag === "Seq" ? event.seq <= asOf.seq : Date.parse(event.at) <= asOf.ms)
      return { seq: event.seq, at: event.at, actor: event.actor }
  }
  return null
}

const reads = (
  index: RegistryIndex,
): Pick<
  ModelRegistry,
  | "get"
  | "listVersions"
  | "listModels"
  | "listModelsPage"
  | "model"
  | "search"
  | "production"
  | "holder"
  | "resolveAlias"
  | "history"
> => {
  const notFound = (name: string) =>
    Either.match(decodeModelName(name), {
      onLeft: (invalid): Either.Either<never, InvalidInput | ModelNotFound> => Either.left(invalid),
      onRight: (n: ModelName) => Either.left(new ModelNotFound({ name: n })),
    })
  const modelOf = (name: string) =>
    Effect.suspend((): Effect.Effect<ModelEntry, InvalidInput | ModelNotFound> => {
      const model = index.model(name)
      return model ? Effect.succeed(model) : notFound(name)
    })
  /**
   * The model's summary, records and aliases now, or at the moment: each read below answers from this one view, so
   * a read of the past is the read of the present over other data.
   */
  interface View {
    readonly summary: () => ModelSummary
    readonly versions: () => ReadonlyArray<ModelVersion>
    readonly record: (version: string) => ModelVersion | undefined
    readonly alias: (alias: string) => SemVer | undefined
    readonly holder: (state: string) => SemVer | undefined
    readonly exclusive: ReadonlySet<string>
  }
  const viewOf = (name: string, options: ReadOptions | undefined) =>
    Effect.suspend((): Effect.Effect<View, PastError | ModelNotFound> => {
      const moment = momentOf(index, options)
      if (Either.isLeft(moment)) return Effect.fail(moment.left)
      const model = index.model(name)
      if (model === undefined) return notFound(name)
      const asOf = moment.right
      if (asOf === undefined)
        return Effect.succeed({
          summary: () => index.summary(name),
          versions: () => model.list(),
          record: (version) => model.records.get(version),
          alias: (alias) => model.aliases.get(alias),
          holder: (state) => model.holders.get(state),
          exclusive: index.exclusive,
        })
      const at = index.modelAt(name, asOf)
      if (at === undefined) return notFound(name)
      const records = index.recordsAt(name, at)
      const holder = (state: string) => records.find((r) => r.state === state)?.version
      return Effect.succeed({
        summary: () => {
          const holders: Record<string, SemVer> = {}
          for (const state of [...at.exclusive].sort()) {
            const held = holder(state)
            if (held !== undefined) holders[state] = held
          }
          return {
            name: name as ModelName,
            production: at.exclusive.has("production") ? (holder("production") ?? null) : null,
            versionCount: records.length,
            latest: records[records.length - 1]!.version,
            holders,
            aliases: Object.fromEntries([...at.aliases].sort(([a], [b]) => (a < b ? -1 : 1))),
            ...(at.description === undefined ? {} : { description: at.description }),
            tags: at.tags,
            archived: at.archived,
            lastChange: lastChangeAt(index.history.modelHistory(name, model.now()), asOf),
          }
        },
        versions: () => records,
        record: (version) => records.find((r) => r.version === version),
        alias: (alias) => at.aliases.get(alias),
        holder,
        exclusive: at.exclusive,
      })
    })
  const holderOf = (name: string, state: string, options: ReadOptions | undefined) =>
    Effect.flatMap(viewOf(name, options), (view) => {
      if (!view.exclusive.has(state))
        return Either.flatMap(decodeState(state), () =>
          Either.left(new InvalidInput({ field: "state", message: `state: ${state} is not an exclusive state` })),
        )
      const held = view.holder(state)
      return Effect.succeed(held === undefined ? Option.none() : Option.fromNullable(view.record(held)))
    })
  return {
    get: (name, version, options) =>
      Effect.suspend((): Effect.Effect<ModelVersion, PastError | ModelNotFound | VersionNotFound> => {
        if (options?.asOf === undefined) {
          const found = index.get(name, version)
          if (found) return Effect.succeed(found)
        }
        const decoded = nameAndVersion(name, version)
        if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
        const [n, v] = decoded.right
        return Effect.flatMap(viewOf(n, options), (view) => {
          const found = view.record(v)
          return found ? Effect.succeed(found) : Effect.fail(new VersionNotFound({ name: n, version: v as SemVer }))
        })
      }),
    listVersions: (name, options) =>
      options?.asOf === undefined
        ? Effect.map(modelOf(name), (model) => model.list())
        : Effect.map(viewOf(name, options), (view) => view.versions()),
    model: (name, options) => Effect.map(viewOf(name, options), (view) => view.summary()),
    listModels: Effect.sync(() => index.listModels()),
    listModelsPage: (query = {}) =>
      Effect.suspend(() => Either.flatMap(decodeModelsQuery(query), (decoded) => index.listModelsPage(decoded))),
    search: (query = {}, options) =>
      Effect.suspend(() =>
        Either.flatMap(decodeSearchQuery(query), (decoded) => {
          const moment = momentOf(index, options)
          if (Either.isLeft(moment)) return Either.left(moment.left)
          const result = moment.right === undefined ? index.search(decoded) : index.searchAt(decoded, moment.right)
          return Either.map(result, ({ versions, nextCursor }) => ({ versions, nextCursor }))
        }),
      ),
    production: (name, options) =>
      options?.asOf === undefined
        ? Effect.flatMap(modelOf(name), () => Effect.sync(() => Option.fromNullable(index.production(name))))
        : Effect.flatMap(viewOf(name, options), (view) =>
            Effect.succeed(
              Option.fromNullable(view.exclusive.has("production") ? view.holder("production") : undefined).pipe(
                Option.flatMap((version) => Option.fromNullable(view.record(version))),
              ),
            ),
          ),
    holder: holderOf,
    resolveAlias: (name, alias, options) =>
      Effect.flatMap(viewOf(name, options), (view) =>
        Effect.suspend((): Effect.Effect<ModelVersion, InvalidInput | AliasNotFound> => {
          const version = view.alias(alias)
          if (version !== undefined) return Effect.succeed(view.record(version)!)
          return Either.match(decodeAlias(alias), {
            onLeft: Effect.fail,
            onRight: () => Effect.fail(new AliasNotFound({ name, alias })),
          })
        }),
      ),
    history: (name, version) =>
      Effect.flatMap(modelOf(name), (model) =>
        Effect.suspend((): Effect.Effect<History, InvalidInput | VersionNotFound> => {
          const { since } = index.history
          if (version === undefined)
            return Effect.succeed({ name, since, events: index.history.modelHistory(name, model.now()) })
          const current = model.records.get(version)
          if (current !== undefined)
            return Effect.succeed({
              name,
              version,
              since,
              events: index.history.versionHistory(name, version, current, model.registrationOf(version)),
            })
          return Either.match(decodeSemVer(version), {
            onLeft: Effect.fail,
            onRight: (v) => Effect.fail(new VersionNotFound({ name, version: v })),
          })
        }),
      ),
  }
}

const observers = (
  actor: RegistryActor,
  wal: Wal,
  cursors: CursorStore,
  sink: AppendSink,
  lease: ObserverLease | undefined,
): Pick<ModelRegistry, "observe" | "auditLog" | "metrics"> => {
  const observeWith = <E>(name: string, delivery: Delivery<E>, settings: ObserverOptions = {}) =>
    startObserver({
      name,
      delivery,
      settings,
      subscribe: (from) => subscribe(actor, wal, { from }),
      committedSeq: () => actor.index.lastSeq,
      cursors,
      sink,
      retain: actor.retainFrom,
      registryDown: () => actor.failure() !== undefined || actor.closed(),
      ...(lease === undefined ? {} : { lease }),
    })
  return {
    observe: (name, handler, settings) => observeWith(name, { _tag: "Event", handle: handler }, settings),
    auditLog: (settings = {}) => {
      const { file, ...rest } = settings
      // The audit log is a system of record: it retries until the file takes the event, never dead-letters it.
      return observeWith("audit", auditLog(sink, file ?? "audit.ndjson"), {
        maxAttempts: Number.POSITIVE_INFINITY,
        ...rest,
      })
    },
    // Its counters live in this process, so its cursor does too (see `ObserverOptions.cursor`).
    metrics: (settings) => observeWith("metrics", metrics, { cursor: "memory", ...settings }),
  }
}

export const layer = (
  options: RegistryOptions = {},
): Layer.Layer<
  ModelRegistry,
  InvalidInput | InvalidLifecycle | LifecycleMismatch | StorageFailed | WalCorrupt,
  Wal | SnapshotStore | CursorStore | AppendSink | IdGenerator
> => Layer.scoped(ModelRegistry, make(options))

export interface FileSystemRegistryOptions extends RegistryOptions, Partial<StorageLimits> {
  /** The data directory (created if missing). One process at a time: it is locked while open. */
  readonly directory: string
}

/** The storage a file-system registry runs on: WAL, snapshots, observer cursors and sinks, all under `directory`. */
export const layerFileSystemStorage = (
  options: FileSystemRegistryOptions,
): Layer.Layer<
  Wal | SnapshotStore | CursorStore | AppendSink,
  FileStorage.OpenError,
  FileSystem.FileSystem | Path.Path | ProcessInfo
> => {
  const { directory, segmentBytesMax, recordBytesMax } = options
  return Layer.mergeAll(
    FileStorage.layerFileSystem({
      directory,
      ...(segmentBytesMax === undefined ? {} : { segmentBytesMax }),
      ...(recordBytesMax === undefined ? {} : { recordBytesMax }),
    }),
    CursorStoreModule.layerFileSystem({ directory }),
    AppendSinkModule.layerFileSystem({ directory }),
  )
}

export interface PostgresRegistryOptions extends RegistryOptions, Partial<StorageLimits> {
  /** The schema that holds this registry (default `model_registry`). Any number of servers can share it. */
  readonly schema?: string
  /** How often a server looks for other servers' commits when no notification came (default 1,000 ms). */
  readonly pollMillis?: number
}

/**
 * The storage of a registry in PostgreSQL: WAL, snapshots, observer cursors and sinks, all in one schema, over
 * whatever `SqlClient` the runtime provides (`src/node.ts`: `@effect/sql-pg`).
 */
export const layerPostgresStorage = (
  options: PostgresRegistryOptions = {},
): Layer.Layer<
  Wal | SnapshotStore | SharedLog | CursorStore | AppendSink | ObserverLease,
  InvalidInput | DirectoryLocked | StorageFailed | WalCorrupt,
  SqlClient.SqlClient
> => {
  const { schema = "model_registry", segmentBytesMax, recordBytesMax, pollMillis } = options
  // Loaded on use: `@effect/sql` costs every process about 25 ms to load, and most registries are on files.
  return Layer.unwrapEffect(
    Effect.promise(async () => {
      const [PostgresStorage, PostgresObserverStores] = await Promise.all([
        import("../storage/PostgresStorage.ts"),
        import("../storage/PostgresObserverStores.ts"),
      ])
      // The WAL migrates the schema, so it is built before the observers' stores use their tables.
      return Layer.mergeAll(
        PostgresObserverStores.layerCursorStore(schema),
        PostgresObserverStores.layerAppendSink(schema),
        PostgresObserverStores.layerObserverLease(schema, pollMillis ?? 1000),
      ).pipe(
        Layer.provideMerge(
          PostgresStorage.layerPostgres({
            schema,
            ...(segmentBytesMax === undefined ? {} : { segmentBytesMax }),
            ...(recordBytesMax === undefined ? {} : { recordBytesMax }),
            ...(pollMillis === undefined ? {} : { pollMillis }),
          }),
        ),
      )
    }),
  )
}

/** The registry in a PostgreSQL schema; the runtime provides the `SqlClient` and the ids. */
export const layerPostgres = (
  options: PostgresRegistryOptions = {},
): Layer.Layer<
  ModelRegistry,
  InvalidInput | InvalidLifecycle | LifecycleMismatch | StorageFailed | WalCorrupt | DirectoryLocked,
  SqlClient.SqlClient | IdGenerator
> => {
  const { schema: _schema, segmentBytesMax: _s, recordBytesMax: _r, pollMillis: _p, ...registryOptions } = options
  return layer(registryOptions).pipe(Layer.provide(layerPostgresStorage(options)))
}

/** The registry's own options among a file-system registry's (the rest configure its storage). */
export const registryOptionsOf = (options: FileSystemRegistryOptions): RegistryOptions => {
  const { directory: _d, segmentBytesMax: _s, recordBytesMax: _r, ...registryOptions } = options
  return registryOptions
}

/**
 * The registry on any `FileSystem` (the real one, or the test kit's simulated disk): WAL, snapshots, observer
 * cursors and sinks all under `directory`. Runtime-neutral: the runtime provides FileSystem, Path, ProcessInfo,
 * IdGenerator and, optionally, a faster Checksum.
 */
export const layerFileSystem = (
  options: FileSystemRegistryOptions,
): Layer.Layer<ModelRegistry, RegistryOpenError, IdGenerator | FileSystem.FileSystem | Path.Path | ProcessInfo> =>
  layer(registryOptionsOf(options)).pipe(Layer.provide(layerFileSystemStorage(options)))

/**
 * The registry on in-memory storage (tests, edge runtimes). Pass the same `store` again to model a reopen:
 * it survives close, like a directory would.
 */
export const layerMemory = (
  options: RegistryOptions & { readonly store?: MemoryRegistryStore } = {},
): Layer.Layer<
  ModelRegistry,
  InvalidInput | InvalidLifecycle | LifecycleMismatch | StorageFailed | WalCorrupt | DirectoryLocked
> => {
  const { store = makeMemoryRegistryStore(), ...registryOptions } = options
  return layer(registryOptions).pipe(
    Layer.provide(
      Layer.mergeAll(
        Storage.layerMemory(store.wal),
        CursorStoreModule.layerMemory(store.cursors),
        AppendSinkModule.layerMemory(store.files),
        IdGeneratorLayer.layerRandom,
      ),
    ),
  )
}

/** Everything a memory registry keeps, outliving its layer so that tests can reopen it. */
export interface MemoryRegistryStore {
  readonly wal: MemoryStore
  readonly cursors: CursorStoreModule.MemoryCursors
  readonly files: AppendSinkModule.MemoryFiles
}

export const makeMemoryRegistryStore = (): MemoryRegistryStore => ({
  wal: Storage.makeMemoryStore(),
  cursors: new Map(),
  files: new Map(),
})
