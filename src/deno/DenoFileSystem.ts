/**
 * `@effect/platform`'s `FileSystem` on Deno's own file APIs, so the registry's file storage runs on Deno without its
 * Node compatibility layer. Written by hand because no library does it: `@effect/platform-deno` does not exist on
 * npm, and `@effect/platform-node`'s file system is built on `node:fs`. `FileSystem.make` derives `exists`,
 * `readFileString`, `stream`, `sink` and `writeFileString` from these methods. Errors carry the same closed
 * reasons as @effect/platform-node's, and keep Deno's error (with its errno `code`) as the cause, from which
 * src/storage/StorageError.ts tells a full disk apart.
 */
import { SystemError, SystemErrorReason } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Layer, Option, Stream } from "effect"
import { type DenoFileInfo, type DenoFsFile, type DenoOpenOptions, deno } from "./denoTypes.ts"

/** The platform's reasons, which Deno's error classes are named after. */
const reasons: ReadonlyArray<string> = SystemErrorReason.literals

/** Deno names its error classes after the same kinds; the ones Node reports as EISDIR/ENOTDIR/ELOOP are `BadResource` there. */
const reasonOf = (error: unknown): SystemErrorReason => {
  const name = (error as { readonly name?: unknown } | undefined)?.name
  if (typeof name !== "string") return "Unknown"
  if (name === "IsADirectory" || name === "NotADirectory" || name === "FilesystemLoop") return "BadResource"
  return reasons.includes(name) ? (name as SystemErrorReason) : "Unknown"
}

/** A Deno error as the platform's `SystemError`; exported for the segment appender, which calls Deno directly. */
export const systemError = (method: string, pathOrDescriptor: string | number, error: unknown): SystemError =>
  new SystemError({
    reason: reasonOf(error),
    module: "FileSystem",
    method,
    pathOrDescriptor,
    description: error instanceof Error ? error.message : String(error),
    cause: error,
  })

const call = <A>(method: string, path: string, run: () => Promise<A>): Effect.Effect<A, SystemError> =>
  Effect.tryPromise({ try: run, catch: (error) => systemError(method, path, error) })

const fileInfo = (info: DenoFileInfo): FileSystem.File.Info => ({
  type: info.isFile
    ? "File"
    : info.isDirectory
      ? "Directory"
      : info.isSymlink
        ? "SymbolicLink"
        : info.isBlockDevice
          ? "BlockDevice"
          : info.isCharDevice
            ? "CharacterDevice"
            : info.isFifo
              ? "FIFO"
              : info.isSocket
                ? "Socket"
                : "Unknown",
  mtime: Option.fromNullable(info.mtime),
  atime: Option.fromNullable(info.atime),
  birthtime: Option.fromNullable(info.birthtime),
  dev: info.dev,
  rdev: Option.fromNullable(info.rdev),
  ino: Option.fromNullable(info.ino),
  mode: info.mode ?? 0,
  nlink: Option.fromNullable(info.nlink),
  uid: Option.fromNullable(info.uid),
  gid: Option.fromNullable(info.gid),
  size: FileSystem.Size(info.size),
  blksize: Option.map(Option.fromNullable(info.blksize), FileSystem.Size),
  blocks: Option.fromNullable(info.blocks),
})

/** Node's `fs.open` flags as Deno's open options. */
const openOptions = (flag: FileSystem.OpenFlag, mode: number | undefined): DenoOpenOptions => {
  const exclusive = flag.includes("x")
  const plus = flag.endsWith("+")
  const base: DenoOpenOptions = mode === undefined ? {} : { mode }
  switch (flag[0]) {
    case "w":
      return {
        ...base,
        write: true,
        read: plus,
        truncate: true,
        ...(exclusive ? { createNew: true } : { create: true }),
      }
    case "a":
      return { ...base, append: true, read: plus, ...(exclusive ? { createNew: true } : { create: true }) }
    default:
      return { ...base, read: true, write: plus }
  }
}

const seekStart = 0
const seekCurrent = 1

let nextDescriptor = 1

/**
 * A handle on a Deno file. Deno's file keeps its own offset, which serves as the platform's position: reads and
 * writes are serialized so a `seek` and the call after it see one offset.
 */
const makeFile = (file: DenoFsFile, path: string, append: boolean): FileSystem.File => {
  const fd = FileSystem.FileDescriptor(nextDescriptor++)
  const lock = Effect.unsafeMakeSemaphore(1).withPermits(1)
  const writeAllFrom = (buffer: Uint8Array): Effect.Effect<void, SystemError> =>
    Effect.flatMap(
      call("writeAll", path, () => file.write(buffer)),
      (written) => {
        if (written === 0)
          return Effect.fail(
            new SystemError({
              module: "FileSystem",
              method: "writeAll",
              reason: "WriteZero",
              pathOrDescriptor: path,
              description: "write returned 0 bytes written",
            }),
          )
        return written < buffer.length ? writeAllFrom(buffer.subarray(written)) : Effect.void
      },
    )
  return {
    [FileSystem.FileTypeId]: FileSystem.FileTypeId,
    fd,
    stat: Effect.map(
      call("stat", path, () => file.stat()),
      fileInfo,
    ),
    // The platform's seek cannot fail; a seek Deno refuses (a negative offset) is a caller's defect.
    seek: (offset, from) =>
      lock(Effect.orDie(call("seek", path, () => file.seek(offset, from === "start" ? seekStart : seekCurrent)))),
    sync: call("sync", path, () => file.sync()),
    read: (buffer) =>
      lock(
        Effect.map(
          call("read", path, () => file.read(buffer)),
          (n) => FileSystem.Size(n ?? 0),
        ),
      ),
    readAlloc: (size) =>
      lock(
        Effect.suspend(() => {
          const buffer = new Uint8Array(Number(size))
          return Effect.map(
            call("readAlloc", path, () => file.read(buffer)),
            (n) =>
              n === null || n === 0 ? Option.none() : Option.some(n === buffer.length ? buffer : buffer.slice(0, n)),
          )
        }),
      ),
    truncate: (length) =>
      lock(
        call("truncate", path, async () => {
          const size = length === undefined ? 0 : Number(length)
          await file.truncate(size)
          // Like Node's handle: a position past the new end moves back to it (appends always go to the end).
          if (!append && (await file.seek(0, seekCurrent)) > size) await file.seek(size, seekStart)
        }),
      ),
    write: (buffer) =>
      lock(
        Effect.map(
          call("write", path, () => file.write(buffer)),
          FileSystem.Size,
        ),
      ),
    writeAll: (buffer) => lock(writeAllFrom(buffer)),
  }
}

const open = (path: string, options?: FileSystem.OpenFileOptions) => {
  const flag = options?.flag ?? "r"
  return Effect.map(
    Effect.acquireRelease(
      call("open", path, () => deno().open(path, openOptions(flag, options?.mode))),
      (file) => Effect.sync(() => file.close()),
    ),
    (file) => makeFile(file, path, flag.startsWith("a")),
  )
}

const remove = (path: string, options?: FileSystem.RemoveOptions) =>
  call("remove", path, () => deno().remove(path, { recursive: options?.recursive ?? false })).pipe(
    Effect.catchIf(
      (error) => options?.force === true && error.reason === "NotFound",
      () => Effect.void,
    ),
  )

const makeTempDirectory = (options?: FileSystem.MakeTempDirectoryOptions) =>
  call("makeTempDirectory", options?.directory ?? "", () =>
    deno().makeTempDir({
      ...(options?.directory === undefined ? {} : { dir: options.directory }),
      ...(options?.prefix === undefined ? {} : { prefix: options.prefix }),
    }),
  )

const makeTempFile = (options?: FileSystem.MakeTempFileOptions) =>
  call("makeTempFile", options?.directory ?? "", () =>
    deno().makeTempFile({
      ...(options?.directory === undefined ? {} : { dir: options.directory }),
      ...(options?.prefix === undefined ? {} : { prefix: options.prefix }),
      ...(options?.suffix === undefined ? {} : { suffix: options.suffix }),
    }),
  )

/** A file or a directory tree, like Node's `fs.cp` with `recursive: true`. */
const copyTree = async (from: string, to: string, overwrite: boolean): Promise<void> => {
  const runtime = deno()
  const info = await runtime.stat(from)
  if (!info.isDirectory) {
    if (!overwrite) {
      const exists = await runtime.lstat(to).then(
        () => true,
        (error: unknown) => (error instanceof runtime.errors.NotFound ? false : Promise.reject(error)),
      )
      if (exists) return
    }
    return runtime.copyFile(from, to)
  }
  await runtime.mkdir(to, { recursive: true })
  for await (const entry of runtime.readDir(from))
    await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`, overwrite)
}

const readDirectoryNames = async (path: string, recursive: boolean): Promise<Array<string>> => {
  const names: Array<string> = []
  for await (const entry of deno().readDir(path)) {
    names.push(entry.name)
    if (recursive && entry.isDirectory)
      for (const inner of await readDirectoryNames(`${path}/${entry.name}`, true)) names.push(`${entry.name}/${inner}`)
  }
  return names
}

const watchEvent = (kind: string, path: string): FileSystem.WatchEvent | undefined => {
  switch (kind) {
    case "create":
      return FileSystem.WatchEventCreate({ path })
    case "modify":
      return FileSystem.WatchEventUpdate({ path })
    case "remove":
      return FileSystem.WatchEventRemove({ path })
    default:
      return undefined
  }
}

export const make: FileSystem.FileSystem = FileSystem.make({
  // Deno has no `access`: a stat proves existence; permissions are found out by the call that needs them.
  access: (path) => Effect.asVoid(call("access", path, () => deno().stat(path))),
  copy: (from, to, options) => call("copy", from, () => copyTree(from, to, options?.overwrite ?? false)),
  copyFile: (from, to) => call("copyFile", from, () => deno().copyFile(from, to)),
  chmod: (path, mode) => call("chmod", path, () => deno().chmod(path, mode)),
  chown: (path, uid, gid) => call("chown", path, () => deno().chown(path, uid, gid)),
  link: (from, to) => call("link", from, () => deno().link(from, to)),
  makeDirectory: (path, options) =>
    call("makeDirectory", path, () =>
      deno().mkdir(path, {
        recursive: options?.recursive ?? false,
        ...(options?.mode === undefined ? {} : { mode: options.mode }),
      }),
    ),
  makeTempDirectory,
  makeTempDirectoryScoped: (options) =>
    Effect.acquireRelease(makeTempDirectory(options), (directory) =>
      Effect.orDie(remove(directory, { recursive: true })),
    ),
  makeTempFile,
  makeTempFileScoped: (options) =>
    Effect.acquireRelease(makeTempFile(options), (file) => Effect.orDie(remove(file, { force: true }))),
  open,
  readDirectory: (path, options) =>
    call("readDirectory", path, () => readDirectoryNames(path, options?.recursive ?? false)),
  readFile: (path) => call("readFile", path, () => deno().readFile(path)),
  readLink: (path) => call("readLink", path, () => deno().readLink(path)),
  realPath: (path) => call("realPath", path, () => deno().realPath(path)),
  remove,
  rename: (from, to) => call("rename", from, () => deno().rename(from, to)),
  stat: (path) =>
    Effect.map(
      call("stat", path, () => deno().stat(path)),
      fileInfo,
    ),
  symlink: (from, to) => call("symlink", from, () => deno().symlink(from, to)),
  truncate: (path, length) =>
    call("truncate", path, () => deno().truncate(path, length === undefined ? undefined : Number(length))),
  utimes: (path, atime, mtime) => call("utimes", path, () => deno().utime(path, atime, mtime)),
  watch: (path, options) =>
    Stream.unwrapScoped(
      Effect.map(
        Effect.acquireRelease(
          Effect.try({
            try: () => deno().watchFs(path, { recursive: options?.recursive ?? false }),
            catch: (error) => systemError("watch", path, error),
          }),
          (watcher) => Effect.sync(() => watcher.close()),
        ),
        (watcher) =>
          Stream.fromAsyncIterable(watcher, (error) => systemError("watch", path, error)).pipe(
            Stream.mapConcat((event) =>
              event.paths.flatMap((changed) => {
                const mapped = watchEvent(event.kind, changed)
                return mapped === undefined ? [] : [mapped]
              }),
            ),
          ),
      ),
    ),
  writeFile: (path, data, options) => {
    const flag = options?.flag ?? "w"
    const exclusive = flag.includes("x")
    return call("writeFile", path, () =>
      deno().writeFile(path, data, {
        append: flag.startsWith("a"),
        ...(exclusive ? { createNew: true } : { create: true }),
        ...(options?.mode === undefined ? {} : { mode: options.mode }),
      }),
    )
  },
})

export const layer: Layer.Layer<FileSystem.FileSystem> = Layer.succeed(FileSystem.FileSystem, make)
