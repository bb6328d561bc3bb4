/**
 * Crash semantics of the simulated disk: what survives each crash variant, exactly as documented on
 * `CrashVariant`, for file data and for directory entries.
 */
import { FileSystem } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { crashVariants, errorCode, makeSimulatedDisk, type SimulatedDisk } from "../../src/testing/index.ts"
import { bytes, imageFile, on, put, syncDir, text } from "./helpers.ts"

const exists = (disk: SimulatedDisk, path: string) =>
  on(
    disk,
    Effect.flatMap(FileSystem.FileSystem, (fs) => fs.exists(path)),
  )
const read = (disk: SimulatedDisk, path: string) =>
  on(
    disk,
    Effect.map(
      Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFile(path)),
      text,
    ),
  )

/** A disk with a durable /d/f = "hello": data fsynced, and both / and /d fsynced. */
const durableHello = () =>
  Effect.gen(function* () {
    const disk = makeSimulatedDisk({ seed: 7 })
    yield* on(
      disk,
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        yield* fs.makeDirectory("/d")
        yield* syncDir("/")
        yield* put("/d/f", "hello", { sync: true })
        yield* syncDir("/d")
      }),
    )
    return disk
  })

const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])

type Tear = "none" | "partial" | "zero"

/**
 * Which documented torn outcome `r` is, for a file whose durable image is `full[0, starts[0])` and whose only
 * unsynced operation appended the rest of `full`, cut into pieces [starts[i], ends[i]). Undefined if none.
 */
const classifyTorn = (r: Uint8Array, full: Uint8Array, starts: ReadonlyArray<number>, ends: ReadonlyArray<number>) => {
  for (let n = ends.length; n >= 0; n--) {
    const end = n === 0 ? starts[0]! : ends[n - 1]!
    if (r.length < end || !equalBytes(r.subarray(0, end), full.subarray(0, end))) continue
    if (r.length === end) return { n, tear: "none" as Tear }
    if (n === ends.length) continue
    const rest = r.subarray(end)
    const len = ends[n]! - starts[n]!
    if (rest.length === len && rest.every((b) => b === 0)) return { n, tear: "zero" as Tear }
    if (rest.length < len && equalBytes(rest, full.subarray(end, end + rest.length)))
      return { n, tear: "partial" as Tear }
  }
  return undefined
}

describe("SimulatedFileSystem crash semantics", () => {
  it.effect("synced data under synced entries survives every crash variant", () =>
    Effect.gen(function* () {
      for (const variant of crashVariants) {
        const disk = yield* durableHello()
        disk.crash(variant)
        expect(yield* read(disk, "/d/f")).toBe("hello")
      }
    }),
  )

  it.effect("drop: unsynced data and unsynced entries are lost", () =>
    Effect.gen(function* () {
      const disk = yield* durableHello()
      yield* on(disk, put("/d/f", " world"))
      yield* on(disk, put("/d/new", "x", { sync: true }))
      expect(yield* read(disk, "/d/f")).toBe("hello world")
      const report = disk.crash("drop")
      expect(report).toMatchObject({ variant: "drop", epoch: 1, filePiecesLanded: 0, dirOpsLanded: 0 })
      expect(yield* read(disk, "/d/f")).toBe("hello")
      expect(yield* exists(disk, "/d/new")).toBe(false)
    }),
  )

  it.effect("keep: a process crash keeps every volatile byte and entry", () =>
    Effect.gen(function* () {
      const disk = yield* durableHello()
      yield* on(disk, put("/d/f", " world"))
      yield* on(disk, put("/d/new", "x"))
      const before = disk.fingerprint("volatile")
      disk.crash("keep")
      expect(yield* read(disk, "/d/f")).toBe("hello world")
      expect(yield* read(disk, "/d/new")).toBe("x")
      expect(disk.fingerprint("durable")).toBe(before)
    }),
  )

  for (const [variant, sector] of [
    ["torn512", 512],
    ["torn4096", 4096],
  ] as const) {
    it.effect(`${variant}: a seeded prefix of the unsynced ${sector} B pieces lands, the next one maybe torn`, () =>
      Effect.gen(function* () {
        const durableLength = 300
        const appended = sector === 512 ? 1500 : 9000
        const full = new Uint8Array(durableLength + appended)
        for (let i = 0; i < full.length; i++) full[i] = 1 + ((i * 37) % 255) // never 0, so a zeroed piece is visible
        const disk = makeSimulatedDisk({ seed: 11 })
        yield* on(disk, put("/f", full.subarray(0, durableLength), { sync: true }))
        yield* on(disk, syncDir("/"))
        yield* on(disk, put("/f", full.subarray(durableLength)))
        const starts: Array<number> = [durableLength]
        const ends: Array<number> = []
        for (let b = Math.ceil((durableLength + 1) / sector) * sector; b < full.length; b += sector) {
          ends.push(b)
          starts.push(b)
        }
        ends.push(full.length)
        const seen = new Set<string>()
        for (let seed = 0; seed < 400; seed++) {
          const fork = disk.fork()
          const report = fork.crash(variant, { seed })
          expect(report.filePieces).toBe(ends.length)
          const survived = imageFile(fork, "/f", "durable")!
          expect(equalBytes(imageFile(fork, "/f", "volatile")!, survived)).toBe(true)
          const outcome = classifyTorn(survived, full, starts, ends)
          expect(outcome, `seed ${seed}: length ${survived.length}`).toBeDefined()
          expect(report.filePiecesLanded).toBe(outcome!.n)
          seen.add(`${outcome!.n}:${outcome!.tear}`)
        }
        // Every count of landed pieces happens, and each way of tearing the next piece.
        for (let n = 0; n <= ends.length; n++) expect(seen.has(`${n}:none`)).toBe(true)
        for (let n = 0; n < ends.length; n++) {
          expect(seen.has(`${n}:zero`)).toBe(true)
          expect(seen.has(`${n}:partial`)).toBe(true)
        }
        // The original disk is untouched by its forks.
        expect(imageFile(disk, "/f", "volatile")!.length).toBe(full.length)
      }),
    )
  }

  it.effect("torn: unsynced directory operations land as a prefix, in issue order", () =>
    Effect.gen(function* () {
      const disk = makeSimulatedDisk({ seed: 3 })
      for (const name of ["a", "b", "c", "d"]) yield* on(disk, put(`/${name}`, name, { sync: true }))
      const seen = new Set<string>()
      for (let seed = 0; seed < 100; seed++) {
        const fork = disk.fork()
        fork.crash("torn4096", { seed })
        const names = fork.durableImage().files.map(([p]) => p.slice(1))
        expect(["", "a", "ab", "abc", "abcd"]).toContain(names.join(""))
        seen.add(names.join(""))
      }
      expect(seen.size).toBe(5)
    }),
  )

  it.effect("fsync of a new file makes its data durable but not its name; fsync of the directory does", () =>
    Effect.gen(function* () {
      const disk = yield* durableHello()
      yield* on(disk, put("/d/new", "data", { sync: true }))
      const lost = disk.fork()
      lost.crash("drop")
      expect(yield* exists(lost, "/d/new")).toBe(false)
      yield* on(disk, syncDir("/d"))
      disk.crash("drop")
      expect(yield* read(disk, "/d/new")).toBe("data")
    }),
  )

  it.effect("a rename reverts on crash until its directory is fsynced", () =>
    Effect.gen(function* () {
      const disk = yield* durableHello()
      yield* on(disk, put("/d/tmp", "new", { sync: true }))
      yield* on(disk, syncDir("/d"))
      yield* on(
        disk,
        Effect.flatMap(FileSystem.FileSystem, (fs) => fs.rename("/d/tmp", "/d/f")),
      )
      expect(yield* read(disk, "/d/f")).toBe("new")
      const reverted = disk.fork()
      reverted.crash("drop")
      expect(yield* read(reverted, "/d/f")).toBe("hello")
      expect(yield* read(reverted, "/d/tmp")).toBe("new")
      yield* on(disk, syncDir("/d"))
      disk.crash("drop")
      expect(yield* read(disk, "/d/f")).toBe("new")
      expect(yield* exists(disk, "/d/tmp")).toBe(false)
    }),
  )

  it.effect("an unlink reverts on crash until its directory is fsynced", () =>
    Effect.gen(function* () {
      const disk = yield* durableHello()
      yield* on(
        disk,
        Effect.flatMap(FileSystem.FileSystem, (fs) => fs.remove("/d/f")),
      )
      const reverted = disk.fork()
      reverted.crash("drop")
      expect(yield* read(reverted, "/d/f")).toBe("hello")
      yield* on(disk, syncDir("/d"))
      disk.crash("drop")
      expect(yield* exists(disk, "/d/f")).toBe(false)
    }),
  )

  it.effect("a rename across directories needs both directories fsynced", () =>
    Effect.gen(function* () {
      const disk = yield* durableHello()
      yield* on(
        disk,
        Effect.gen(function* () {
          const fs = yield* FileSystem.FileSystem
          yield* fs.makeDirectory("/e")
          yield* syncDir("/")
          yield* fs.rename("/d/f", "/e/f")
        }),
      )
      const targetOnly = disk.fork()
      yield* on(targetOnly, syncDir("/e"))
      targetOnly.crash("drop")
      expect([yield* exists(targetOnly, "/d/f"), yield* exists(targetOnly, "/e/f")]).toEqual([true, true])
      const sourceOnly = disk.fork()
      yield* on(sourceOnly, syncDir("/d"))
      sourceOnly.crash("drop")
      expect([yield* exists(sourceOnly, "/d/f"), yield* exists(sourceOnly, "/e/f")]).toEqual([false, false])
      yield* on(disk, Effect.zipRight(syncDir("/d"), syncDir("/e")))
      disk.crash("drop")
      expect(yield* read(disk, "/e/f")).toBe("hello")
      expect(yield* exists(disk, "/d/f")).toBe(false)
    }),
  )

  it.effect("a new directory's entries need the new directory fsynced, and its name the parent", () =>
    Effect.gen(function* () {
      const disk = makeSimulatedDisk()
      yield* on(
        disk,
        Effect.gen(function* () {
          const fs = yield* FileSystem.FileSystem
          yield* fs.makeDirectory("/a/b", { recursive: true })
          yield* put("/a/b/f", "x", { sync: true })
          yield* syncDir("/")
          yield* syncDir("/a")
        }),
      )
      const partial = disk.fork()
      partial.crash("drop")
      expect(partial.durableImage()).toEqual({ directories: ["/a", "/a/b"], files: [] })
      yield* on(disk, syncDir("/a/b"))
      disk.crash("drop")
      expect(yield* read(disk, "/a/b/f")).toBe("x")
    }),
  )

  it.effect("a crash invalidates every open handle; closing it still succeeds", () =>
    Effect.gen(function* () {
      const disk = yield* durableHello()
      const error = yield* on(
        disk,
        Effect.scoped(
          Effect.gen(function* () {
            const fs = yield* FileSystem.FileSystem
            const file = yield* fs.open("/d/f", { flag: "r+" })
            expect(disk.openFiles).toBe(1)
            disk.crash("keep")
            expect(errorCode(yield* Effect.flip(file.sync))).toBe("EBADF")
            return yield* Effect.flip(file.write(bytes("x")))
          }),
        ),
      )
      expect(errorCode(error)).toBe("EBADF")
      expect(disk.openFiles).toBe(0)
      expect(yield* read(disk, "/d/f")).toBe("hello")
    }),
  )

  it.effect("after a crash, space of unreachable files is reclaimed from the image", () =>
    Effect.gen(function* () {
      const disk = yield* durableHello()
      yield* on(disk, put("/d/g", "gone", { sync: true }))
      disk.crash("drop")
      expect(disk.durableImage().files.map(([p]) => p)).toEqual(["/d/f"])
      expect(disk.volatileImage()).toEqual(disk.durableImage())
    }),
  )
})
