/**
 * The Node composition root: the registry on the real file system, with Node's fast primitives plugged into
 * the runtime-neutral core (zlib's CRC-32, crypto's UUIDs, process liveness for stale-lock detection).
 * Everything runtime-specific lives here, not in the core.
 */

import * as crypto from "node:crypto"
import { closeSync, fdatasync, ftruncate, openSync, readFileSync, readlinkSync, writeSync } from "node:fs"
import { hostname } from "node:os"
import { setImmediate } from "node:timers"
import { crc32 as zlibCrc32 } from "node:zlib"
import { SystemError, type SystemErrorReason } from "@effect/platform/Error"
import * as NodeContext from "@effect/platform-node/NodeContext"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer, Redacted } from "effect"
import { EventLoopTurn } from "./actors/EventLoopTurn.ts"
import { StorageFailed } from "./domain/errors.ts"
import * as IdGenerator from "./effects/IdGenerator.ts"
import * as ModelRegistry from "./effects/ModelRegistry.ts"
import { openPromiseRegistry, type PromiseRegistry } from "./effects/promise.ts"
import { ChainDigest, fromSync } from "./storage/ChainDigest.ts"
import { Checksum, makeCrc32 } from "./storage/Checksum.ts"
import { DirectoryWatch, directoryCheckIntervalMillis } from "./storage/DirectoryWatch.ts"
import type { LockLease, PidState, ProcessIdentity } from "./storage/ProcessInfo.ts"
import * as ProcessInfo from "./storage/ProcessInfo.ts"
import { type ActiveSegmentFile, fromBlockingWrite, SegmentAppender } from "./storage/SegmentAppender.ts"

/** CRC-32 (IEEE) via zlib: the same algorithm as the core's table, about 3× faster. */
export const layerChecksum: Layer.Layer<Checksum> = Layer.succeed(
  Checksum,
  makeCrc32((data, previous) => zlibCrc32(data, previous)),
)

/**
 * SHA-256 for the WAL's hash chain via `node:crypto`: the one-shot `crypto.hash` (Node 20.12+) where it exists,
 * about 2× cheaper per small record than `createHash`, which older runtimes fall back to. Deno's Node
 * compatibility layer has both.
 */
export const layerChainDigest: Layer.Layer<ChainDigest> = Layer.succeed(
  ChainDigest,
  fromSync(
    typeof crypto.hash === "function"
      ? (data) => crypto.hash("sha256", data, "buffer")
      : (data) => crypto.createHash("sha256").update(data).digest(),
  ),
)

const statFields = (pid: number | "self") => ProcessInfo.parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"))

const attempt = <A>(read: () => A): A | undefined => {
  try {
    return read()
  } catch {
    return undefined
  }
}

/** The facts Linux gives about this process; elsewhere only the host name and the pid. */
const nodeIdentity = (): ProcessIdentity => {
  const bootId = attempt(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim())
  const pidNamespace = attempt(() => readlinkSync("/proc/self/ns/pid"))
  const startTicks = attempt(() => statFields("self").startTicks)
  return {
    host: hostname(),
    ...(bootId !== undefined && /^[0-9a-f-]{36}$/.test(bootId) ? { bootId } : {}),
    ...(pidNamespace !== undefined && /^pid:\[\d+\]$/.test(pidNamespace) ? { pidNamespace } : {}),
    pid: process.pid,
    ...(startTicks !== undefined && Number.isSafeInteger(startTicks) ? { startTicks } : {}),
    token: crypto.randomUUID(),
  }
}

/**
 * Whether a pid of our namespace exists (`kill(pid, 0)`: only ESRCH proves it gone, EPERM means someone else's),
 * and its start time. `/proc` is read for other pids only when it is our namespace's: under `unshare --pid`
 * without a new `/proc`, `/proc/<pid>` describes the parent namespace's pid of that number.
 */
const nodeProbe =
  (ownProc: boolean) =>
  (pid: number): Effect.Effect<PidState> =>
    Effect.sync((): PidState => {
      try {
        process.kill(pid, 0)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ESRCH") return "gone"
      }
      const startTicks = ownProc ? attempt(() => statFields(pid).startTicks) : undefined
      return { startTicks: startTicks !== undefined && Number.isSafeInteger(startTicks) ? startTicks : undefined }
    })

export const lockLease: LockLease = ProcessInfo.defaultLockLease

/** This process's identity, judgment of other holders, and lease; read once, when the layer is built. */
export const makeLayerProcessInfo = (lease: LockLease = lockLease): Layer.Layer<ProcessInfo.ProcessInfo> =>
  Layer.sync(ProcessInfo.ProcessInfo, () =>
    ProcessInfo.make(nodeIdentity(), nodeProbe(attempt(() => statFields("self").pid) === process.pid), lease),
  )

export const layerProcessInfo: Layer.Layer<ProcessInfo.ProcessInfo> = makeLayerProcessInfo()

export const layerIds: Layer.Layer<IdGenerator.IdGenerator> = IdGenerator.layerFrom(() => crypto.randomUUID())

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
export const layerSegmentAppender: Layer.Layer<SegmentAppender> = Layer.succeed(SegmentAppender, {
  open: (path) =>
    Effect.map(
      Effect.acquireRelease(
        Effect.try({ try: () => openSync(path, "a"), catch: (error) => systemError("open", path, error) }),
        (fd) => Effect.sync(() => closeSync(fd)),
      ),
      (fd): ActiveSegmentFile => {
        // Made once per file, not per batch: the append path allocates nothing it can avoid.
        const writeSome = (bytes: Uint8Array, offset: number, length: number) => writeSync(fd, bytes, offset, length)
        const datasync = (done: (error: SystemError | undefined) => void) =>
          fdatasync(fd, (error) => done(error ? systemError("sync", path, error) : undefined))
        return fromBlockingWrite({
          writeSome,
          datasync,
          failed: (method, error) => systemError(method, path, error),
          truncate: (length) =>
            Effect.async<void, SystemError>((resume) =>
              ftruncate(fd, Number(length), (error) =>
                resume(error ? Effect.fail(systemError("truncate", path, error)) : Effect.void),
              ),
            ),
        })
      },
    ),
})

export { directoryCheckIntervalMillis } from "./storage/DirectoryWatch.ts"

export const layerDirectoryWatch: Layer.Layer<DirectoryWatch> = Layer.succeed(DirectoryWatch, {
  intervalMillis: directoryCheckIntervalMillis,
})

/** The batch loop's wait for the next turn: `setImmediate` runs after the poll phase's I/O callbacks. */
export const layerEventLoopTurn: Layer.Layer<EventLoopTurn> = Layer.succeed(EventLoopTurn, {
  next: Effect.async<void>((resume) => {
    setImmediate(() => resume(Effect.void))
  }),
  schedule: (run) => {
    setImmediate(run)
  },
})

/** Everything the core needs from Node besides the registry options. */
/** What `layerNode` provides. */
export type NodeServices =
  | NodeContext.NodeContext
  | Checksum
  | ChainDigest
  | ProcessInfo.ProcessInfo
  | IdGenerator.IdGenerator
  | SegmentAppender
  | DirectoryWatch
  | EventLoopTurn

export const layerNode: Layer.Layer<NodeServices> = Layer.mergeAll(
  NodeContext.layer,
  layerChecksum,
  layerChainDigest,
  layerProcessInfo,
  layerIds,
  layerSegmentAppender,
  layerDirectoryWatch,
  layerEventLoopTurn,
)

export type FileRegistryOptions = ModelRegistry.FileSystemRegistryOptions

/**
 * The registry on a data directory: `Layer.provide(layerFile({ directory }))`, then
 * `yield* ModelRegistry.ModelRegistry`.
 */
export const layerFile = (
  options: FileRegistryOptions,
): Layer.Layer<ModelRegistry.ModelRegistry, ModelRegistry.RegistryOpenError> =>
  ModelRegistry.layerFileSystem(options).pipe(Layer.provide(layerNode))

/** The Promise facade over a data directory. `close()` drains, fsyncs and releases the lock. */
export interface PostgresOptions extends ModelRegistry.PostgresRegistryOptions {
  /** `postgres://user@host:5432/database`; the password, if any, is kept redacted. */
  readonly url: string
}

/**
 * The registry in a PostgreSQL schema (`@effect/sql-pg`): `Layer.provide(layerPostgres({ url }))`. Any number of
 * servers (processes, or registries in one process) can open the same schema: they share one registry.
 */
export const layerPostgres = (
  options: PostgresOptions,
): Layer.Layer<ModelRegistry.ModelRegistry, ModelRegistry.RegistryOpenError> => {
  const { url, ...registryOptions } = options
  // Loaded on use: an app on the file WAL should not load a database driver at start-up.
  const client = Layer.unwrapEffect(
    Effect.map(
      Effect.promise(() => Promise.all([import("@effect/sql-pg/PgClient"), import("./storage/PostgresStorage.ts")])),
      ([PgClient, { PostgresNotifications }]) => {
        const pg = PgClient.layer({ url: Redacted.make(url), applicationName: "model-registry" })
        // LISTEN needs the driver's own client: it wakes the other servers within milliseconds of a commit.
        const notifications = Layer.effect(
          PostgresNotifications,
          Effect.map(PgClient.PgClient, (client) => ({ listen: (channel: string) => client.listen(channel) })),
        )
        return Layer.provideMerge(notifications, pg)
      },
    ),
  ).pipe(
    Layer.mapError(
      (error: SqlError) =>
        new StorageFailed({
          operation: "connect",
          path: `postgres:${options.schema ?? "model_registry"}`,
          reason: "Unknown",
          // The driver's message names the host and the cause, never the password.
          message: `cannot connect to PostgreSQL: ${error.message}`,
        }),
    ),
  )
  return ModelRegistry.layerPostgres(registryOptions).pipe(Layer.provide(Layer.mergeAll(client, layerIds)))
}

export const openRegistry = (options: FileRegistryOptions): Promise<PromiseRegistry> =>
  openPromiseRegistry(layerFile(options))

export * from "./index.ts"
