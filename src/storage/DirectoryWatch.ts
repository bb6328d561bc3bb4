/**
 * Whether, and how often, a writable file storage checks that its data directory is still the one it opened. A
 * directory removed under a running process (a host's clean-up, an `rm -rf`) still takes writes and fsyncs on
 * the open files, so without this check every acknowledged write would be gone at the next start. The check
 * (`check` below) compares the directory with what open saw and looks for the active segment. When this service is
 * provided, the storage runs it at every segment roll and on a timer through Effect's `Clock`, whose tick makes the
 * next append run it first. The runtime roots provide it; without it nothing is checked, so a simulated run keeps
 * its IO schedule unless it asks for the check.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import { Context, Effect, Option } from "effect"
import { StorageFailed } from "../domain/errors.ts"
import { DurabilityLost, io } from "./StorageError.ts"

export interface DirectoryWatch {
  readonly intervalMillis: number
}
export const DirectoryWatch: Context.Tag<DirectoryWatch, DirectoryWatch> = Context.GenericTag<DirectoryWatch>(
  "@visutility/model-registry/DirectoryWatch",
)

/**
 * A data directory removed under a running process (a host's clean-up, a mistaken `rm -rf`) is noticed within
 * this interval, and no write is acknowledged into it after that: two stats per interval cost nothing next to an
 * fsync, and a second of exposure bounds what such a removal can take with it. Every runtime's composition uses it.
 */
export const directoryCheckIntervalMillis = 1000

/** What identifies a directory while it exists: a removed and re-created one gets another inode. */
export interface DirectoryIdentity {
  readonly dev: number
  readonly ino: Option.Option<number>
}

export const identify = (
  fs: FileSystem.FileSystem,
  directory: string,
): Effect.Effect<DirectoryIdentity, StorageFailed> =>
  Effect.map(io("stat", directory, fs.stat(directory)), (info) => ({ dev: info.dev, ino: info.ino }))

const removed = (path: string, what: string) =>
  new DurabilityLost({
    failure: new StorageFailed({
      operation: "check-directory",
      path,
      reason: "Removed",
      message: `${what} while the registry had it open; writes would be lost, so the storage refuses them until reopened`,
    }),
  })

/**
 * Fails with `DurabilityLost` (reason `Removed`) when the directory is gone or is another one than `opened`, or
 * when `activeSegment` is gone. Any other stat failure proves nothing and passes: the next check tries again.
 */
export const check = (
  fs: FileSystem.FileSystem,
  directory: string,
  opened: DirectoryIdentity,
  activeSegment: string | undefined,
): Effect.Effect<void, DurabilityLost> =>
  Effect.gen(function* () {
    const now = yield* Effect.either(identify(fs, directory))
    if (now._tag === "Left")
      return now.left.reason === "NotFound" ? yield* removed(directory, "the data directory was removed") : undefined
    const same =
      now.right.dev === opened.dev && Option.getEquivalence<number>((a, b) => a === b)(now.right.ino, opened.ino)
    if (!same) return yield* removed(directory, "the data directory was replaced by another one")
    if (activeSegment === undefined) return
    const segment = yield* Effect.either(io("stat", activeSegment, fs.stat(activeSegment)))
    if (segment._tag === "Left" && segment.left.reason === "NotFound")
      return yield* removed(activeSegment, "the active WAL segment was removed")
  })
