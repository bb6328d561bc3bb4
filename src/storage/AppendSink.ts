/**
 * Append-only files for observers: audit NDJSON and dead-letter files. Observers never do IO themselves (only
 * storage does, so the simulated disk sees every write); they append through this port.
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import type { StorageFailed } from "../domain/errors.ts"
import { concatBytes } from "./ByteParts.ts"
import { syncDirectory } from "./Directory.ts"
import * as FailureLatch from "./FailureLatch.ts"
import { relativeComponents } from "./RelativePath.ts"
import { DurabilityLost, fromPlatformError, io, syncIo } from "./StorageError.ts"

export interface AppendSink {
  /**
   * Appends `bytes` to the file `name` (relative, e.g. `observers/audit.dead.ndjson`; created if missing) with one
   * write and one fsync; resolves after the fsync. A failed write is truncated back so no partial line remains; a
   * failed fsync (or truncate) fails the port: every later call fails with `StorageFailed`.
   */
  readonly append: (name: string, bytes: Uint8Array) => Effect.Effect<void, StorageFailed>
  /** The whole content of `name` (empty when it does not exist). */
  readonly readAll: (name: string) => Effect.Effect<Uint8Array, StorageFailed>
}

export const AppendSink: Context.Tag<AppendSink, AppendSink> = Context.GenericTag<AppendSink>(
  "@visutility/model-registry/AppendSink",
)

const newline = 0x0a

interface OpenFile {
  readonly file: FileSystem.File
  size: number
}

/** Files under `directory`; open handles are kept until the scope closes. */
export const makeFileSystem = (options: {
  readonly directory: string
}): Effect.Effect<AppendSink, never, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const files = new Map<string, OpenFile>()
    const latch = FailureLatch.make()
    const mutex = yield* Effect.makeSemaphore(1)
    const resolve = (name: string) => path.join(options.directory, ...relativeComponents(name))

    const openFile = (file: string): Effect.Effect<OpenFile, StorageFailed | DurabilityLost> =>
      Effect.gen(function* () {
        const known = files.get(file)
        if (known !== undefined) return known
        const directory = path.dirname(file)
        if (!(yield* io("exists", directory, fs.exists(directory)))) {
          yield* io("make-directory", directory, fs.makeDirectory(directory, { recursive: true }))
          yield* syncDirectory(fs, path.dirname(directory))
        }
        const existed = yield* io("exists", file, fs.exists(file))
        const handle = yield* io("open", file, fs.open(file, { flag: "a" })).pipe(Scope.extend(scope))
        if (!existed) yield* syncDirectory(fs, directory)
        let size = Number((yield* io("stat", file, handle.stat)).size)
        if (existed && size > 0) {
          // A crash during an append can leave a torn last line (half a record, or zeros). Lines after it would be
          // unreadable, so the unfinished line is cut before anything is appended (found by the simulator).
          const bytes = yield* io("read", file, fs.readFile(file))
          const complete = bytes.lastIndexOf(newline) + 1
          if (complete < size) {
            yield* io("truncate", file, handle.truncate(complete))
            yield* syncIo("fsync", file, handle.sync)
            size = complete
          }
        }
        const opened = { file: handle, size }
        files.set(file, opened)
        return opened
      })

    const append = (name: string, bytes: Uint8Array) =>
      mutex.withPermits(1)(
        Effect.gen(function* () {
          yield* latch.check("append", name)
          const file = resolve(name)
          const open = yield* latch.guard(openFile(file))
          // The cut-back is not synced: a torn line it leaves after a crash is cut at the next open anyway.
          const cutBack = (e: PlatformError) => {
            const reported = fromPlatformError("write", file, e)
            return open.file.truncate(open.size).pipe(
              Effect.mapError((t) => new DurabilityLost({ failure: fromPlatformError("truncate", file, t), reported })),
              Effect.zipRight(Effect.fail(reported)),
            )
          }
          yield* latch.guard(
            open.file
              .writeAll(bytes)
              .pipe(Effect.catchAll(cutBack), Effect.zipRight(syncIo("fsync", file, open.file.sync))),
          )
          open.size += bytes.length
        }),
      )

    const readAll = (name: string) =>
      Effect.gen(function* () {
        yield* latch.check("read", name)
        const file = resolve(name)
        return yield* io("read", file, fs.readFile(file)).pipe(
          Effect.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.length)),
          Effect.catchIf(
            (e) => e.reason === "NotFound",
            () => Effect.succeed(new Uint8Array()),
          ),
        )
      })

    return { append, readAll }
  })

/** Appended chunks per name that outlive layers, to model restarts in tests. */
export type MemoryFiles = Map<string, Array<Uint8Array>>

export const makeMemory = (files: MemoryFiles = new Map()): AppendSink => ({
  append: (name, bytes) =>
    Effect.sync(() => {
      relativeComponents(name)
      const chunks = files.get(name) ?? []
      chunks.push(new Uint8Array(bytes)) // a copy even for a Buffer, whose slice() is a view
      files.set(name, chunks)
    }),
  readAll: (name) =>
    Effect.sync(() => {
      relativeComponents(name)
      return concatBytes(files.get(name) ?? [])
    }),
})

export const layerFileSystem = (options: {
  readonly directory: string
}): Layer.Layer<AppendSink, never, FileSystem.FileSystem | Path.Path> =>
  Layer.scoped(AppendSink, makeFileSystem(options))

export const layerMemory = (files: MemoryFiles = new Map()): Layer.Layer<AppendSink> =>
  Layer.sync(AppendSink, () => makeMemory(files))
