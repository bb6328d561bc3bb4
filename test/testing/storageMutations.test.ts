/**
 * Each storage mutation changes exactly the disk behaviour it names, on the simulated disk, and nothing when the
 * trigger is absent. (That the simulator catches each one is test/simulation/storageMutations.test.ts.)
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { segmentFileName, snapshotFileName } from "../../src/storage/FileNames.ts"
import { makeSimulatedDisk } from "../../src/testing/SimulatedFileSystem.ts"
import * as StorageMutations from "../../src/testing/storageMutations.ts"
import { imageFile, put, syncDir } from "./helpers.ts"

const mutated = (mutation: StorageMutations.StorageMutation) => {
  const disk = makeSimulatedDisk()
  const layer = Layer.succeed(FileSystem.FileSystem, StorageMutations.apply(mutation, disk.fileSystem))
  return { disk, run: <A, E>(effect: Effect.Effect<A, E, FileSystem.FileSystem>) => Effect.provide(effect, layer) }
}

const makeDirectory = (path: string) => Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeDirectory(path))
const rename = (from: string, to: string) => Effect.flatMap(FileSystem.FileSystem, (fs) => fs.rename(from, to))

describe("storage mutations", () => {
  it.effect("skipDirectorySyncAfterRename: the directory sync after a rename makes nothing durable", () =>
    Effect.gen(function* () {
      const { disk, run } = mutated("skipDirectorySyncAfterRename")
      yield* run(makeDirectory("/d"))
      yield* run(syncDir("/"))
      yield* run(put("/d/a.tmp", "x", { sync: true }))
      yield* run(rename("/d/a.tmp", "/d/a"))
      yield* run(syncDir("/d"))
      expect(imageFile(disk, "/d/a", "durable")).toBeUndefined()
      // The next sync, with no rename before it, works again.
      yield* run(syncDir("/d"))
      expect(imageFile(disk, "/d/a", "durable")).toBeDefined()
    }),
  )

  it.effect("compactionDeletesUnsnapshottedSegments: publishing a snapshot deletes every sealed segment", () =>
    Effect.gen(function* () {
      const { run } = mutated("compactionDeletesUnsnapshottedSegments")
      for (const name of [segmentFileName(1), segmentFileName(5), "other"]) yield* run(put(`/${name}`, "x"))
      yield* run(put("/snap.tmp", "s"))
      yield* run(rename("/snap.tmp", `/${snapshotFileName(4)}`))
      const names = yield* run(Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readDirectory("/")))
      expect(names.sort()).toEqual(["other", snapshotFileName(4), segmentFileName(5)])
    }),
  )

  it.effect("tornTailNotTruncated: a segment opened for repair ignores truncate; appends still truncate", () =>
    Effect.gen(function* () {
      const { disk, run } = mutated("tornTailNotTruncated")
      const segment = `/${segmentFileName(1)}`
      yield* run(put(segment, "abcdef"))
      const truncate = (flag: FileSystem.OpenFlag) =>
        run(
          Effect.scoped(
            Effect.flatMap(FileSystem.FileSystem, (fs) =>
              Effect.flatMap(fs.open(segment, { flag }), (file) => file.truncate(3)),
            ),
          ),
        )
      yield* truncate("r+")
      expect(imageFile(disk, segment)?.length).toBe(6)
      yield* truncate("a")
      expect(imageFile(disk, segment)?.length).toBe(3)
    }),
  )
})
