/**
 * The data directory lock on real files. By judgment: a live holder is refused with its pid, a provably dead one
 * (gone, or its pid reused by another process) is taken over at once, an unreadable lock counts as held, release
 * 0.1.0's bare-pid lock is judged by pid as that release did. By lease (TestClock): a holder that cannot be judged
 * (another PID namespace or host) is taken over only after its lock stayed unchanged for its whole lease, never
 * while it renews; and a holder whose lock was taken, removed, or could not be renewed within its lease stops
 * writing with `StorageFailed { reason: "LockLost" }` and leaves the new holder's lock alone.
 */
import { FileSystem } from "@effect/platform"
import { SystemError } from "@effect/platform/Error"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, layer, it as vitest } from "@effect/vitest"
import { Cause, Chunk, Clock, Effect, Exit, Fiber, Layer, Option, type Scope, TestClock, TestContext } from "effect"
import { layerProcessInfo, lockLease } from "../../src/node.ts"
import { layerFileSystem } from "../../src/storage/FileStorage.ts"
import { encodeLock, parseLock } from "../../src/storage/Lock.ts"
import {
  type LockLease,
  makeSingleNamespace,
  type ProcessIdentity,
  ProcessInfo,
} from "../../src/storage/ProcessInfo.ts"
import type { Wal } from "../../src/storage/Wal.ts"
import { makeTempDirectory, processInfo, records, testPid, withPorts } from "./harness.ts"

const lease: LockLease = { leaseMillis: 3000, renewIntervalMillis: 1000 }

/** Our harness world's identity for `pid`, as `makeSingleNamespace` writes it. */
const sameNamespace = (pid: number, startTicks = pid): ProcessIdentity => ({
  host: "single-namespace",
  bootId: "single-boot",
  pidNamespace: "single-namespace",
  pid,
  startTicks,
  token: `pid-${pid}`,
})
/** A holder in another container: its pid means nothing here. */
const elsewhere: ProcessIdentity = {
  host: "other-container",
  bootId: "single-boot",
  pidNamespace: "pid:[4026532174]",
  pid: 1,
  startTicks: 12,
  token: "elsewhere",
}

const openAs = (directory: string, alive: ReadonlyArray<number> = [], withLease?: LockLease) =>
  layerFileSystem({ directory }).pipe(
    Layer.provide(
      Layer.merge(
        NodeContext.layer,
        withLease === undefined
          ? processInfo(alive)
          : Layer.succeed(
              ProcessInfo,
              makeSingleNamespace(testPid, (pid) => alive.includes(pid), withLease),
            ),
      ),
    ),
  )

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Cause.squash(exit.cause)
}

const openFailure = (directory: string, alive: ReadonlyArray<number> = []) =>
  Effect.map(Effect.exit(withPorts(openAs(directory, alive), () => Effect.void)), failureOf)

/** Real time passes while real IO completes; the TestClock moves only when the test says so. */
const realPause = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))

/** Waits (in real time, bounded) until `count` fibers sleep on the TestClock, then moves it by `millis`. */
const advanceWhenAsleep = (millis: number, count = 1) =>
  Effect.gen(function* () {
    for (let i = 0; i < 400 && Chunk.size(yield* TestClock.sleeps()) < count; i++) yield* realPause
    yield* TestClock.adjust(millis)
  })

/**
 * Moves the TestClock in steps, each once the fiber sleeps again, until the fiber is done; returns the test time
 * that took. Each step waits (in real time, bounded) for the fiber's real IO.
 */
const testTimeUntilDone = <A, E>(fiber: Fiber.Fiber<A, E>, stepMillis: number) =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    for (let step = 0; step < 100 && Option.isNone(yield* Fiber.poll(fiber)); step++) {
      for (let i = 0; i < 400 && Chunk.size(yield* TestClock.sleeps()) === 0; i++) {
        if (Option.isSome(yield* Fiber.poll(fiber))) break
        yield* realPause
      }
      if (Option.isNone(yield* Fiber.poll(fiber))) yield* TestClock.adjust(stepMillis)
      yield* realPause
    }
    return (yield* Clock.currentTimeMillis) - started
  })

/** Until the WAL reports a failure (the renewal fiber latches it in the background), bounded in real time. */
const healthFailure = (wal: Wal) =>
  Effect.gen(function* () {
    for (let i = 0; i < 400; i++) {
      const exit = yield* Effect.exit(wal.health)
      if (Exit.isFailure(exit)) return Cause.squash(exit.cause)
      yield* realPause
    }
    return undefined
  })

const lockFiles = (directory: string) =>
  Effect.map(
    Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readDirectory(directory)),
    (names) => names.filter((n) => n.startsWith("LOCK")).sort(),
  )

layer(NodeContext.layer)("directory lock: judging the holder (real files)", (it) => {
  it.scoped("holds the lock with our identity while open and removes it on close", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* withPorts(openAs(directory), () =>
        Effect.gen(function* () {
          const text = yield* fs.readFileString(`${directory}/LOCK`)
          expect(text).toBe(encodeLock(sameNamespace(testPid), undefined))
          expect(parseLock(text)).toEqual({
            _tag: "Identity",
            identity: sameNamespace(testPid),
            leaseMillis: undefined,
          })
        }),
      )
      expect(yield* lockFiles(directory)).toEqual([])
    }),
  )

  it.scoped("a live holder is refused with its pid and its lock left alone", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      const live = encodeLock(sameNamespace(777), undefined)
      yield* fs.writeFileString(`${directory}/LOCK`, live)
      expect(yield* openFailure(directory, [777])).toMatchObject({ _tag: "DirectoryLocked", directory, pid: 777 })
      expect(yield* fs.readFileString(`${directory}/LOCK`)).toBe(live)
    }),
  )

  it.scoped("a dead holder's lock is taken over at once; the data is intact and no lock file is left", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* withPorts(openAs(directory), ({ wal }) => wal.append(records(1, 3)))
      yield* fs.writeFileString(`${directory}/LOCK`, encodeLock(sameNamespace(999), undefined))
      yield* withPorts(openAs(directory), ({ wal }) =>
        Effect.gen(function* () {
          expect(yield* wal.lastSeq).toBe(3)
          expect(parseLock(yield* fs.readFileString(`${directory}/LOCK`))).toMatchObject({ identity: { pid: testPid } })
        }),
      )
      expect(yield* lockFiles(directory)).toEqual([])
    }),
  )

  it.scoped("a pid reused by another process (another start time) does not keep the dead holder's lock", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* fs.writeFileString(`${directory}/LOCK`, encodeLock(sameNamespace(777, 1), undefined))
      yield* withPorts(openAs(directory, [777]), () => Effect.void)
      expect(yield* lockFiles(directory)).toEqual([])
    }),
  )

  it.scoped("release 0.1.0's bare-pid lock is judged by pid, as that release did: live refused, dead taken over", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* fs.writeFileString(`${directory}/LOCK`, "777\n")
      expect(yield* openFailure(directory, [777])).toMatchObject({ _tag: "DirectoryLocked", directory, pid: 777 })
      expect(yield* fs.readFileString(`${directory}/LOCK`)).toBe("777\n")
      yield* withPorts(openAs(directory, []), () => Effect.void)
      expect(yield* lockFiles(directory)).toEqual([])
    }),
  )

  it.scoped("an unreadable lock (empty, damaged, a newer format) counts as held (pid 0)", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      const newer = encodeLock(sameNamespace(999), undefined).replace('"version":2', '"version":3')
      for (const text of ["", "{", newer, `${encodeLock(sameNamespace(999), undefined).trim()}`]) {
        yield* fs.writeFileString(`${directory}/LOCK`, text)
        expect(yield* openFailure(directory)).toMatchObject({ _tag: "DirectoryLocked", directory, pid: 0 })
      }
    }),
  )

  it.scoped("a holder in another namespace that has no lease can never be proven dead: refused at once", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* fs.writeFileString(`${directory}/LOCK`, encodeLock(elsewhere, undefined))
      expect(yield* openFailure(directory)).toMatchObject({ _tag: "DirectoryLocked", pid: 1 })
    }),
  )
})

/** One TestClock per test: a shared one would carry the sleeps of an earlier test's fibers. */
const it = {
  scoped: <A, E>(name: string, body: () => Effect.Effect<A, E, FileSystem.FileSystem | Scope.Scope>) =>
    vitest.scoped(name, () => body().pipe(Effect.provide(NodeContext.layer), Effect.provide(TestContext.TestContext))),
}

describe("directory lock: the lease (real files, TestClock)", () => {
  it.scoped("a holder in another namespace is taken over only after its lock stayed unchanged for its lease", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* withPorts(openAs(directory), ({ wal }) => wal.append(records(1, 3)))
      yield* fs.writeFileString(`${directory}/LOCK`, encodeLock(elsewhere, lease))
      const opening = yield* Effect.fork(withPorts(openAs(directory, [], lease), ({ wal }) => wal.lastSeq))
      expect(yield* testTimeUntilDone(opening, lease.leaseMillis / 5)).toBeGreaterThanOrEqual(lease.leaseMillis)
      expect(yield* Fiber.join(opening)).toBe(3)
      expect(yield* lockFiles(directory)).toEqual([])
    }),
  )

  it.scoped("a holder in another namespace that renews its lock is never taken over: DirectoryLocked", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      const held = encodeLock(elsewhere, lease)
      yield* fs.writeFileString(`${directory}/LOCK`, held)
      const opening = yield* Effect.fork(Effect.exit(withPorts(openAs(directory, [], lease), () => Effect.void)))
      // The holder renews at every poll of the contender, whenever the contender happened to take its first look.
      for (let i = 0; i < 20 && Option.isNone(yield* Fiber.poll(opening)); i++) {
        yield* fs.utimes(`${directory}/LOCK`, 2_000_000_000 + i, 2_000_000_000 + i)
        yield* advanceWhenAsleep(lease.leaseMillis / 5)
      }
      expect(failureOf(yield* Fiber.join(opening))).toMatchObject({ _tag: "DirectoryLocked", directory, pid: 1 })
      expect(yield* fs.readFileString(`${directory}/LOCK`)).toBe(held)
      expect(yield* lockFiles(directory)).toEqual(["LOCK"])
    }),
  )

  it.scoped("a holder whose lock was taken over stops writing (LockLost) and leaves the new lock alone", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      const taken = encodeLock(elsewhere, lease)
      yield* withPorts(openAs(directory, [], lease), ({ wal }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 2))
          yield* fs.writeFileString(`${directory}/LOCK`, taken)
          yield* advanceWhenAsleep(lease.renewIntervalMillis)
          expect(yield* healthFailure(wal)).toMatchObject({ _tag: "StorageFailed", reason: "LockLost" })
          expect(failureOf(yield* Effect.exit(wal.append(records(3, 1))))).toMatchObject({ _tag: "StorageFailed" })
          expect(yield* wal.lastSeq).toBe(2)
        }),
      )
      expect(yield* fs.readFileString(`${directory}/LOCK`)).toBe(taken)
    }),
  )

  it.scoped("a holder whose lock file was removed stops writing (LockLost) and does not re-create it", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* withPorts(openAs(directory, [], lease), ({ wal }) =>
        Effect.gen(function* () {
          yield* fs.remove(`${directory}/LOCK`)
          yield* advanceWhenAsleep(lease.renewIntervalMillis)
          expect(yield* healthFailure(wal)).toMatchObject({ _tag: "StorageFailed", reason: "LockLost" })
          expect(Exit.isFailure(yield* Effect.exit(wal.append(records(1, 1))))).toBe(true)
        }),
      )
      expect(yield* lockFiles(directory)).toEqual([])
    }),
  )
})

/** Node's file system with `utimes` failing while `failing()` says so (a renewal that cannot reach the disk). */
const flakyUtimes = (failing: () => boolean) =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (fs) => ({
      ...fs,
      utimes: (path: string, atime: Date | number, mtime: Date | number) =>
        failing()
          ? Effect.fail(
              new SystemError({ reason: "Unknown", module: "FileSystem", method: "utimes", pathOrDescriptor: path }),
            )
          : fs.utimes(path, atime, mtime),
    })),
  ).pipe(Layer.provide(NodeContext.layer))

const openFlaky = (directory: string, failing: () => boolean) =>
  layerFileSystem({ directory }).pipe(
    Layer.provide(
      Layer.mergeAll(
        NodeContext.layer,
        flakyUtimes(failing),
        Layer.succeed(
          ProcessInfo,
          makeSingleNamespace(testPid, () => false, lease),
        ),
      ),
    ),
  )

describe("directory lock: renewals that fail (real files, TestClock)", () => {
  it.scoped("failed renewals are retried while the lease covers the writes; past that, writes fail (LockLost)", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      let failing = true
      yield* withPorts(
        openFlaky(directory, () => failing),
        ({ wal }) =>
          Effect.gen(function* () {
            yield* advanceWhenAsleep(lease.renewIntervalMillis) // t = 1 s: fails, the lease still covers writes
            yield* wal.append(records(1, 1))
            failing = false
            yield* advanceWhenAsleep(lease.renewIntervalMillis) // t = 2 s: renewed
            yield* advanceWhenAsleep(lease.renewIntervalMillis / 2)
            yield* wal.append(records(2, 1))
            failing = true
            for (let i = 0; i < 3; i++) yield* advanceWhenAsleep(lease.renewIntervalMillis) // up to 5 s: 3 s unrenewed
            expect(yield* healthFailure(wal)).toMatchObject({ _tag: "StorageFailed", reason: "LockLost" })
            expect(Exit.isFailure(yield* Effect.exit(wal.append(records(3, 1))))).toBe(true)
            expect(yield* wal.lastSeq).toBe(2)
          }),
      )
    }),
  )

  it.scoped("a write past the lease's margin renews first: it goes on if the lock is still ours", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      let failures = 2
      const failing = () => failures-- > 0
      yield* withPorts(openFlaky(directory, failing), ({ wal }) =>
        Effect.gen(function* () {
          yield* advanceWhenAsleep(lease.renewIntervalMillis)
          yield* advanceWhenAsleep(lease.renewIntervalMillis) // two failed renewals: 2 s unrenewed
          yield* advanceWhenAsleep(lease.renewIntervalMillis / 2) // 2.5 s: past the margin (lease − interval)
          const before = (yield* fs.stat(`${directory}/LOCK`)).mtime
          yield* wal.append(records(1, 1))
          expect((yield* fs.stat(`${directory}/LOCK`)).mtime).not.toEqual(before)
          expect(Exit.isSuccess(yield* Effect.exit(wal.health))).toBe(true)
        }),
      )
    }),
  )

  it.scoped("a write past the lease's margin, after the lock was taken meanwhile, fails (LockLost)", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      let failures = 2
      yield* withPorts(
        openFlaky(directory, () => failures-- > 0),
        ({ wal }) =>
          Effect.gen(function* () {
            yield* advanceWhenAsleep(lease.renewIntervalMillis)
            yield* advanceWhenAsleep(lease.renewIntervalMillis)
            yield* advanceWhenAsleep(lease.renewIntervalMillis / 2)
            yield* fs.writeFileString(`${directory}/LOCK`, encodeLock(elsewhere, lease))
            expect(failureOf(yield* Effect.exit(wal.append(records(1, 1))))).toMatchObject({
              _tag: "StorageFailed",
              reason: "LockLost",
            })
            expect(yield* wal.lastSeq).toBe(0)
          }),
      )
    }),
  )
})

/** The registry's own Node composition: a real identity read from /proc, and the default lease. */
const openWithNode = (directory: string) =>
  layerFileSystem({ directory }).pipe(Layer.provide(Layer.merge(NodeContext.layer, layerProcessInfo)))

describe("directory lock with Node's ProcessInfo (real files, TestClock)", () => {
  it.scoped("a holder in another PID namespace is taken over after the default lease, not at once", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      // Its pid is this very process's, alive here: only its namespace tells it apart.
      const holder = { ...elsewhere, pid: process.pid, pidNamespace: "pid:[1]" }
      yield* fs.writeFileString(`${directory}/LOCK`, encodeLock(holder, lockLease))
      const opening = yield* Effect.fork(withPorts(openWithNode(directory), () => Effect.void))
      expect(yield* testTimeUntilDone(opening, lockLease.leaseMillis / 5)).toBeGreaterThanOrEqual(lockLease.leaseMillis)
      yield* Fiber.join(opening)
      expect(yield* lockFiles(directory)).toEqual([])
    }),
  )

  it.scoped("a holder whose lock another process took stops writing at its next renewal (LockLost)", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      const taken = encodeLock({ ...elsewhere, pidNamespace: "pid:[1]" }, lockLease)
      yield* withPorts(openWithNode(directory), ({ wal }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 1))
          yield* fs.writeFileString(`${directory}/LOCK`, taken)
          yield* advanceWhenAsleep(lockLease.renewIntervalMillis)
          expect(yield* healthFailure(wal)).toMatchObject({ _tag: "StorageFailed", reason: "LockLost" })
          expect(Exit.isFailure(yield* Effect.exit(wal.append(records(2, 1))))).toBe(true)
        }),
      )
      expect(yield* fs.readFileString(`${directory}/LOCK`)).toBe(taken)
    }),
  )
})
