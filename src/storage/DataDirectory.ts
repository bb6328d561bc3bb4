/**
 * Opening a data directory: create it if missing, take the lock, remove tmp files a crash left behind, and list
 * what it holds. Read-only opens change nothing: no creation, no lock, no removal.
 *
 * Layout: `LOCK` (who holds the directory, see Lock.ts), `wal-<first seq>.seg` segments, `snap-<last seq>.snap` snapshots, and transient
 * `*.tmp` files (removed here) and `*.broken` copies of repaired damage (kept for forensics).
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect, type Scope } from "effect"
import { type DirectoryLocked, StorageFailed } from "../domain/errors.ts"
import { removeDurably, syncDirectory } from "./Directory.ts"
import { parseSegmentFileName, parseSnapshotFileName, tmpSuffix } from "./FileNames.ts"
import { acquireLock, type LockHold } from "./Lock.ts"
import type { ProcessInfo } from "./ProcessInfo.ts"
import { io, plainFailure } from "./StorageError.ts"

export interface DirectoryListing {
  readonly tmpFilesRemoved: ReadonlyArray<string>
  /** Segment files sorted by name (so by first seq), with the first seq each name declares. */
  readonly segmentNames: ReadonlyArray<{ readonly name: string; readonly firstSeq: number }>
  /** The seqs snapshot file names declare, newest first. */
  readonly snapshotSeqs: ReadonlyArray<number>
  /** The lock as held, when it is renewed (see `LockHold`); none for read-only opens and unleased processes. */
  readonly lock: LockHold | undefined
}

/** Opens `directory` for the current scope; the lock is released when it closes. */
export const open = (
  directory: string,
  readOnly: boolean,
): Effect.Effect<
  DirectoryListing,
  StorageFailed | DirectoryLocked,
  FileSystem.FileSystem | Path.Path | ProcessInfo | Scope.Scope
> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    if (!(yield* io("exists", directory, fs.exists(directory)))) {
      if (readOnly)
        return yield* new StorageFailed({
          operation: "open",
          path: directory,
          reason: "NotFound",
          message: "no such data directory",
        })
      yield* io("make-directory", directory, fs.makeDirectory(directory, { recursive: true }))
      yield* plainFailure(syncDirectory(fs, path.dirname(directory)))
    }
    const lock = readOnly ? undefined : yield* acquireLock(directory)

    const names = (yield* io("list", directory, fs.readDirectory(directory))).sort()
    const tmpFilesRemoved: Array<string> = []
    for (const name of readOnly ? [] : names.filter((n) => n.endsWith(tmpSuffix))) {
      yield* plainFailure(removeDurably(fs, directory, path.join(directory, name)))
      tmpFilesRemoved.push(path.join(directory, name))
    }
    const segmentNames = names.flatMap((name) => {
      const firstSeq = parseSegmentFileName(name)
      return firstSeq === undefined ? [] : [{ name, firstSeq }]
    })
    const snapshotSeqs = names
      .flatMap((name) => {
        const lastSeq = parseSnapshotFileName(name)
        return lastSeq === undefined ? [] : [lastSeq]
      })
      .sort((a, b) => b - a)
    return { tmpFilesRemoved, segmentNames, snapshotSeqs, lock }
  })
