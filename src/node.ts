/**
 * The Node composition root: the registry on the real file system, with Node's fast primitives plugged into
 * the runtime-neutral core (zlib's CRC-32, crypto's UUIDs, process liveness for stale-lock detection).
 * Everything runtime-specific lives here, not in the core.
 */

import { randomUUID } from "node:crypto"
import { closeSync, fdatasync, ftruncate, openSync, writeSync } from "node:fs"
import { crc32 as zlibCrc32 } from "node:zlib"
import { SystemError, type SystemErrorReason } from "@effect/platform/Error"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Effect, Layer } from "effect"
import * as IdGenerator from "./effects/IdGenerator.ts"
import * as ModelRegistry from "./effects/ModelRegistry.ts"
import { openPromiseRegistry, type PromiseRegistry } from "./effects/promise.ts"
import { Checksum, makeCrc32 } from "./storage/Checksum.ts"
import { DirectoryWatch } from "./storage/DirectoryWatch.ts"
import { ProcessInfo } from "./storage/ProcessInfo.ts"
import { type ActiveSegmentFile, SegmentAppender, writeFully } from "./storage/SegmentAppender.ts"

/** CRC-32 (IEEE) via zlib: the same algorithm as the core's table, about 3× faster. */
export const layerChecksum = Layer.succeed(
  Checksum,
  makeCrc32((data, previous) => zlibCrc32(data, previous)),
)

export const layerProcessInfo = Layer.succeed(ProcessInfo, {
  pid: process.pid,
  isAlive: (pid: number) =>
    Effect.sync(() => {
      try {
        process.kill(pid, 0)
        return true
      } catch (error) {
        // EPERM: the process exists but belongs to someone else. Only ESRCH proves it is gone.
        return (error as NodeJS.ErrnoException).code !== "ESRCH"
      }
    }),
})

export const layerIds = IdGenerator.layerFrom(randomUUID)

/**
 * The reasons @effect/platform-node gives the same errno codes, so storage errors read the same on either path.
 * ENOSPC stays `Unknown` here because the platform's reasons are closed; the error keeps the errno in its `cause`,
 * from which src/storage/StorageError.ts makes it `NoSpace`, as it does for the platform's own errors.
 */
const reasonOf = (code: string | undefined): SystemErrorReason => {
  switch (code) {
    case "ENOENT":
      return "NotFound"
    case "EACCES":
      return "PermissionDenied"
    case "EEXIST":
      return "AlreadyExists"
    case "EISDIR":
    case "ENOTDIR":
    case "ELOOP":
      return "BadResource"
    case "EBUSY":
      return "Busy"
    default:
      return "Unknown"
  }
}

const systemError = (method: string, path: string, error: unknown): SystemError => {
  const errno = error as NodeJS.ErrnoException
  return new SystemError({
    reason: reasonOf(errno?.code),
    module: "FileSystem",
    method,
    pathOrDescriptor: path,
    ...(errno?.syscall === undefined ? {} : { syscall: errno.syscall }),
    description: errno?.message ?? String(error),
    cause: error,
  })
}

/**
 * The WAL's active segment as a raw descriptor: `writeSync`, then `fdatasync` on the thread pool. One thread-pool
 * round trip per batch instead of two (FileSystem's write, then its fsync). The write blocks the event loop only
 * for a copy of one batch into the page cache. fdatasync is enough for an append-only file: it flushes the size
 * change that makes the new bytes readable. What a failure means (cut back, sync, latch) is decided by
 * `appendDurably`, shared with the `FileSystem` path the simulator runs; only the syscalls live here.
 */
export const layerSegmentAppender = Layer.succeed(SegmentAppender, {
  open: (path) =>
    Effect.map(
      Effect.acquireRelease(
        Effect.try({ try: () => openSync(path, "a"), catch: (error) => systemError("open", path, error) }),
        (fd) => Effect.sync(() => closeSync(fd)),
      ),
      (fd): ActiveSegmentFile => {
        // Made once per file, not per batch: the append path allocates nothing it can avoid.
        const writeSome = (bytes: Uint8Array, offset: number, length: number) => writeSync(fd, bytes, offset, length)
        return {
          writeAll: (bytes) =>
            Effect.try({
              try: () => writeFully(bytes, writeSome),
              catch: (error) => systemError("writeAll", path, error),
            }),
          sync: Effect.async<void, SystemError>((resume) =>
            fdatasync(fd, (error) => resume(error ? Effect.fail(systemError("sync", path, error)) : Effect.void)),
          ),
          truncate: (length) =>
            Effect.async<void, SystemError>((resume) =>
              ftruncate(fd, Number(length), (error) =>
                resume(error ? Effect.fail(systemError("truncate", path, error)) : Effect.void),
              ),
            ),
        }
      },
    ),
})

/**
 * A data directory removed under a running process (a host's clean-up, a mistaken `rm -rf`) is noticed within
 * this interval, and no write is acknowledged into it after that: two stats per interval cost nothing next to an
 * fsync, and a second of exposure bounds what such a removal can take with it.
 */
export const directoryCheckIntervalMillis = 1000

export const layerDirectoryWatch = Layer.succeed(DirectoryWatch, { intervalMillis: directoryCheckIntervalMillis })

/** Everything the core needs from Node besides the registry options. */
export const layerNode = Layer.mergeAll(
  NodeContext.layer,
  layerChecksum,
  layerProcessInfo,
  layerIds,
  layerSegmentAppender,
  layerDirectoryWatch,
)

export type FileRegistryOptions = ModelRegistry.FileSystemRegistryOptions

/**
 * The registry on a data directory: `Layer.provide(layerFile({ directory }))`, then
 * `yield* ModelRegistry.ModelRegistry`.
 */
export const layerFile = (options: FileRegistryOptions) =>
  ModelRegistry.layerFileSystem(options).pipe(Layer.provide(layerNode))

/** The Promise facade over a data directory. `close()` drains, fsyncs and releases the lock. */
export const openRegistry = (options: FileRegistryOptions): Promise<PromiseRegistry> =>
  openPromiseRegistry(layerFile(options))

export * from "./index.ts"
