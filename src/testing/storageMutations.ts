/**
 * The seed's storage bugs, re-introduced one at a time as decorators of the `FileSystem` the storage runs on, so
 * the simulator can prove it catches each while production code carries no test switch. Each decorator changes
 * what the disk does at the moment the correct code relies on it.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Layer } from "effect"
import { parseSegmentFileName, parseSnapshotFileName } from "../storage/FileNames.ts"

export type StorageMutation =
  /** Create and rename files without fsyncing their directory: a new segment or snapshot can vanish on a crash. */
  | "skipDirectorySyncAfterRename"
  /** When a snapshot is published, delete every sealed segment, even the records it does not cover. */
  | "compactionDeletesUnsnapshottedSegments"
  /** Recovery's cut of a torn tail does nothing, so later appends land after the garbage. */
  | "tornTailNotTruncated"

const directoryOf = (path: string) => path.slice(0, Math.max(path.lastIndexOf("/"), 0)) || "/"
const nameOf = (path: string) => path.slice(path.lastIndexOf("/") + 1)

/** A file like `file` but with some methods replaced (the rest still reach the original through the prototype). */
const withMethods = (file: FileSystem.File, methods: Partial<Record<"sync" | "truncate", unknown>>) => {
  const wrapped: FileSystem.File = Object.create(file)
  for (const [name, value] of Object.entries(methods)) Object.defineProperty(wrapped, name, { value })
  return wrapped
}

const skipDirectorySyncAfterRename = (fs: FileSystem.FileSystem): FileSystem.FileSystem => {
  const renamedIn = new Set<string>()
  return {
    ...fs,
    rename: (from, to) => Effect.tap(fs.rename(from, to), () => Effect.sync(() => renamedIn.add(directoryOf(to)))),
    open: (path, options) =>
      Effect.map(fs.open(path, options), (file) =>
        options?.flag === "r" && renamedIn.delete(path) ? withMethods(file, { sync: Effect.void }) : file,
      ),
  }
}

const compactionDeletesUnsnapshottedSegments = (fs: FileSystem.FileSystem): FileSystem.FileSystem => ({
  ...fs,
  rename: (from, to) =>
    Effect.tap(fs.rename(from, to), () => {
      if (parseSnapshotFileName(nameOf(to)) === undefined) return Effect.void
      const directory = directoryOf(to)
      return Effect.flatMap(fs.readDirectory(directory), (names) => {
        const segments = names.filter((n) => parseSegmentFileName(n) !== undefined).sort()
        return Effect.forEach(segments.slice(0, -1), (n) => fs.remove(`${directory}/${n}`), { discard: true })
      })
    }),
})

const tornTailNotTruncated = (fs: FileSystem.FileSystem): FileSystem.FileSystem => ({
  ...fs,
  // Only recovery's repair opens a segment "r+"; appends and their cut-backs use "a".
  open: (path, options) =>
    Effect.map(fs.open(path, options), (file) =>
      options?.flag === "r+" && parseSegmentFileName(nameOf(path)) !== undefined
        ? withMethods(file, { truncate: () => Effect.void })
        : file,
    ),
})

const decorators: Record<StorageMutation, (fs: FileSystem.FileSystem) => FileSystem.FileSystem> = {
  skipDirectorySyncAfterRename,
  compactionDeletesUnsnapshottedSegments,
  tornTailNotTruncated,
}

/** The file system `fs` with `mutation` re-introduced. */
export const apply = (mutation: StorageMutation, fs: FileSystem.FileSystem): FileSystem.FileSystem =>
  decorators[mutation](fs)

/** Decorates the `FileSystem` a layer provides: `StorageMutations.layer(name).pipe(Layer.provide(disk))`. */
export const layer = (mutation: StorageMutation): Layer.Layer<FileSystem.FileSystem, never, FileSystem.FileSystem> =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (fs) => apply(mutation, fs)),
  )
