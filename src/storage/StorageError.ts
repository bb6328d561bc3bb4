/**
 * The one place where platform errors become the registry's tagged storage errors, so every IO call site reports
 * failures the same way (operation, path, closed reason) and callers only ever see `StorageFailed`.
 */
import type { PlatformError } from "@effect/platform/Error"
import { Effect } from "effect"
import { StorageFailed } from "../domain/errors.ts"

/** Maps a platform error raised by `operation` on `path` to `StorageFailed`. */
export const fromPlatformError = (operation: string, path: string, error: PlatformError): StorageFailed =>
  new StorageFailed({
    operation,
    path,
    reason: error._tag === "SystemError" ? error.reason : "BadArgument",
    message: `${operation} ${path}: ${error.message}`,
  })

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
