/**
 * A FileSystem layer that wraps the real one (Node's) and lets a test intercept file syncs and writes:
 * count them, delay them behind a gate, or fail them. The wrapped file keeps the real one as its prototype,
 * so every method not intercepted behaves exactly as before.
 */
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Layer } from "effect"

export interface FileHooks {
  /** Runs before each file `sync` (directories included); a failure replaces the sync. */
  readonly beforeSync?: (path: string) => Effect.Effect<void, PlatformError>
  /** Runs before each `write`/`writeAll`; a failure replaces the write. */
  readonly beforeWrite?: (path: string, bytes: Uint8Array) => Effect.Effect<void, PlatformError>
}

export const layerWrapped = (hooks: FileHooks): Layer.Layer<FileSystem.FileSystem> =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (fs) => ({
      ...fs,
      open: (path: string, options?: FileSystem.OpenFileOptions) =>
        Effect.map(fs.open(path, options), (file) => {
          const wrapped: FileSystem.File = Object.create(file)
          const beforeWrite = hooks.beforeWrite ?? (() => Effect.void)
          const beforeSync = hooks.beforeSync ?? (() => Effect.void)
          Object.defineProperties(wrapped, {
            sync: {
              value: Effect.zipRight(
                Effect.suspend(() => beforeSync(path)),
                file.sync,
              ),
            },
            writeAll: { value: (bytes: Uint8Array) => Effect.zipRight(beforeWrite(path, bytes), file.writeAll(bytes)) },
            write: { value: (bytes: Uint8Array) => Effect.zipRight(beforeWrite(path, bytes), file.write(bytes)) },
          })
          return wrapped
        }),
    })),
  ).pipe(Layer.provide(NodeFileSystem.layer))
