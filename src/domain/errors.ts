/**
 * The registry's typed errors. Every failure a caller can see is one of these tagged classes, so
 * `Effect.catchTag` works in Effect code and `e._tag` works in Promise code. Fields are structured
 * (never only a message) so the HTTP layer and the CLI can render them without parsing text.
 */
import { Schema } from "effect"

/**
 * A tagged error class's base, spelled out: JSR's fast type check cannot infer the type of a class's superclass
 * expression, so each base is a variable of this declared type.
 */
type ErrorBase<Self, Tag extends string, Fields extends Schema.Struct.Fields> = Schema.TaggedErrorClass<
  Self,
  Tag,
  { readonly _tag: Schema.tag<Tag> } & Fields
>

const InvalidInputBase: ErrorBase<
  InvalidInput,
  "InvalidInput",
  { field: typeof Schema.String; message: typeof Schema.String }
> = Schema.TaggedError<InvalidInput>()("InvalidInput", { field: Schema.String, message: Schema.String })

/** A command or its input broke a rule of the data model. `field` names the offending input path. */
export class InvalidInput extends InvalidInputBase {}

const ModelNotFoundBase: ErrorBase<ModelNotFound, "ModelNotFound", { name: typeof Schema.String }> =
  Schema.TaggedError<ModelNotFound>()("ModelNotFound", { name: Schema.String })

export class ModelNotFound extends ModelNotFoundBase {
  override get message(): string {
    return `model "${this.name}" not found`
  }
}

const VersionNotFoundBase: ErrorBase<
  VersionNotFound,
  "VersionNotFound",
  { name: typeof Schema.String; version: typeof Schema.String }
> = Schema.TaggedError<VersionNotFound>()("VersionNotFound", { name: Schema.String, version: Schema.String })

export class VersionNotFound extends VersionNotFoundBase {
  override get message(): string {
    return `version "${this.version}" of model "${this.name}" not found`
  }
}

/** `register` of an existing (name, version) with different content. Identical re-sends succeed. */
const VersionConflictBase: ErrorBase<
  VersionConflict,
  "VersionConflict",
  { name: typeof Schema.String; version: typeof Schema.String }
> = Schema.TaggedError<VersionConflict>()("VersionConflict", { name: Schema.String, version: Schema.String })

export class VersionConflict extends VersionConflictBase {
  override get message(): string {
    return `version "${this.version}" of model "${this.name}" already exists with different content`
  }
}

/** The lifecycle forbids this command in the version's current state (e.g. promoting a deprecated version). */
const InvalidTransitionBase: ErrorBase<
  InvalidTransition,
  "InvalidTransition",
  { name: typeof Schema.String; version: typeof Schema.String; from: typeof Schema.String; event: typeof Schema.String }
> = Schema.TaggedError<InvalidTransition>()("InvalidTransition", {
  name: Schema.String,
  version: Schema.String,
  from: Schema.String,
  event: Schema.String,
})

export class InvalidTransition extends InvalidTransitionBase {
  override get message(): string {
    return `cannot ${this.event} version "${this.version}" of model "${this.name}": it is ${this.from}`
  }
}

/** `resolveAlias` of an alias the model does not have. */
const AliasNotFoundBase: ErrorBase<
  AliasNotFound,
  "AliasNotFound",
  { name: typeof Schema.String; alias: typeof Schema.String }
> = Schema.TaggedError<AliasNotFound>()("AliasNotFound", { name: Schema.String, alias: Schema.String })

export class AliasNotFound extends AliasNotFoundBase {
  override get message(): string {
    return `model "${this.name}" has no alias "${this.alias}"`
  }
}

/** The lifecycle declares which states this alias may point at, and the version is in another one. */
const AliasNotAllowedBase: ErrorBase<
  AliasNotAllowed,
  "AliasNotAllowed",
  {
    name: typeof Schema.String
    alias: typeof Schema.String
    version: typeof Schema.String
    state: typeof Schema.String
    allowed: Schema.Array$<typeof Schema.String>
  }
> = Schema.TaggedError<AliasNotAllowed>()("AliasNotAllowed", {
  name: Schema.String,
  alias: Schema.String,
  version: Schema.String,
  state: Schema.String,
  allowed: Schema.Array(Schema.String),
})

export class AliasNotAllowed extends AliasNotAllowedBase {
  override get message(): string {
    return `alias "${this.alias}" may point only at versions in ${this.allowed.join(", ")}; version "${this.version}" of model "${this.name}" is ${this.state}`
  }
}

/**
 * A lifecycle the registry refuses to run: its machine uses what a lifecycle cannot (nested states, actions, delayed
 * or eventless transitions), its declarations name unknown states or events, or the model checker found a
 * violation. `counterexample` is the shortest command path that reaches the violation (empty for a structural one).
 */
const InvalidLifecycleBase: ErrorBase<
  InvalidLifecycle,
  "InvalidLifecycle",
  { lifecycle: typeof Schema.String; reason: typeof Schema.String; counterexample: Schema.Array$<typeof Schema.String> }
> = Schema.TaggedError<InvalidLifecycle>()("InvalidLifecycle", {
  lifecycle: Schema.String,
  reason: Schema.String,
  counterexample: Schema.Array(Schema.String),
})

export class InvalidLifecycle extends InvalidLifecycleBase {
  override get message(): string {
    const path = this.counterexample.length === 0 ? "" : `, after: ${this.counterexample.join(" → ")}`
    return `lifecycle "${this.lifecycle}" is invalid: ${this.reason}${path}`
  }
}

/**
 * The data directory was written under another lifecycle than the one it is opened with. Open it with the
 * recorded lifecycle, or give a state mapping to move it (recorded as a `LifecycleChanged` event).
 */
const LifecycleMismatchBase: ErrorBase<
  LifecycleMismatch,
  "LifecycleMismatch",
  {
    recorded: typeof Schema.String
    recordedFingerprint: typeof Schema.String
    given: typeof Schema.String
    givenFingerprint: typeof Schema.String
    reason: typeof Schema.String
  }
> = Schema.TaggedError<LifecycleMismatch>()("LifecycleMismatch", {
  recorded: Schema.String,
  recordedFingerprint: Schema.String,
  given: Schema.String,
  givenFingerprint: Schema.String,
  reason: Schema.String,
})

export class LifecycleMismatch extends LifecycleMismatchBase {
  override get message(): string {
    return `the data directory is written under lifecycle "${this.recorded}" (${this.recordedFingerprint}), not "${this.given}" (${this.givenFingerprint}): ${this.reason}`
  }
}

/** The mailbox is full and the caller asked not to wait. Nothing was written. */
const OverloadedBase: ErrorBase<Overloaded, "Overloaded", { capacity: typeof Schema.Number }> =
  Schema.TaggedError<Overloaded>()("Overloaded", { capacity: Schema.Number })

export class Overloaded extends OverloadedBase {
  override get message(): string {
    return `the registry mailbox is full (${this.capacity} commands); retry later`
  }
}

/**
 * Why storage failed, as a closed set so callers can switch on it exhaustively: the platform's system-error
 * reasons, plus the registry's own. `PortFailed`: an earlier fsync or truncate failed and the port refuses
 * everything until reopened. `Compacted`: the seq asked for was compacted away (from the WAL and from a
 * subscription alike). `ReadOnly`: the storage was opened for inspection. `BadArgument`: the platform rejected
 * the call's arguments. `Removed`: the data directory was removed or replaced while open, so what is written
 * would not be found at the next start; the port refuses everything from then on, as after `PortFailed`.
 * `NoSpace`: the disk or the quota is full (ENOSPC, EDQUOT); the platform reports it as `Unknown`, yet it is the
 * one failure an operator can fix without a restart, so it gets its own reason. `LockLost`: the data directory's
 * lock was taken over or removed, or could not be renewed within its lease, so another process may be writing the
 * directory; the port refuses everything from then on, as after `PortFailed`. `Unavailable`: the database could not
 * be reached, and nothing of the call was written (a commit whose outcome was lost is looked up first); the
 * registry goes on, and the call can be retried.
 */
const storageFailureReasons = [
  "AlreadyExists",
  "BadResource",
  "Busy",
  "InvalidData",
  "NotFound",
  "PermissionDenied",
  "TimedOut",
  "UnexpectedEof",
  "Unknown",
  "WouldBlock",
  "WriteZero",
  "BadArgument",
  "PortFailed",
  "Compacted",
  "ReadOnly",
  "Removed",
  "NoSpace",
  "LockLost",
  "Unavailable",
] as const
export const StorageFailureReason: Schema.Literal<typeof storageFailureReasons> = Schema.Literal(
  ...storageFailureReasons,
)
export type StorageFailureReason = typeof StorageFailureReason.Type

/**
 * The disk failed under us. After a failed write or fsync the outcome of the in-flight batch is unknown,
 * and the registry refuses every later command until it is reopened (it never retries an fsync).
 */
const StorageFailedBase: ErrorBase<
  StorageFailed,
  "StorageFailed",
  {
    operation: typeof Schema.String
    path: typeof Schema.String
    reason: typeof StorageFailureReason
    message: typeof Schema.String
  }
> = Schema.TaggedError<StorageFailed>()("StorageFailed", {
  operation: Schema.String,
  path: Schema.String,
  reason: StorageFailureReason,
  message: Schema.String,
})

export class StorageFailed extends StorageFailedBase {}

/** The registry was closed (its scope ended) before or while the command waited. Nothing of it was written. */
const RegistryClosedBase: ErrorBase<RegistryClosed, "RegistryClosed", {}> = Schema.TaggedError<RegistryClosed>()(
  "RegistryClosed",
  {},
)

export class RegistryClosed extends RegistryClosedBase {
  override get message(): string {
    return "the registry is closed"
  }
}

/** A data file is damaged in a way that cannot be a torn tail. Opening refuses rather than guess. */
const WalCorruptBase: ErrorBase<
  WalCorrupt,
  "WalCorrupt",
  { file: typeof Schema.String; offset: typeof Schema.Number; seq: typeof Schema.Number; reason: typeof Schema.String }
> = Schema.TaggedError<WalCorrupt>()("WalCorrupt", {
  file: Schema.String,
  offset: Schema.Number,
  seq: Schema.Number,
  reason: Schema.String,
})

export class WalCorrupt extends WalCorruptBase {
  override get message(): string {
    return `WAL corrupt in ${this.file} at offset ${this.offset} (seq ${this.seq}): ${this.reason}`
  }
}

/** Another live process holds the data directory's lock. */
const DirectoryLockedBase: ErrorBase<
  DirectoryLocked,
  "DirectoryLocked",
  { directory: typeof Schema.String; pid: typeof Schema.Number }
> = Schema.TaggedError<DirectoryLocked>()("DirectoryLocked", { directory: Schema.String, pid: Schema.Number })

export class DirectoryLocked extends DirectoryLockedBase {
  override get message(): string {
    return `data directory ${this.directory} is locked by process ${this.pid}`
  }
}

/**
 * A reader asked for events from a seq that compaction has removed (from the log, and from the in-memory tail):
 * what it missed can no longer be replayed. `firstSeq` is the first event still available, where it may start over
 * (after re-reading the state it missed, e.g. from a snapshot of the models).
 */
const PositionCompactedBase: ErrorBase<
  PositionCompacted,
  "PositionCompacted",
  { from: typeof Schema.Number; firstSeq: typeof Schema.Number }
> = Schema.TaggedError<PositionCompacted>()("PositionCompacted", { from: Schema.Number, firstSeq: Schema.Number })

export class PositionCompacted extends PositionCompactedBase {
  override get message(): string {
    return `seq ${this.from} was compacted away; the first event still available is seq ${this.firstSeq}`
  }
}

/** A write to an archived model: it is kept, read-only, until restored (`restoreModel`). */
const ModelIsArchivedBase: ErrorBase<ModelIsArchived, "ModelIsArchived", { name: typeof Schema.String }> =
  Schema.TaggedError<ModelIsArchived>()("ModelIsArchived", { name: Schema.String })

export class ModelIsArchived extends ModelIsArchivedBase {
  override get message(): string {
    return `model "${this.name}" is archived; restore it before changing it`
  }
}

/**
 * An `asOf` before what this registry's history reaches: a snapshot written by an earlier release kept the state,
 * not the changes, so the past before its seq (`since`) is gone. Every later moment can still be answered.
 */
const HistoryUnavailableBase: ErrorBase<
  HistoryUnavailable,
  "HistoryUnavailable",
  { asOf: typeof Schema.String; since: typeof Schema.Number }
> = Schema.TaggedError<HistoryUnavailable>()("HistoryUnavailable", { asOf: Schema.String, since: Schema.Number })

export class HistoryUnavailable extends HistoryUnavailableBase {
  override get message(): string {
    return `the history before seq ${this.since} was not kept (a snapshot of an earlier release); asOf ${this.asOf} is before it`
  }
}

export type RegistryError =
  | InvalidInput
  | ModelNotFound
  | VersionNotFound
  | VersionConflict
  | InvalidTransition
  | AliasNotFound
  | AliasNotAllowed
  | ModelIsArchived
  | HistoryUnavailable
  | InvalidLifecycle
  | LifecycleMismatch
  | Overloaded
  | RegistryClosed
  | StorageFailed
  | WalCorrupt
  | DirectoryLocked
