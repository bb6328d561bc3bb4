/**
 * The data directory's exclusive lock: nothing else stops two processes from writing the same log (a seed defect).
 *
 * The lock is a file holding the holder's pid, created atomically (write a private file, fsync, hard-link it to LOCK). A lock whose pid is dead is stale. Taking
 * one over first renames it to a name private to us, so of two processes racing for the same stale lock only one
 * wins the rename, and a live lock grabbed by mistake (its holder re-created it in between) is put back.
 * A lock file with no readable pid (only an older version could leave one) is treated as held: breaking a live lock
 * is worse than asking an operator to delete a file.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect, type Scope } from "effect"
import { DirectoryLocked, type StorageFailed } from "../domain/errors.ts"
import { removeDurably, renameDurably, writeAndSync } from "./Directory.ts"
import { ProcessInfo } from "./ProcessInfo.ts"
import { io, plainFailure } from "./StorageError.ts"

export const lockFileName = "LOCK"
const pendingSuffix = ".pending"
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
  // Opening fails as a whole on any failure, so whether durability was lost does not matter here.
  plainFailure(
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const processInfo = yield* ProcessInfo
      const lockPath = path.join(directory, lockFileName)
      // The pid is written and fsynced under a private name first, then hard-linked to LOCK (which fails if LOCK
      // exists): LOCK never exists without its pid. Creating LOCK with "wx" and then writing the pid left an empty,
      // forever-held lock whenever the write failed or the process died in between (found by the simulator).
      const pending = path.join(directory, `${lockFileName}.${processInfo.pid}${pendingSuffix}`)
      const create = Effect.gen(function* () {
        yield* writeAndSync(fs, pending, new TextEncoder().encode(`${processInfo.pid}\n`))
        const linked = yield* io("link-lock", lockPath, fs.link(pending, lockPath)).pipe(
          Effect.as(true),
          Effect.catchIf(
            (e) => e.reason === "AlreadyExists",
            () => Effect.succeed(false),
          ),
        )
        yield* removeDurably(fs, directory, pending)
        return linked
      })
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
        const claimed = yield* plainFailure(renameDurably(fs, directory, lockPath, claim)).pipe(
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
      // A holder that died between writing its pending file and linking it left that file behind.
      for (const name of yield* io("list", directory, fs.readDirectory(directory))) {
        const match = /^LOCK\.(\d+)\.pending$/.exec(name)
        const pid = match ? Number(match[1]) : undefined
        if (pid !== undefined && pid !== processInfo.pid && !(yield* processInfo.isAlive(pid)))
          yield* removeDurably(fs, directory, path.join(directory, name))
      }
      yield* Effect.addFinalizer(() => Effect.ignore(removeDurably(fs, directory, lockPath)))
    }),
  )
