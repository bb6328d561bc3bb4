/**
 * Shared plumbing for the storage suites: a "data directory" abstraction with a file-backed variant (real temp
 * directories through NodeFileSystem, which also runs under Deno) and a memory-backed one, plus record helpers.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Chunk, Context, Effect, Layer, type Scope, Stream } from "effect"
import { layerFileSystem, type OpenError } from "../../src/storage/FileStorage.ts"
import type { StorageLimits } from "../../src/storage/Limits.ts"
import { layerMemory, makeMemoryStore } from "../../src/storage/MemoryStorage.ts"
import { makeSingleNamespace, ProcessInfo } from "../../src/storage/ProcessInfo.ts"
import { SnapshotStore } from "../../src/storage/SnapshotStore.ts"
import { Wal, type WalRecord } from "../../src/storage/Wal.ts"

export const testPid = 4242

/** This "process" (pid `self`) is alive; every other pid is dead unless listed. */
export const processInfo = (alive: ReadonlyArray<number> = [], self = testPid) =>
  Layer.succeed(
    ProcessInfo,
    makeSingleNamespace(self, (pid) => alive.includes(pid)),
  )

export interface Ports {
  readonly wal: Wal
  readonly snapshots: SnapshotStore
}

/** One data directory that can be opened, closed and reopened. */
export interface DataDir {
  readonly open: (limits?: Partial<StorageLimits>) => Layer.Layer<Wal | SnapshotStore, OpenError>
}

export interface Backend {
  readonly name: string
  /** A fresh, empty data directory, deleted when the scope closes. */
  readonly fresh: Effect.Effect<DataDir, never, Scope.Scope>
  /** Several opens of one store share it (PostgreSQL) instead of the second being refused with `DirectoryLocked`. */
  readonly shared?: boolean
}

/** The NodeFileSystem layer with a test ProcessInfo; exposed for suites that wrap the file system. */
export const nodeLayer = Layer.merge(NodeContext.layer, processInfo())

export const fileBackend: Backend = {
  name: "file",
  fresh: Effect.gen(function* () {
    const directory = yield* makeTempDirectory
    return { open: (limits = {}) => layerFileSystem({ directory, ...limits }).pipe(Layer.provide(nodeLayer)) }
  }),
}

/** A temp directory on the real disk, removed when the scope closes. */
export const makeTempDirectory: Effect.Effect<string, never, Scope.Scope> = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  return yield* Effect.orDie(fs.makeTempDirectoryScoped({ prefix: "wal-test-" }))
}).pipe(Effect.provide(NodeContext.layer))

export const memoryBackend: Backend = {
  name: "memory",
  fresh: Effect.sync(() => {
    const store = makeMemoryStore()
    return { open: (limits = {}) => layerMemory(store, limits) }
  }),
}

/** Runs `f` with the ports of an opened layer; closes it (and releases the lock) afterwards. */
export const withPorts = <A, E, E2>(
  layer: Layer.Layer<Wal | SnapshotStore, E>,
  f: (ports: Ports) => Effect.Effect<A, E2>,
): Effect.Effect<A, E | E2> =>
  Effect.scoped(
    Effect.flatMap(Layer.build(layer), (ctx) =>
      f({ wal: Context.get(ctx, Wal), snapshots: Context.get(ctx, SnapshotStore) }),
    ),
  )

/** Every file in the directory with its bytes, to prove a refused open touched nothing. */
export const listing = (directory: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const names = (yield* fs.readDirectory(directory)).sort()
    return yield* Effect.forEach(names, (name) =>
      Effect.map(fs.readFile(`${directory}/${name}`), (b) => [name, Array.from(b)] as const),
    )
  })

export const collect = <E>(stream: Stream.Stream<WalRecord, E>): Effect.Effect<Array<WalRecord>, E> =>
  Effect.map(Stream.runCollect(stream), Chunk.toArray)

const utf8 = new TextEncoder()

/** A record whose payload names its seq, so mix-ups are visible. */
export const record = (seq: number, text = `event ${seq}`, type = 1): WalRecord => ({
  seq,
  type,
  payload: utf8.encode(text),
})

export const records = (from: number, count: number): Array<WalRecord> =>
  Array.from({ length: count }, (_, i) => record(from + i))

/** Plain-object form for equality checks (payloads as plain arrays). */
export const plain = (rs: ReadonlyArray<WalRecord>) =>
  rs.map((r) => ({ seq: r.seq, type: r.type, payload: Array.from(r.payload) }))
