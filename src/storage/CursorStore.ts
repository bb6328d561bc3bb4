/**
 * Durable cursors for observer actors: the highest seq an observer has handled, per name. Observers never do IO
 * themselves (only storage does, so the simulated disk sees every write); they save their position through this port.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Context, Effect, Layer, Option } from "effect"
import { StorageFailed } from "../domain/errors.ts"
import { atomicReplace, syncDirectory } from "./Directory.ts"
import * as FailureLatch from "./FailureLatch.ts"
import { relativeComponents } from "./RelativePath.ts"
import { io } from "./StorageError.ts"

export interface CursorStore {
  /** The last seq saved under `name` (a relative file name such as `observers/audit.cursor`), if any. */
  readonly get: (name: string) => Effect.Effect<Option.Option<number>, StorageFailed>
  /**
   * Saves `seq` under `name` atomically: after it resolves the new value survives a crash, and a crash during it
   * leaves the old value (tmp file, fsync, rename, directory fsync). A failed fsync fails the port for good.
   */
  readonly set: (name: string, seq: number) => Effect.Effect<void, StorageFailed>
}

export const CursorStore: Context.Tag<CursorStore, CursorStore> = Context.GenericTag<CursorStore>(
  "@visutility/model-registry/CursorStore",
)

const encode = (seq: number) => new TextEncoder().encode(`${seq}\n`)

/** A seq a cursor can hold; any other is the caller's bug, thrown (a defect) by every backend alike. */
export const assertSeq = (seq: number): void => {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new Error(`cursor seq must be a non-negative integer, got ${seq}`)
}

/** Cursor files under `directory` (usually the data directory). */
export const makeFileSystem = (options: {
  readonly directory: string
}): Effect.Effect<CursorStore, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const latch = FailureLatch.make()
    const madeDirectories = new Set<string>()
    const ensureDirectory = (directory: string): Effect.Effect<void, StorageFailed> =>
      madeDirectories.has(directory)
        ? Effect.void
        : Effect.gen(function* () {
            const existed = yield* io("exists", directory, fs.exists(directory))
            if (!existed) {
              yield* io("make-directory", directory, fs.makeDirectory(directory, { recursive: true }))
              yield* latch.guard(syncDirectory(fs, path.dirname(directory)))
            }
            madeDirectories.add(directory)
          })
    const resolve = (name: string) => path.join(options.directory, ...relativeComponents(name))
    return {
      get: (name) =>
        Effect.gen(function* () {
          yield* latch.check("cursor-get", name)
          const file = resolve(name)
          const text = yield* io("read", file, fs.readFileString(file)).pipe(
            Effect.map(Option.some),
            Effect.catchIf(
              (e) => e.reason === "NotFound",
              () => Effect.succeed(Option.none<string>()),
            ),
          )
          if (Option.isNone(text)) return Option.none()
          if (!/^\d+\n$/.test(text.value))
            return yield* new StorageFailed({
              operation: "cursor-get",
              path: file,
              reason: "InvalidData",
              message: `cursor file ${file} does not hold a seq`,
            })
          return Option.some(Number(text.value.trim()))
        }),
      set: (name, seq) =>
        Effect.gen(function* () {
          yield* latch.check("cursor-set", name)
          assertSeq(seq)
          const file = resolve(name)
          yield* ensureDirectory(path.dirname(file))
          yield* latch.guard(atomicReplace(fs, path.dirname(file), file, encode(seq)))
        }),
    }
  })

/** A store of cursors that outlives layers, to model restarts in tests. */
export type MemoryCursors = Map<string, number>

export const makeMemory = (cursors: MemoryCursors = new Map()): CursorStore => ({
  get: (name) =>
    Effect.sync(() => {
      relativeComponents(name)
      return Option.fromNullable(cursors.get(name))
    }),
  set: (name, seq) =>
    Effect.sync(() => {
      relativeComponents(name)
      assertSeq(seq)
      cursors.set(name, seq)
    }),
})

export const layerFileSystem = (options: {
  readonly directory: string
}): Layer.Layer<CursorStore, never, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(CursorStore, makeFileSystem(options))

export const layerMemory = (cursors: MemoryCursors = new Map()): Layer.Layer<CursorStore> =>
  Layer.sync(CursorStore, () => makeMemory(cursors))
