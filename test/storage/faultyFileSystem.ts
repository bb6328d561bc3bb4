/**
 * A FileSystem wrapper for failure tests: it forwards to a real FileSystem, and on command fails syncs, writes
 * (after writing half the buffer, like ENOSPC) or truncates, or halts: every mutating operation after the k-th
 * fails, which models a process stopped at that point (the later steps never happen).
 */
import { FileSystem } from "@effect/platform"
import { SystemError } from "@effect/platform/Error"
import { Effect, Layer } from "effect"

export interface FaultControl {
  /** Fail `sync` of files whose path contains this string. */
  failSyncOf?: string | undefined
  /** Fail `writeAll` of files whose path contains this string, after writing half of the buffer. */
  failWriteOf?: string | undefined
  failTruncate?: boolean
  /** When set, mutating operations are counted from 0; the one with this index and every later one fail. */
  haltAt?: number | undefined
  /** Mutating operations performed while counting, e.g. "rename snap-….tmp -> snap-…". */
  readonly log: Array<string>
}

const injected = (method: string, path: string, description: string) =>
  new SystemError({ module: "FileSystem", method, reason: "Unknown", description, pathOrDescriptor: path })

const base = (path: string) => path.slice(path.lastIndexOf("/") + 1)

export const faultyFileSystem = (
  control: FaultControl,
): Layer.Layer<FileSystem.FileSystem, never, FileSystem.FileSystem> =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (fs) => {
      /** Runs a mutating operation unless halted; logs it while counting. */
      const step = <A, E, R>(
        method: string,
        label: string,
        path: string,
        effect: Effect.Effect<A, E, R>,
      ): Effect.Effect<A, E | SystemError, R> =>
        Effect.suspend((): Effect.Effect<A, E | SystemError, R> => {
          if (control.haltAt === undefined) return effect
          if (control.log.length >= control.haltAt) return Effect.fail(injected(method, path, "halted"))
          control.log.push(label)
          return effect
        })
      const wrap = (file: FileSystem.File, path: string): FileSystem.File => ({
        [FileSystem.FileTypeId]: FileSystem.FileTypeId,
        fd: file.fd,
        get stat() {
          return file.stat
        },
        seek: (offset, from) => file.seek(offset, from),
        read: (buffer) => file.read(buffer),
        readAlloc: (size) => file.readAlloc(size),
        write: (buffer) => file.write(buffer),
        get sync() {
          return step(
            "sync",
            `sync ${base(path)}`,
            path,
            Effect.suspend(() =>
              control.failSyncOf !== undefined && path.includes(control.failSyncOf)
                ? Effect.fail(injected("sync", path, "injected EIO"))
                : file.sync,
            ),
          )
        },
        writeAll: (buffer) =>
          step(
            "writeAll",
            `write ${base(path)}`,
            path,
            Effect.suspend(() =>
              control.failWriteOf !== undefined && path.includes(control.failWriteOf)
                ? Effect.zipRight(
                    file.writeAll(buffer.subarray(0, buffer.length >> 1)),
                    Effect.fail(injected("writeAll", path, "injected ENOSPC")),
                  )
                : file.writeAll(buffer),
            ),
          ),
        truncate: (length) =>
          step(
            "truncate",
            `truncate ${base(path)}`,
            path,
            Effect.suspend(() =>
              control.failTruncate ? Effect.fail(injected("truncate", path, "injected EIO")) : file.truncate(length),
            ),
          ),
      })
      const faulty: FileSystem.FileSystem = {
        ...fs,
        open: (path, options) =>
          options?.flag === undefined || options.flag === "r"
            ? Effect.map(fs.open(path, options), (f) => wrap(f, path))
            : Effect.map(step("open", `open ${base(path)} ${options.flag}`, path, fs.open(path, options)), (f) =>
                wrap(f, path),
              ),
        rename: (from, to) => step("rename", `rename ${base(from)} -> ${base(to)}`, from, fs.rename(from, to)),
        remove: (path, options) => step("remove", `remove ${base(path)}`, path, fs.remove(path, options)),
        writeFile: (path, data, options) =>
          step("writeFile", `writeFile ${base(path)}`, path, fs.writeFile(path, data, options)),
        makeDirectory: (path, options) =>
          step("makeDirectory", `makeDirectory ${base(path)}`, path, fs.makeDirectory(path, options)),
      }
      return faulty
    }),
  )
