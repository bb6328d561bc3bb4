/**
 * Durable directory operations. A created, renamed or deleted file is only durable once its directory is fsynced
 * (the seed's log and renames could vanish after a crash), so every such operation here is followed by one.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import { Effect } from "effect"
import type { StorageFailed } from "../domain/errors.ts"
import { type ByteParts, partsOf } from "./ByteParts.ts"
import { type DurabilityLost, io, syncIo } from "./StorageError.ts"

/**
 * fsync a directory: open it read-only and sync the handle (works on Linux with Node and Deno). Any failure is
 * `DurabilityLost`: whether the entries it should make durable are on disk is unknown.
 */
export const syncDirectory = (fs: FileSystem.FileSystem, directory: string): Effect.Effect<void, DurabilityLost> =>
  syncIo("fsync-directory", directory, Effect.scoped(Effect.flatMap(fs.open(directory, { flag: "r" }), (d) => d.sync)))

/**
 * Writes `bytes` (or its parts, in order, as one stream) to a new file and fsyncs it, also after every
 * `syncEveryBytes`. The file is not yet durable in its directory.
 */
export const writeAndSync = (
  fs: FileSystem.FileSystem,
  path: string,
  bytes: ByteParts,
  flag: "w" | "wx" = "w",
  syncEveryBytes = Number.POSITIVE_INFINITY,
): Effect.Effect<void, StorageFailed | DurabilityLost> =>
  Effect.scoped(
    Effect.gen(function* () {
      const file = yield* io("open", path, fs.open(path, { flag }))
      let unsynced = 0
      let dirty = true
      for (const part of partsOf(bytes)) {
        for (let start = 0; start < part.length; ) {
          const end = Math.min(part.length, start + syncEveryBytes - unsynced)
          yield* io("write", path, file.writeAll(part.subarray(start, end)))
          unsynced += end - start
          start = end
          dirty = true
          if (unsynced >= syncEveryBytes) {
            yield* syncIo("fsync", path, file.sync)
            unsynced = 0
            dirty = false
          }
        }
      }
      if (dirty) yield* syncIo("fsync", path, file.sync)
    }),
  )

/**
 * Atomically replaces `path` with `bytes`: tmp file, one write, fsync, rename, directory fsync. After a crash the
 * file holds either the old or the new content, never a mix; a leftover tmp file is removed by the next open.
 */
export const atomicReplace = (
  fs: FileSystem.FileSystem,
  directory: string,
  path: string,
  bytes: Uint8Array,
): Effect.Effect<void, StorageFailed | DurabilityLost> => {
  const tmp = `${path}.tmp`
  return Effect.zipRight(
    writeAndSync(fs, tmp, bytes),
    Effect.zipRight(io("rename", tmp, fs.rename(tmp, path)), syncDirectory(fs, directory)),
  )
}

/** Removes a file and fsyncs its directory. */
export const removeDurably = (
  fs: FileSystem.FileSystem,
  directory: string,
  path: string,
): Effect.Effect<void, StorageFailed | DurabilityLost> =>
  Effect.zipRight(io("remove", path, fs.remove(path)), syncDirectory(fs, directory))

/** Renames a file and fsyncs its directory. */
export const renameDurably = (
  fs: FileSystem.FileSystem,
  directory: string,
  from: string,
  to: string,
): Effect.Effect<void, StorageFailed | DurabilityLost> =>
  Effect.zipRight(io("rename", from, fs.rename(from, to)), syncDirectory(fs, directory))
