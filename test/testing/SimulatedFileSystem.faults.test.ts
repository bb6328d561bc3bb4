/**
 * Each fault knob of the simulated disk does what `FaultConfig` promises, the I/O accounting supports
 * "crash after the k-th I/O", and the same seed with the same operations replays the same trace.
 */
import { FileSystem } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import fc from "fast-check"
import {
  crashVariants,
  errorCode,
  type FaultConfig,
  isHaltError,
  makeSimulatedDisk,
  type SimulatedDisk,
} from "../../src/testing/index.ts"
import { program, runProgram } from "./fsOps.ts"
import { bytes, imageFile, on, put, syncDir, text } from "./helpers.ts"

const fsOf = (disk: SimulatedDisk) => disk.fileSystem
const readText = (disk: SimulatedDisk, path: string) => Effect.map(fsOf(disk).readFile(path), text)

/** A disk holding a durable, dir-synced "/f" = "base". */
const baseDisk = (faults: FaultConfig = {}, seed = 1) =>
  Effect.gen(function* () {
    const disk = makeSimulatedDisk({ seed })
    yield* on(disk, Effect.zipRight(put("/f", "base", { sync: true }), syncDir("/")))
    disk.setFaults(faults)
    return disk
  })

describe("SimulatedFileSystem fault knobs", () => {
  it.effect("eioOnWrite { atIo }: that write fails with EIO and nothing lands", () =>
    Effect.gen(function* () {
      const disk = yield* baseDisk()
      disk.setFaults({ eioOnWrite: { atIo: disk.ioCount + 2 } }) // open, then the write
      const error = yield* Effect.flip(on(disk, put("/f", "more")))
      expect(error._tag).toBe("SystemError")
      expect(error._tag === "SystemError" && error.reason).toBe("Unknown")
      expect(errorCode(error)).toBe("EIO")
      expect(yield* readText(disk, "/f")).toBe("base")
      expect(disk.faults.eioOnWrite).toBe(1)
      expect(disk.trace.some((l) => l.includes("!eioOnWrite"))).toBe(true)
      yield* on(disk, put("/f", "more")) // one-shot: the next write succeeds
      expect(yield* readText(disk, "/f")).toBe("basemore")
    }),
  )

  it.effect("eioOnRead: reads fail with EIO and the position does not move", () =>
    Effect.gen(function* () {
      const disk = yield* baseDisk()
      const got = yield* on(
        disk,
        Effect.scoped(
          Effect.gen(function* () {
            const file = yield* (yield* FileSystem.FileSystem).open("/f", { flag: "r" })
            disk.setFaults({ eioOnRead: 1 })
            expect(errorCode(yield* Effect.flip(file.readAlloc(2)))).toBe("EIO")
            expect(errorCode(yield* Effect.flip(file.read(new Uint8Array(2))))).toBe("EIO")
            disk.setFaults({})
            return yield* file.readAlloc(10)
          }),
        ),
      )
      expect(Option.map(got, text)).toEqual(Option.some("base"))
      expect(
        errorCode(
          yield* Effect.flip(
            Effect.zipRight(
              Effect.sync(() => disk.setFaults({ eioOnRead: 1 })),
              fsOf(disk).readFile("/f"),
            ),
          ),
        ),
      ).toBe("EIO")
      expect(disk.faults.eioOnRead).toBe(3)
    }),
  )

  it.effect("eioOnSync: fsync fails and the failed writeback is forgotten (fsyncgate)", () =>
    Effect.gen(function* () {
      const disk = yield* baseDisk()
      yield* on(
        disk,
        Effect.scoped(
          Effect.gen(function* () {
            const file = yield* (yield* FileSystem.FileSystem).open("/f", { flag: "a" })
            yield* file.writeAll(bytes("+lost"))
            disk.setFaults({ eioOnSync: 1 })
            expect(errorCode(yield* Effect.flip(file.sync))).toBe("EIO")
            disk.setFaults({})
            yield* file.sync // succeeds, but the forgotten pages are not written
          }),
        ),
      )
      expect(yield* readText(disk, "/f")).toBe("base+lost") // the page cache still has them
      disk.crash("drop")
      expect(yield* readText(disk, "/f")).toBe("base")
    }),
  )

  it.effect("enospcOnWrite: a prefix lands, then ENOSPC; writeAll advances the position by it, write does not", () =>
    Effect.gen(function* () {
      const disk = yield* baseDisk({}, 5)
      const payload = bytes("0123456789abcdef")
      const result = yield* on(
        disk,
        Effect.scoped(
          Effect.gen(function* () {
            const file = yield* (yield* FileSystem.FileSystem).open("/f", { flag: "r+" })
            yield* file.seek(4, "start")
            disk.setFaults({ enospcOnWrite: 1 })
            const error = yield* Effect.flip(file.writeAll(payload))
            const afterAll = imageFile(disk, "/f")!.length
            const error2 = yield* Effect.flip(file.write(payload))
            const afterWrite = imageFile(disk, "/f")!.length
            disk.setFaults({})
            yield* file.writeAll(bytes("!"))
            return { error, error2, afterAll, afterWrite }
          }),
        ),
      )
      for (const e of [result.error, result.error2]) {
        expect(e._tag === "SystemError" && [e.reason, e.syscall]).toEqual(["Unknown", "write"])
        expect(e._tag === "SystemError" && e.description?.startsWith("ENOSPC: no space left on device")).toBe(true)
        expect(errorCode(e)).toBe("ENOSPC")
      }
      const landedAll = result.afterAll - 4
      const landedWrite = result.afterWrite - 4 - landedAll
      expect(landedAll).toBeGreaterThanOrEqual(0)
      expect(landedAll).toBeLessThan(payload.length)
      // writeAll's prefix lands at 4 and moves the position; write's prefix lands after it without moving it, so
      // the final "!" overwrites write's first byte.
      const p = "0123456789abcdef"
      expect(yield* readText(disk, "/f")).toBe(`base${p.slice(0, landedAll)}!${p.slice(1, landedWrite)}`)
      expect(disk.faults.enospcOnWrite).toBe(2)
    }),
  )

  it.effect("shortWrite: write lands and reports a seeded m in [1, length); writeAll is unaffected", () =>
    Effect.gen(function* () {
      const disk = yield* baseDisk({}, 9)
      const n = yield* on(
        disk,
        Effect.scoped(
          Effect.gen(function* () {
            const file = yield* (yield* FileSystem.FileSystem).open("/g", { flag: "w+" })
            disk.setFaults({ shortWrite: 1 })
            const written = yield* file.write(bytes("abcdefgh"))
            yield* file.writeAll(bytes("XYZ"))
            return Number(written)
          }),
        ),
      )
      expect(n).toBeGreaterThanOrEqual(1)
      expect(n).toBeLessThan(8)
      expect(yield* readText(disk, "/g")).toBe(`${"abcdefgh".slice(0, n)}XYZ`)
      expect(disk.faults.shortWrite).toBe(1)
    }),
  )

  it.effect("slowSync: fsync completes only when the clock passes slowSyncDelay; a crash meanwhile loses it", () =>
    Effect.gen(function* () {
      const disk = yield* baseDisk({ slowSync: 1, slowSyncDelay: "2 seconds" })
      yield* on(disk, put("/f", "+1"))
      const fiber = yield* Effect.fork(on(disk, syncDir("/")))
      yield* TestClock.adjust("1 second")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)

      const slowData = Effect.scoped(Effect.flatMap(fsOf(disk).open("/f", { flag: "r" }), (file) => file.sync))
      const pending = yield* Effect.fork(slowData)
      yield* TestClock.adjust("1 second")
      disk.crash("drop")
      yield* TestClock.adjust("1 second")
      expect(errorCode(yield* Effect.flip(Fiber.join(pending)))).toBe("EBADF")
      expect(yield* readText(disk, "/f")).toBe("base")
      expect(disk.faults.slowSync).toBe(2)
    }),
  )

  it.effect("eio { atIo } fails exactly the k-th I/O, whatever it is; { fromIo } fails every I/O from k on", () =>
    Effect.gen(function* () {
      const disk = yield* baseDisk()
      const k = disk.ioCount + 1
      disk.setFaults({ eio: { atIo: k } })
      expect(errorCode(yield* Effect.flip(fsOf(disk).stat("/f")))).toBe("EIO")
      expect(disk.ioCount).toBe(k)
      yield* fsOf(disk).stat("/f")
      disk.setFaults({ eio: { fromIo: disk.ioCount + 2 } })
      yield* fsOf(disk).rename("/f", "/g")
      for (const attempt of [fsOf(disk).rename("/g", "/h"), fsOf(disk).readDirectory("/"), fsOf(disk).remove("/g")]) {
        expect(errorCode(yield* Effect.flip(attempt))).toBe("EIO")
      }
      expect(disk.faults.eio).toBe(4)
      disk.setFaults({})
      expect(yield* fsOf(disk).readDirectory("/")).toEqual(["g"])
    }),
  )

  it.effect("crashAfterIo(k): the (k+1)-th I/O halts the disk, uncounted, until crash() revives it", () =>
    Effect.gen(function* () {
      const disk = yield* baseDisk()
      const k = disk.ioCount + 2
      disk.crashAfterIo(k)
      yield* on(disk, put("/f", "+1")) // open, write: I/Os k-1 and k
      const error = yield* Effect.flip(on(disk, put("/f", "+2")))
      expect(isHaltError(error)).toBe(true)
      expect(errorCode(error)).toBe("EIO")
      expect(disk.halted).toBe(true)
      expect(disk.ioCount).toBe(k)
      expect(isHaltError(yield* Effect.flip(fsOf(disk).readFile("/f")))).toBe(true)
      expect(disk.ioCount).toBe(k)
      disk.crash("keep")
      expect(disk.halted).toBe(false)
      expect(yield* readText(disk, "/f")).toBe("base+1")
    }),
  )

  it.effect("the crash knob halts at a seeded I/O, and halt() halts now", () =>
    Effect.gen(function* () {
      const disk = yield* baseDisk()
      const k = disk.ioCount + 3
      disk.setFaults({ crash: { atIo: k } })
      const exit = yield* Effect.forever(fsOf(disk).stat("/f")).pipe(Effect.exit)
      expect(exit._tag).toBe("Failure")
      expect(disk.halted).toBe(true)
      expect(disk.ioCount).toBe(k - 1)
      expect(disk.faults.crash).toBe(1)
      disk.crash()
      disk.setFaults({})
      disk.halt()
      expect(isHaltError(yield* Effect.flip(fsOf(disk).stat("/f")))).toBe(true)
    }),
  )

  it.effect("crash-after-k enumeration: every k and variant gives a valid state; k = all and drop = fault-free", () =>
    Effect.gen(function* () {
      const workload = Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        yield* fs.makeDirectory("/db")
        yield* syncDir("/")
        yield* put("/db/log", "r1;", { sync: true })
        yield* syncDir("/db")
        yield* put("/db/log", "r2;", { sync: true })
        yield* fs.writeFileString("/db/snap.tmp", "snap")
        yield* Effect.scoped(Effect.flatMap(fs.open("/db/snap.tmp", { flag: "r+" }), (f) => f.sync))
        yield* fs.rename("/db/snap.tmp", "/db/snap")
        yield* syncDir("/db")
      })
      const clean = makeSimulatedDisk()
      yield* on(clean, workload)
      const total = clean.ioCount
      const states = new Set<string>()
      for (let k = 0; k <= total; k++) {
        const disk = makeSimulatedDisk({ seed: k })
        disk.crashAfterIo(k)
        yield* on(disk, workload).pipe(Effect.exit)
        expect(disk.ioCount).toBe(k)
        for (const variant of crashVariants) {
          const fork = disk.fork()
          fork.crash(variant)
          states.add(fork.fingerprint())
          const log = imageFile(fork, "/db/log", "durable")
          if (log !== undefined) expect("r1;r2;".startsWith(text(log))).toBe(true)
        }
      }
      const done = makeSimulatedDisk()
      done.crashAfterIo(total)
      yield* on(done, workload)
      done.crash("drop")
      expect(done.fingerprint()).toBe(clean.fingerprint("volatile"))
      // Several I/Os change nothing durable (opens, writes before their fsync), so states < (total + 1) × variants.
      expect(states.size).toBeGreaterThan(crashVariants.length)
    }),
  )
})

describe("SimulatedFileSystem determinism", () => {
  const faults: FaultConfig = {
    eioOnWrite: 0.1,
    eioOnRead: 0.1,
    eioOnSync: 0.1,
    enospcOnWrite: 0.1,
    shortWrite: 0.2,
    eio: 0.02,
  }
  const runSeeded = (seed: number, ops: Parameters<typeof runProgram>[2]) =>
    Effect.gen(function* () {
      const disk = makeSimulatedDisk({ seed, image: { directories: ["/base"], files: [] }, faults })
      const result = yield* Effect.either(runProgram(disk.fileSystem, "/base", ops))
      disk.crash("torn512")
      return { trace: disk.traceText(), result, fingerprint: disk.fingerprint(), faults: disk.faults }
    })

  it.effect("same seed and same operations give a byte-identical trace, outcomes and crash image", () =>
    Effect.gen(function* () {
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.integer(), program, async (seed, ops) => {
            const a = await Effect.runPromise(runSeeded(seed, ops))
            const b = await Effect.runPromise(runSeeded(seed, ops))
            expect(b.trace).toBe(a.trace)
            expect(b.result).toEqual(a.result)
            expect(b.fingerprint).toBe(a.fingerprint)
          }),
          { numRuns: 150 },
        ),
      )
    }),
  )

  it.effect("different seeds inject different faults; a fork replays exactly like its origin", () =>
    Effect.gen(function* () {
      const ops = fc.sample(program, { seed: 42, numRuns: 1 })[0]!
      const traces = new Set<string>()
      for (let seed = 0; seed < 10; seed++) traces.add((yield* runSeeded(seed, [...ops, ...ops])).trace)
      expect(traces.size).toBeGreaterThan(1)

      const origin = makeSimulatedDisk({ seed: "fork", image: { directories: ["/base"], files: [] }, faults })
      yield* Effect.either(runProgram(origin.fileSystem, "/base", ops))
      const copy = origin.fork()
      const continueRun = (disk: SimulatedDisk) =>
        Effect.map(Effect.either(runProgram(disk.fileSystem, "/base", ops)), () => {
          disk.crash("torn4096")
          return [disk.traceText(), disk.fingerprint()]
        })
      expect(yield* continueRun(copy)).toEqual(yield* continueRun(origin))
    }),
  )

  it.effect("knobs at probability 0 draw nothing and inject nothing", () =>
    Effect.gen(function* () {
      const ops = fc.sample(program, { seed: 7, numRuns: 1 })[0]!
      const zero = makeSimulatedDisk({
        seed: 1,
        faults: {
          crash: 0,
          eio: 0,
          eioOnWrite: 0,
          eioOnRead: 0,
          eioOnSync: 0,
          enospcOnWrite: 0,
          shortWrite: 0,
          slowSync: 0,
        },
      })
      const none = makeSimulatedDisk({ seed: 1 })
      for (const disk of [zero, none]) {
        yield* disk.fileSystem.makeDirectory("/base")
        yield* Effect.either(runProgram(disk.fileSystem, "/base", ops))
      }
      expect(zero.traceText()).toBe(none.traceText())
      expect(zero.seedState()).toEqual(none.seedState())
      expect(Object.values(zero.faults).every((n) => n === 0)).toBe(true)
    }),
  )
})
