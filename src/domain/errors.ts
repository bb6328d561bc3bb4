/**
 * The registry's typed errors. Every failure a caller can see is one of these tagged classes, so
 * `Effect.catchTag` works in Effect code and `e._tag` works in Promise code. Fields are structured
 * (never only a message) so the HTTP layer and the CLI can render them without parsing text.
 */
import { Schema } from "effect"

/** A command or its input broke a rule of the data model. `field` names the offending input path. */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  field: Schema.String,
  message: Schema.String,
}) {}

export class ModelNotFound extends Schema.TaggedError<ModelNotFound>()("ModelNotFound", {
  name: Schema.String,
}) {
  override get message() {
    return `model "${this.name}" not found`
  }
}

export class VersionNotFound extends Schema.TaggedError<VersionNotFound>()("VersionNotFound", {
  name: Schema.String,
  version: Schema.String,
}) {
  override get message() {
    return `version "${this.version}" of model "${this.name}" not found`
  }
}

/** `register` of an existing (name, version) with different content. Identical re-sends succeed. */
export class VersionConflict extends Schema.TaggedError<VersionConflict>()("VersionConflict", {
  name: Schema.String,
  version: Schema.String,
}) {
  override get message() {
    return `version "${this.version}" of model "${this.name}" already exists with different content`
  }
}

/** The lifecycle forbids this command in the version's current state (e.g. promoting a deprecated version). */
export class InvalidTransition extends Schema.TaggedError<InvalidTransition>()("InvalidTransition", {
  name: Schema.String,
  version: Schema.String,
  from: Schema.String,
  event: Schema.String,
}) {
  override get message() {
    return `cannot ${this.event} version "${this.version}" of model "${this.name}": it is ${this.from}`
  }
}

/** The mailbox is full and the caller asked not to wait. Nothing was written. */
export class Overloaded extends Schema.TaggedError<Overloaded>()("Overloaded", {
  capacity: Schema.Number,
}) {
  override get message() {
    return `the registry mailbox is full (${this.capacity} commands); retry later`
  }
}

/**
 * The disk failed under us. After a failed write or fsync the outcome of the in-flight batch is unknown,
 * and the registry refuses every later command until it is reopened (it never retries an fsync).
 */
export class StorageFailed extends Schema.TaggedError<StorageFailed>()("StorageFailed", {
  operation: Schema.String,
  path: Schema.String,
  reason: Schema.suspend(() => StorageFailureReason),
  message: Schema.String,
}) {}

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
 * directory; the port refuses everything from then on, as after `PortFailed`.
 */
export const StorageFailureReason = Schema.Literal(
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
)
export type StorageFailureReason = typeof StorageFailureReason.Type

/** The registry was closed (its scope ended) before or while the command waited. Nothing of it was written. */
export class RegistryClosed extends Schema.TaggedError<RegistryClosed>()("RegistryClosed", {}) {
  override get message() {
    return "the registry is closed"
  }
}

/** A data file is damaged in a way that cannot be a torn tail. Opening refuses rather than guess. */
export class WalCorrupt extends Schema.TaggedError<WalCorrupt>()("WalCorrupt", {
  file: Schema.String,
  offset: Schema.Number,
  seq: Schema.Number,
  reason: Schema.String,
}) {
  override get message() {
    return `WAL corrupt in ${this.file} at offset ${this.offset} (seq ${this.seq}): ${this.reason}`
  }
}

/** Another live process holds the data directory's lock. */
export class DirectoryLocked extends Schema.TaggedError<DirectoryLocked>()("DirectoryLocked", {
  directory: Schema.String,
  pid: Schema.Number,
}) {
  override get message() {
    return `data directory ${this.directory} is locked by process ${this.pid}`
  }
}

export type RegistryError =
  | InvalidInput
  | ModelNotFound
  | VersionNotFound
  | VersionConflict
  | InvalidTransition
  | Overloaded
  | RegistryClosed
  | StorageFailed
  | WalCorrupt
  | DirectoryLocked
