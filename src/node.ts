/**
 * The Node composition root: the registry on the real file system, with Node's fast primitives plugged into
 * the runtime-neutral core (zlib's CRC-32, crypto's UUIDs, process liveness for stale-lock detection).
 * Everything runtime-specific lives here, not in the core.
 */

import { randomUUID } from "node:crypto"
import { crc32 as zlibCrc32 } from "node:zlib"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as IdGenerator from "./effects/IdGenerator.ts"
import * as ModelRegistry from "./effects/ModelRegistry.ts"
import { openPromiseRegistry, type PromiseRegistry } from "./effects/promise.ts"
import { Checksum, makeCrc32 } from "./storage/Checksum.ts"
import { ProcessInfo } from "./storage/ProcessInfo.ts"

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

/** Everything the core needs from Node besides the registry options. */
export const layerNode = Layer.mergeAll(NodeContext.layer, layerChecksum, layerProcessInfo, layerIds)

export type FileRegistryOptions = ModelRegistry.FileSystemRegistryOptions

/** The registry on a data directory: `Layer.provide(layerFile({ directory }))`, then `yield* ModelRegistry`. */
export const layerFile = (options: FileRegistryOptions) =>
  ModelRegistry.layerFileSystem(options).pipe(Layer.provide(layerNode))

/** The Promise facade over a data directory. `close()` drains, fsyncs and releases the lock. */
export const openRegistry = (options: FileRegistryOptions): Promise<PromiseRegistry> =>
  openPromiseRegistry(layerFile(options))

export * from "./index.ts"
