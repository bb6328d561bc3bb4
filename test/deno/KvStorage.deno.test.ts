/**
 * What the Deno KV log adds to the storage contract: the check-and-set on its head (two writers that both saw the
 * same head never both append the next seq, and the loser's records never show), batches and records larger than
 * one atomic commit or one value, and a registry on KV that reopens with every acknowledged write.
 */
import { it as itEffect } from "@effect/vitest"
import { Cause, Context, Duration, Effect, Exit, Fiber, Layer, Option, type Scope, TestClock } from "effect"
import { describe, expect, it } from "vitest"
import type { DenoKv } from "../../src/deno/denoTypes.ts"
import * as KvStorage from "../../src/deno/KvStorage.ts"
import { atomicMutationsMax, chunkBytesMax } from "../../src/deno/KvStorage.ts"
import { layerKv } from "../../src/deno.ts"
import { ModelRegistry } from "../../src/effects/ModelRegistry.ts"
import { openPromiseRegistry } from "../../src/effects/promise.ts"
import { defaultLockLease } from "../../src/storage/ProcessInfo.ts"
import type { Wal, WalRecord } from "../../src/storage/Wal.ts"
import { collect, plain, record, records } from "../storage/harness.ts"
import { denoTempDirectory, openKv } from "./backends.ts"

/** The WAL of a fresh open of the database at `path`, in its own connection, as another process would have it. */
const openWal = (path: string): Effect.Effect<Wal, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const kv = yield* openKv(path)
    return (yield* KvStorage.make({ kv, location: `deno-kv:${path}` })).wal
  })

/** Removes the lock as a lease running out under a paused holder would let another writer take it. */
const dropLock = (kv: DenoKv) => Effect.promise(() => kv.atomic().delete(["model-registry", "lock"]).commit())

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Effect.runPromise(Effect.scoped(effect))

const outcome = (exit: Exit.Exit<void, unknown>) =>
  Exit.isSuccess(exit) ? "won" : (Cause.squash(exit.cause) as { readonly reason?: string }).reason

describe("Deno KV log", () => {
  it("lets exactly one of two writers racing for the same seq win, and keeps only the winner's records", () =>
    run(
      Effect.gen(function* () {
        const directory = yield* denoTempDirectory
        const path = `${directory}/race.kv`
        const wins = { first: 0, second: 0 }
        // Each round: both writers open on the same head, then append the next seq at once, one of them with a batch
        // too large for one commit (so its chunks are staged first); the loser fails `LockLost` and writes nothing.
        for (let round = 0; round < 6; round++) {
          const seq = yield* Effect.scoped(Effect.flatMap(openWal(path), (wal) => wal.lastSeq))
          const big = round % 2 === 0 ? "first" : "second"
          const batch = (writer: string): Array<WalRecord> =>
            writer === big
              ? Array.from({ length: atomicMutationsMax + 100 }, (_, i) => record(seq + 1 + i, `${writer} ${round}`))
              : [record(seq + 1, `${writer} ${round}`)]
          // The two writers share one connection: two connections to a local database file would also contend for
          // SQLite's write lock ("database is locked", a failed call), which is not the race this test is about.
          const [first, second] = yield* Effect.scoped(
            Effect.gen(function* () {
              const kv = yield* openKv(path)
              const writer = () => Effect.map(KvStorage.make({ kv, location: `deno-kv:${path}` }), (s) => s.wal)
              const a = yield* writer()
              yield* dropLock(kv)
              const b = yield* writer()
              return yield* Effect.all(
                [Effect.exit(a.append(batch("first"))), Effect.exit(b.append(batch("second")))],
                {
                  concurrency: 2,
                },
              )
            }),
          )
          const outcomes = [outcome(first), outcome(second)].sort()
          expect(outcomes).toEqual(["LockLost", "won"])
          const winner = Exit.isSuccess(first) ? "first" : "second"
          wins[winner]++
          const back = yield* Effect.scoped(Effect.flatMap(openWal(path), (wal) => collect(wal.read(seq + 1))))
          expect(plain(back)).toEqual(plain(batch(winner)))
        }
        console.log(`KV race: ${wins.first} rounds won by the first writer, ${wins.second} by the second`)
      }),
    ))

  it("stores records larger than a value and batches larger than a commit, and reads them back after reopen", () =>
    run(
      Effect.gen(function* () {
        const directory = yield* denoTempDirectory
        const path = `${directory}/large.kv`
        const payload = new Uint8Array(3 * chunkBytesMax + 17).map((_, i) => i % 251)
        const large: WalRecord = { seq: 1, type: 9, payload }
        const many = records(2, 2500)
        yield* Effect.scoped(
          Effect.gen(function* () {
            const wal = yield* openWal(path)
            yield* wal.append([large])
            yield* wal.append(many)
          }),
        )
        const back = yield* Effect.scoped(Effect.flatMap(openWal(path), (wal) => collect(wal.read(1))))
        expect(plain(back)).toEqual(plain([large, ...many]))
      }),
    ))

  it("reopens a registry with every acknowledged write", () =>
    run(
      Effect.gen(function* () {
        const directory = yield* denoTempDirectory
        const path = `${directory}/registry.kv`
        const registry = yield* Effect.promise(() => openPromiseRegistry(layerKv({ path })))
        // Concurrent registers make batches of many commands, beyond one atomic commit's 1,000 mutations.
        const acknowledged = yield* Effect.promise(() =>
          Promise.all(
            Array.from({ length: 1500 }, (_, i) =>
              registry.register({ name: `model-${i % 7}`, version: `1.0.${i}`, metrics: { i } }),
            ),
          ),
        )
        yield* Effect.promise(() => registry.promote("model-3", "1.0.3"))
        yield* Effect.promise(() => registry.close())
        const reopened = yield* Effect.scoped(
          Effect.gen(function* () {
            const context = yield* Layer.build(layerKv({ path }))
            const service = Context.get(context, ModelRegistry)
            const versions = yield* Effect.forEach(
              Array.from({ length: 7 }, (_, m) => `model-${m}`),
              (name) => Effect.orDie(service.listVersions(name)),
            ).pipe(Effect.map((lists) => lists.flat()))
            return { versions, production: Option.getOrUndefined(yield* Effect.orDie(service.production("model-3"))) }
          }),
        )
        expect(reopened.versions.map((v) => v.id).sort()).toEqual(acknowledged.map((o) => o.version.id).sort())
        expect(reopened.production?.version).toBe("1.0.3")
      }),
    ))
})

describe("Deno KV lock", () => {
  const lockKey = ["model-registry", "lock"]
  const leftLock = (kv: DenoKv) => Effect.promise(() => kv.set(lockKey, { token: "elsewhere", renewedAtMillis: 0 }))
  const { leaseMillis, renewIntervalMillis } = defaultLockLease

  /** Moves the test clock one renewal interval at a time (`between` runs before each) until `fiber` is done. */
  const intervalsUntilDone = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, between: Effect.Effect<unknown> = Effect.void) =>
    Effect.gen(function* () {
      for (let intervals = 0; intervals < 20; intervals++) {
        // Real time for the KV calls in flight; the lock's waits are on the test clock.
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
        if (fiber.unsafePoll() !== null) return { intervals, exit: yield* Fiber.await(fiber) }
        yield* between
        yield* TestClock.adjust(Duration.millis(renewIntervalMillis))
      }
      throw new Error("the open did not finish")
    })

  itEffect.scoped("takes over a lock left unrenewed for the lease, judged by its own clock", () =>
    Effect.gen(function* () {
      const directory = yield* denoTempDirectory
      const kv = yield* openKv(`${directory}/lock.kv`)
      yield* leftLock(kv)
      const opening = yield* Effect.fork(Effect.scoped(KvStorage.make({ kv, location: "deno-kv:lock" })))
      const { intervals, exit } = yield* intervalsUntilDone(opening)
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(intervals * renewIntervalMillis).toBeGreaterThanOrEqual(leaseMillis)
    }),
  )

  itEffect.scoped("refuses a lock another process renews with DirectoryLocked, and one held here at once", () =>
    Effect.gen(function* () {
      const directory = yield* denoTempDirectory
      const kv = yield* openKv(`${directory}/held.kv`)
      yield* leftLock(kv)
      const opening = yield* Effect.fork(Effect.scoped(KvStorage.make({ kv, location: "deno-kv:held" })))
      // The other holder renews its lock every interval.
      const { exit } = yield* intervalsUntilDone(opening, leftLock(kv))
      expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toMatchObject({ _tag: "DirectoryLocked" })

      yield* Effect.promise(() => kv.atomic().delete(lockKey).commit())
      yield* KvStorage.make({ kv, location: "deno-kv:held" })
      const second = yield* Effect.exit(Effect.scoped(KvStorage.make({ kv, location: "deno-kv:held" })))
      expect(Exit.isFailure(second) && Cause.squash(second.cause)).toMatchObject({ _tag: "DirectoryLocked" })
    }),
  )
})
