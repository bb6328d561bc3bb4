/**
 * The one place where platform errors become the registry's tagged storage errors, so every IO call site reports
 * failures the same way (operation, path, closed reason) and callers only ever see `StorageFailed`.
 */
import type { PlatformError } from "@effect/platform/Error"
import { Data, Effect } from "effect"
import { StorageFailed, type StorageFailureReason } from "../domain/errors.ts"

/** Maps a platform error raised by `operation` on `path` to `StorageFailed`. */
export const fromPlatformError = (operation: string, path: string, error: PlatformError): StorageFailed =>
  new StorageFailed({
    operation,
    path,
    reason: reasonOf(error),
    message: `${operation} ${path}: ${error.message}`,
  })

const noSpaceCodes = new Set(["ENOSPC", "EDQUOT"])

/**
 * The platform's closed reasons have no "disk full" (@effect/platform-node reports ENOSPC as `Unknown`), so the
 * errno code is read from the error's cause, or failing that from the front of its description ("ENOSPC: …").
 */
const reasonOf = (error: PlatformError): StorageFailureReason => {
  if (error._tag !== "SystemError") return "BadArgument"
  if (error.reason !== "Unknown") return error.reason
  const cause = error.cause as { readonly code?: unknown } | undefined
  const code =
    typeof cause === "object" && cause !== null && typeof cause.code === "string"
      ? cause.code
      : /^([A-Z][A-Z0-9_]+)\b/.exec(error.description ?? "")?.[1]
  return code !== undefined && noSpaceCodes.has(code) ? "NoSpace" : "Unknown"
}

/** Runs a platform effect, mapping its error with `fromPlatformError`. */
export const io = <A, R>(
  operation: string,
  path: string,
  effect: Effect.Effect<A, PlatformError, R>,
): Effect.Effect<A, StorageFailed, R> => Effect.mapError(effect, (e) => fromPlatformError(operation, path, e))

/** The error every call gets once a port has entered its failed state (after a failed fsync or truncate). */
export const portFailed = (operation: string, path: string, cause: StorageFailed): StorageFailed =>
  new StorageFailed({
    operation,
    path,
    reason: "PortFailed",
    message: `storage is in a failed state since ${cause.operation} ${cause.path} failed (${cause.reason}); reopen to recover`,
  })

/**
 * A failure after which nobody can tell what is durable: a failed fsync (the kernel may already have dropped the
 * dirty pages, "fsyncgate") or a failed cut-back of a partial write. Backends report these as this distinct kind,
 * never by operation name, so that `FailureLatch` alone decides that the port is dead.
 */
export class DurabilityLost extends Data.TaggedError("DurabilityLost")<{
  /** What the port latches on. */
  readonly failure: StorageFailed
  /** What the failed call reports, when that is not `failure` (a failed write whose cut-back failed too). */
  readonly reported?: StorageFailed
}> {}

/** Runs a platform effect whose failure loses durability (an fsync, a cut-back), as `DurabilityLost`. */
export const syncIo = <A, R>(
  operation: string,
  path: string,
  effect: Effect.Effect<A, PlatformError, R>,
): Effect.Effect<A, DurabilityLost, R> =>
  Effect.mapError(effect, (e) => new DurabilityLost({ failure: fromPlatformError(operation, path, e) }))

/** Forgets the kind, for callers that fail as a whole anyway and hold no port open (opening, the lock). */
export const plainFailure = <A, E extends { readonly _tag: string }, R>(
  effect: Effect.Effect<A, E | DurabilityLost, R>,
): Effect.Effect<A, Exclude<E, DurabilityLost> | StorageFailed, R> =>
  Effect.catchIf(
    effect,
    (e): e is DurabilityLost => e._tag === "DurabilityLost",
    (e) => Effect.fail(e.reported ?? e.failure),
  ) as Effect.Effect<A, Exclude<E, DurabilityLost> | StorageFailed, R>
