/**
 * The Deno composition root: the registry on Deno's own APIs, without its Node compatibility layer (no `node:`
 * module and nothing of `@effect/platform-node` in this module's graph; test/deno/ImportGraph.node.test.ts checks
 * it). The file registry runs the same runtime-neutral core as src/node.ts over a `FileSystem` made of Deno's file
 * calls, so a data directory moves between the two runtimes unchanged. `layerKv` puts the registry on Deno KV
 * (a local database file, or Deno Deploy's), for hosts without a writable disk.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Context, Effect, Layer } from "effect"
import * as DenoFileSystem from "./deno/DenoFileSystem.ts"
import * as DenoProcessInfo from "./deno/DenoProcessInfo.ts"
import * as DenoSegmentAppender from "./deno/DenoSegmentAppender.ts"
import { type DenoKv, type DenoKvKeyPart, denoKv } from "./deno/denoTypes.ts"
import { makeAppendSink, makeCursorStore } from "./deno/KvObserverStores.ts"
import * as KvStorage from "./deno/KvStorage.ts"
import type { DenoServer, ServeOptions } from "./deno/serve.ts"
import { StorageFailed } from "./domain/errors.ts"
import * as IdGenerator from "./effects/IdGenerator.ts"
import * as ModelRegistry from "./effects/ModelRegistry.ts"
import { openPromiseRegistry, type PromiseRegistry } from "./effects/promise.ts"
import { AppendSink } from "./storage/AppendSink.ts"
import { CursorStore } from "./storage/CursorStore.ts"
import { DirectoryWatch, directoryCheckIntervalMillis } from "./storage/DirectoryWatch.ts"
import type { StorageLimits } from "./storage/Limits.ts"
import type { ProcessInfo } from "./storage/ProcessInfo.ts"
import type { SegmentAppender } from "./storage/SegmentAppender.ts"
import { SnapshotStore } from "./storage/SnapshotStore.ts"
import { Wal } from "./storage/Wal.ts"

export const layerIds: Layer.Layer<IdGenerator.IdGenerator> = IdGenerator.layerFrom(() => crypto.randomUUID())

export const layerDirectoryWatch: Layer.Layer<DirectoryWatch> = Layer.succeed(DirectoryWatch, {
  intervalMillis: directoryCheckIntervalMillis,
})

/**
 * Everything the file registry needs from Deno. The core's own CRC-32 and SHA-256 serve here (Deno's Web Crypto
 * digest is asynchronous, and the chain is computed per record on the append path). There is no event-loop turn
 * (`EventLoopTurn`): Deno's `setImmediate` belongs to its Node compatibility layer, and without a turn the batch
 * loop takes each batch at once, as it does in the simulator.
 */
export const layerDeno: Layer.Layer<
  FileSystem.FileSystem | Path.Path | ProcessInfo | IdGenerator.IdGenerator | SegmentAppender | DirectoryWatch
> = Layer.mergeAll(
  DenoFileSystem.layer,
  Path.layer,
  DenoProcessInfo.layer,
  layerIds,
  DenoSegmentAppender.layer,
  layerDirectoryWatch,
)

export type FileRegistryOptions = ModelRegistry.FileSystemRegistryOptions

/**
 * The registry on a data directory: `Layer.provide(layerFile({ directory }))`, then
 * `yield* ModelRegistry.ModelRegistry`. Needs `--allow-read` and `--allow-write` on the directory.
 */
export const layerFile = (
  options: FileRegistryOptions,
): Layer.Layer<ModelRegistry.ModelRegistry, ModelRegistry.RegistryOpenError> =>
  ModelRegistry.layerFileSystem(options).pipe(Layer.provide(layerDeno))

export interface KvRegistryOptions extends ModelRegistry.RegistryOptions, Partial<StorageLimits> {
  /** The database `Deno.openKv(path)` opens (a file; none: Deno's default, Deno Deploy's database there). */
  readonly path?: string
  /** An open database instead of `path`; the registry leaves it open when it closes. */
  readonly kv?: DenoKv
  /** The keys of this registry start with these parts (default `["model-registry"]`): several share a database. */
  readonly prefix?: ReadonlyArray<DenoKvKeyPart>
}

/**
 * The storage of a KV registry: WAL, snapshots, observer cursors and sinks, all under `prefix` in one database.
 * One open at a time (a second fails with `DirectoryLocked` while the first renews its lock).
 */
export const layerKvStorage = (
  options: KvRegistryOptions,
): Layer.Layer<Wal | SnapshotStore | CursorStore | AppendSink, ModelRegistry.RegistryOpenError> =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const prefix = options.prefix ?? ["model-registry"]
      const location = `deno-kv:${options.path ?? (options.kv === undefined ? "default" : "given")}/${prefix.map(String).join("/")}`
      const kv =
        options.kv ??
        (yield* Effect.acquireRelease(
          Effect.tryPromise({
            try: () => {
              const runtime = denoKv()
              if (runtime === undefined) throw new Error("Deno KV is not enabled: run Deno with --unstable-kv")
              return runtime.openKv(options.path)
            },
            catch: (error) =>
              new StorageFailed({
                operation: "open",
                path: location,
                reason: "Unavailable",
                message: `cannot open ${location}: ${error instanceof Error ? error.message : String(error)}`,
              }),
          }),
          (opened) => Effect.sync(() => opened.close()),
        ))
      const { segmentBytesMax, recordBytesMax } = options
      const storage = yield* KvStorage.make(
        { kv, location, prefix },
        {
          ...(segmentBytesMax === undefined ? {} : { segmentBytesMax }),
          ...(recordBytesMax === undefined ? {} : { recordBytesMax }),
        },
      )
      return Context.make(Wal, storage.wal).pipe(
        Context.add(SnapshotStore, storage.snapshots),
        Context.add(CursorStore, makeCursorStore(kv, location, prefix)),
        Context.add(AppendSink, yield* makeAppendSink(kv, location, prefix)),
      )
    }),
  )

/** The registry on Deno KV: `Layer.provide(layerKv({ path: "./data/registry.kv" }))`. Needs `--unstable-kv`. */
export const layerKv = (
  options: KvRegistryOptions = {},
): Layer.Layer<ModelRegistry.ModelRegistry, ModelRegistry.RegistryOpenError> => {
  const { path: _path, kv: _kv, prefix: _prefix, segmentBytesMax: _s, recordBytesMax: _r, ...registryOptions } = options
  return ModelRegistry.layer(registryOptions).pipe(Layer.provide(Layer.merge(layerKvStorage(options), layerIds)))
}

/**
 * Serves the HTTP API on `Deno.serve` over a registry layer: `await serve({ port: 8080 }, layerFile({ directory }))`.
 * The HTTP stack is loaded on this call, so an app that only embeds the registry never loads it.
 */
export const serve = async <E>(
  options: ServeOptions,
  registry: Layer.Layer<ModelRegistry.ModelRegistry, E>,
): Promise<DenoServer> => (await import("./deno/serve.ts")).serve(options, registry)

/** The Promise facade over a data directory. `close()` drains, fsyncs and releases the lock. */
export const openRegistry = (options: FileRegistryOptions): Promise<PromiseRegistry> =>
  openPromiseRegistry(layerFile(options))

export type { DenoServer, ServeOptions } from "./deno/serve.ts"
export * from "./index.ts"
