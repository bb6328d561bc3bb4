/**
 * How the file log appends to its active segment. Every runtime supplies the same three primitives
 * (`ActiveSegmentFile`); `appendDurably` alone decides what a failure means, so the Node descriptor path and the
 * `FileSystem` path (the one the simulated disk runs) share every rule but the syscalls themselves.
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import { Context, Effect, type Scope } from "effect"
import type { StorageFailed } from "../domain/errors.ts"
import { DurabilityLost, fromPlatformError, syncIo } from "./StorageError.ts"

/** Which step of `writeAllAndSync` failed, and how. */
export interface AppendStepFailed {
  readonly step: "write" | "sync"
  readonly error: PlatformError
}

/** What the WAL does with its active segment: append whole batches, make them durable, cut back a failed write. */
export interface ActiveSegmentFile {
  /**
   * Appends every byte (a short write is continued, never dropped), then makes them durable (fsync or fdatasync),
   * and fails with the step that failed. One effect for both, so that a runtime whose write is synchronous answers
   * a batch with one Effect operation: the chain of a write, a sync and their error mappings cost as much CPU as
   * the rest of a one-register batch's storage work.
   */
  readonly writeAllAndSync: (bytes: Uint8Array) => Effect.Effect<void, AppendStepFailed>
  /** Makes the file durable (fsync or fdatasync): after a cut-back. */
  readonly sync: Effect.Effect<void, PlatformError>
  readonly truncate: (length: FileSystem.SizeInput) => Effect.Effect<void, PlatformError>
}

/** An active segment whose write and sync are separate effects, as a `FileSystem` file's are. */
export const fromSteps = (file: {
  readonly writeAll: (bytes: Uint8Array) => Effect.Effect<void, PlatformError>
  readonly sync: Effect.Effect<void, PlatformError>
  readonly truncate: (length: FileSystem.SizeInput) => Effect.Effect<void, PlatformError>
}): ActiveSegmentFile => {
  const syncStep = Effect.mapError(file.sync, (error): AppendStepFailed => ({ step: "sync", error }))
  return {
    writeAllAndSync: (bytes) =>
      Effect.zipRight(
        Effect.mapError(file.writeAll(bytes), (error): AppendStepFailed => ({ step: "write", error })),
        syncStep,
      ),
    sync: file.sync,
    // Called on `file`: a `FileSystem` file's methods may need their receiver.
    truncate: (length) => file.truncate(length),
  }
}

/**
 * An optional, runtime-specific way to open the active segment for appending. Without it the segment is a
 * `FileSystem` file (`fromSteps`), whose write and sync are each a thread-pool round trip. A runtime can plug in a
 * synchronous write followed by an asynchronous fdatasync: one round trip per batch, at the latency of a fully
 * synchronous path (an asynchronous write as well cost noticeably more with one producer; see bench/results).
 * Closing the scope closes the file.
 */
export interface SegmentAppender {
  readonly open: (path: string) => Effect.Effect<ActiveSegmentFile, PlatformError, Scope.Scope>
}
export const SegmentAppender: Context.Tag<SegmentAppender, SegmentAppender> = Context.GenericTag<SegmentAppender>(
  "@visutility/model-registry/SegmentAppender",
)

/**
 * Writes every byte through a synchronous `writeSome` (returns how many bytes it wrote), for runtimes that append
 * with a blocking write: a short write is continued, and a write of zero bytes throws an error whose `code` is
 * "WriteZero" (as Node's own `writeAll` reports it), since looping on it would never end.
 */
export const writeFully = (
  bytes: Uint8Array,
  writeSome: (bytes: Uint8Array, offset: number, length: number) => number,
): void => {
  for (let written = 0; written < bytes.length; ) {
    const n = writeSome(bytes, written, bytes.length - written)
    if (n === 0) throw Object.assign(new Error("write returned 0 bytes written"), { code: "WriteZero" })
    written += n
  }
}

/**
 * An active segment from a runtime's blocking write and its callback sync (Node's `writeSync` and `fdatasync`,
 * Deno's `writeSync` and `syncData`): the write continued through `writeFully`, then the sync, as one effect.
 * `failed` names what a thrown write error was, as the runtime's `SystemError`.
 */
export const fromBlockingWrite = (calls: {
  readonly writeSome: (bytes: Uint8Array, offset: number, length: number) => number
  readonly datasync: (done: (error: PlatformError | undefined) => void) => void
  readonly failed: (method: string, error: unknown) => PlatformError
  readonly truncate: (length: FileSystem.SizeInput) => Effect.Effect<void, PlatformError>
}): ActiveSegmentFile => {
  const { writeSome, datasync, failed, truncate } = calls
  return {
    writeAllAndSync: (bytes) =>
      Effect.async<void, AppendStepFailed>((resume) => {
        try {
          writeFully(bytes, writeSome)
        } catch (error) {
          return resume(Effect.fail({ step: "write", error: failed("writeAll", error) }))
        }
        datasync((error) => resume(error ? Effect.fail({ step: "sync", error }) : Effect.void))
      }),
    sync: Effect.async<void, PlatformError>((resume) =>
      datasync((error) => resume(error ? Effect.fail(error) : Effect.void)),
    ),
    truncate,
  }
}

/**
 * Appends `bytes` at `length` (the file's current size) and syncs. A failed write fails with `StorageFailed`
 * after the file is cut back to `length` and that cut synced; otherwise a crash could bring the partial write
 * back after a later rotation sealed the segment, where it reads as corruption, not as a torn tail (found by the
 * simulator). A failed sync or cut-back is `DurabilityLost`.
 */
export const appendDurably = (
  file: ActiveSegmentFile,
  path: string,
  length: number,
  bytes: Uint8Array,
): Effect.Effect<void, StorageFailed | DurabilityLost> =>
  Effect.catchAll(file.writeAllAndSync(bytes), (failed) => {
    if (failed.step === "sync")
      return Effect.fail(new DurabilityLost({ failure: fromPlatformError("fsync", path, failed.error) }))
    const reported = fromPlatformError("write", path, failed.error)
    return syncIo("truncate", path, Effect.zipRight(file.truncate(length), file.sync)).pipe(
      Effect.mapError((lost) => new DurabilityLost({ failure: lost.failure, reported })),
      Effect.zipRight(Effect.fail(reported)),
    )
  })
