/**
 * The data directory's exclusive lock: nothing else stops two processes from writing the same log (a seed defect).
 *
 * The lock is a file created with O_EXCL ("wx") holding the holder's pid. A lock whose pid is dead is stale. Taking
 * one over first renames it to a name private to us, so of two processes racing for the same stale lock only one
 * wins the rename, and a live lock grabbed by mistake (its holder re-created it in between) is put back.
 * A lock file with no readable pid (a holder that crashed between create and write, or is in that window now) is
 * treated as held: breaking a live lock is worse than asking an operator to delete a file.
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect, type Scope } from "effect"
import { DirectoryLocked, type StorageFailed } from "../domain/errors.ts"
import { removeDurably, renameDurably, syncDirectory, writeAndSync } from "./Directory.ts"
import { ProcessInfo } from "./ProcessInfo.ts"
import { io } from "./StorageError.ts"

export const lockFileName = "LOCK"
const attemptsMax = 3

const readPid = (fs: FileSystem.FileSystem, path: string) =>
  io("read-lock", path, fs.readFileString(path)).pipe(
    Effect.map((text) => (/^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined)),
  )

/**
 * Acquires the lock of `directory` for the current scope; releasing it removes the lock file (and fsyncs the
 * directory). Fails with `DirectoryLocked { directory, pid }` while a live process holds it.
 */
export const acquireLock = (
  directory: string,
): Effect.Effect<
  void,
  StorageFailed | DirectoryLocked,
  FileSystem.FileSystem | Path.Path | ProcessInfo | Scope.Scope
> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const processInfo = yield* ProcessInfo
    const lockPath = path.join(directory, lockFileName)
    const create = writeAndSync(fs, lockPath, new TextEncoder().encode(`${processInfo.pid}\n`), "wx").pipe(
      Effect.zipRight(syncDirectory(fs, directory)),
      Effect.as(true),
      Effect.catchIf(
        (e) => e.reason === "AlreadyExists",
        () => Effect.succeed(false),
      ),
    )
    const takeOverIfStale = Effect.gen(function* () {
      const pid = yield* readPid(fs, lockPath).pipe(
        Effect.catchIf(
          (e) => e.reason === "NotFound",
          () => Effect.succeed(-1),
        ),
      )
      if (pid === -1) return // released meanwhile: just try again
      if (pid === undefined || pid === processInfo.pid || (yield* processInfo.isAlive(pid)))
        return yield* new DirectoryLocked({ directory, pid: pid ?? 0 })
      const claim = path.join(directory, `${lockFileName}.stale-${processInfo.pid}`)
      const claimed = yield* renameDurably(fs, directory, lockPath, claim).pipe(
        Effect.as(true),
        Effect.catchIf(
          (e) => e.reason === "NotFound",
          () => Effect.succeed(false),
        ),
      )
      if (!claimed) return
      const claimedPid = yield* readPid(fs, claim)
      if (claimedPid !== pid) {
        yield* renameDurably(fs, directory, claim, lockPath)
        return yield* new DirectoryLocked({ directory, pid: claimedPid ?? 0 })
      }
      yield* removeDurably(fs, directory, claim)
    })
    for (let attempt = 0; ; attempt++) {
      if (yield* create) break
      if (attempt + 1 >= attemptsMax) {
        const pid = yield* readPid(fs, lockPath).pipe(Effect.orElseSucceed(() => undefined))
        return yield* new DirectoryLocked({ directory, pid: pid ?? 0 })
      }
      yield* takeOverIfStale
    }
    yield* Effect.addFinalizer(() => Effect.ignore(removeDurably(fs, directory, lockPath)))
  })
