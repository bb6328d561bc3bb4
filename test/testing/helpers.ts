/** Small effects shared by the simulated-disk suites: write, append, fsync a file or a directory. */
import { FileSystem } from "@effect/platform"
import { Effect } from "effect"
import type { SimulatedDisk } from "../../src/testing/index.ts"

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
export const text = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Opens with `flag`, writes with writeAll, optionally fsyncs the file, closes. */
export const put = (
  path: string,
  data: Uint8Array | string,
  opts: { flag?: FileSystem.OpenFlag; sync?: boolean } = {},
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const file = yield* fs.open(path, { flag: opts.flag ?? "a" })
      yield* file.writeAll(typeof data === "string" ? bytes(data) : data)
      if (opts.sync) yield* file.sync
    }),
  )

/** fsync of a directory, as the storage layer does it. */
export const syncDir = (path: string) =>
  Effect.scoped(
    Effect.flatMap(FileSystem.FileSystem, (fs) => Effect.flatMap(fs.open(path, { flag: "r" }), (d) => d.sync)),
  )

/** The file's bytes as the disk's durable/volatile image has them, or undefined if the path is absent. */
export const imageFile = (disk: SimulatedDisk, path: string, which: "durable" | "volatile" = "volatile") =>
  (which === "durable" ? disk.durableImage() : disk.volatileImage()).files.find(([p]) => p === path)?.[1]

/** Runs an effect on the disk's FileSystem. */
export const on = <A, E>(disk: SimulatedDisk, effect: Effect.Effect<A, E, FileSystem.FileSystem>) =>
  Effect.provide(effect, disk.layer)
