/**
 * The Deno storage backends as the storage suites' `Backend`s: the file storage over Deno's own file system (the
 * Deno composition's services), and the Deno KV log over a fresh database file per `fresh`. Deno only.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Context, Effect, Layer, type Scope } from "effect"
import * as DenoFileSystem from "../../src/deno/DenoFileSystem.ts"
import { type DenoKv, denoKv } from "../../src/deno/denoTypes.ts"
import * as KvStorage from "../../src/deno/KvStorage.ts"
import { layerDeno } from "../../src/deno.ts"
import { layerFileSystem } from "../../src/storage/FileStorage.ts"
import { SnapshotStore } from "../../src/storage/SnapshotStore.ts"
import { Wal } from "../../src/storage/Wal.ts"
import type { Backend } from "../storage/harness.ts"

/** A temp directory made and removed through the Deno file system. */
export const denoTempDirectory: Effect.Effect<string, never, Scope.Scope> = Effect.orDie(
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "deno-test-" })),
).pipe(Effect.provide(DenoFileSystem.layer))

export const denoFileBackend: Backend = {
  name: "deno file",
  fresh: Effect.map(denoTempDirectory, (directory) => ({
    open: (limits = {}) => layerFileSystem({ directory, ...limits }).pipe(Layer.provide(layerDeno)),
  })),
}

/** Opens the KV database at `path` for the scope. */
export const openKv = (path: string): Effect.Effect<DenoKv, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => denoKv()!.openKv(path)),
    (kv) => Effect.sync(() => kv.close()),
  )

export const denoKvBackend: Backend = {
  name: "deno kv",
  fresh: Effect.map(denoTempDirectory, (directory) => {
    const path = `${directory}/registry.kv`
    return {
      // Each open opens the database anew, as a restarted process would.
      open: (limits = {}) =>
        Layer.scopedContext(
          Effect.gen(function* () {
            const kv = yield* openKv(path)
            const storage = yield* KvStorage.make({ kv, location: `deno-kv:${path}` }, limits)
            return Context.make(Wal, storage.wal).pipe(Context.add(SnapshotStore, storage.snapshots))
          }),
        ),
    }
  }),
}
