/**
 * The data directory lock on real files: a live holder (another pid) is refused with its pid, a dead holder's
 * stale lock is taken over, an unreadable lock is treated as held, and close releases the lock.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Layer } from "effect"
import { layerFileSystem } from "../../src/storage/FileStorage.ts"
import { makeTempDirectory, processInfo, records, testPid, withPorts } from "./harness.ts"

const openAs = (directory: string, alive: ReadonlyArray<number>) =>
  layerFileSystem({ directory }).pipe(Layer.provide(Layer.merge(NodeContext.layer, processInfo(alive))))

const openFailure = (directory: string, alive: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const exit = yield* withPorts(openAs(directory, alive), () => Effect.void).pipe(Effect.exit)
    if (Exit.isSuccess(exit)) throw new Error("expected open to fail")
    return Cause.squash(exit.cause)
  })

layer(NodeContext.layer)("directory lock (real files)", (it) => {
  it.scoped("holds the lock with our pid while open and removes it on close", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* withPorts(openAs(directory, []), () =>
        Effect.gen(function* () {
          expect(yield* fs.readFileString(`${directory}/LOCK`)).toBe(`${testPid}\n`)
        }),
      )
      expect(yield* fs.exists(`${directory}/LOCK`)).toBe(false)
    }),
  )

  it.scoped("a lock held by another live process is refused with its pid and left alone", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* fs.writeFileString(`${directory}/LOCK`, "777\n")
      expect(yield* openFailure(directory, [777])).toMatchObject({ _tag: "DirectoryLocked", directory, pid: 777 })
      expect(yield* fs.readFileString(`${directory}/LOCK`)).toBe("777\n")
    }),
  )

  it.scoped("a stale lock from a dead process is taken over; the data is intact", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* withPorts(openAs(directory, []), ({ wal }) => wal.append(records(1, 3)))
      yield* fs.writeFileString(`${directory}/LOCK`, "999999\n")
      yield* withPorts(openAs(directory, []), ({ wal }) =>
        Effect.gen(function* () {
          expect(yield* wal.lastSeq).toBe(3)
          expect(yield* fs.readFileString(`${directory}/LOCK`)).toBe(`${testPid}\n`)
        }),
      )
      expect((yield* fs.readDirectory(directory)).filter((n) => n.startsWith("LOCK"))).toEqual([])
    }),
  )

  it.scoped("a lock file without a readable pid counts as held (pid 0)", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* fs.writeFileString(`${directory}/LOCK`, "")
      expect(yield* openFailure(directory, [])).toMatchObject({ _tag: "DirectoryLocked", directory, pid: 0 })
    }),
  )
})
