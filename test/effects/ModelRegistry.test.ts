/**
 * The registry actor through the public API, on real files: group commit, concurrency with an observer
 * checking the production invariant at every seq, back-pressure and Overloaded, reads that never queue behind
 * writes, and storage failure semantics (a failed fsync fails the registry for good; ENOSPC fails one batch).
 */
import { readdirSync } from "node:fs"
import { SystemError } from "@effect/platform/Error"
import { NodePath } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Exit, Fiber, Layer, Option, Stream } from "effect"
import fc from "fast-check"
import * as Registry from "../../src/effects/ModelRegistry.ts"
import { layerChecksum, layerFile, layerIds, layerProcessInfo } from "../../src/node.ts"
import { segmentHeaderBytes } from "../../src/storage/SegmentHeader.ts"
import { failureOf, failureTag } from "../../src/testing/exits.ts"
import { open, tempDirectory, until } from "../support/harness.ts"
import { type FileHooks, layerWrapped } from "../support/wrapFileSystem.ts"

const registryOn = (
  directory: string,
  hooks: FileHooks,
  options: Omit<Registry.FileSystemRegistryOptions, "directory"> = {},
) =>
  Registry.layerFileSystem({ directory, ...options }).pipe(
    Layer.provide(Layer.mergeAll(layerWrapped(hooks), NodePath.layer, layerChecksum, layerProcessInfo, layerIds)),
  )

const isSegment = (path: string) => path.endsWith(".seg")
const systemError = (reason: "Unknown", description: string, path: string) =>
  new SystemError({ module: "FileSystem", method: "sync", reason, description, pathOrDescriptor: path })

const withDirectory =
  <A>(label: string, body: (path: string) => Promise<A>) =>
  async () => {
    const directory = tempDirectory(label)
    try {
      return await body(directory.path)
    } finally {
      directory.remove()
    }
  }

/** The error platform-node gives a write on a full disk: reason `Unknown`, the errno only in its cause. */
const noSpace = (path: string) =>
  new SystemError({
    module: "FileSystem",
    method: "writeAll",
    reason: "Unknown",
    description: "ENOSPC: no space left on device, write",
    pathOrDescriptor: path,
    cause: Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }),
  })

describe("records are the registry's own", () => {
  it("a caller changing the objects it registered, or a reader changing a returned record, changes nothing", async () => {
    const opened = await open(Registry.layerMemory())
    try {
      const metrics = { accuracy: 0.9, curve: [0.1, { at: 1 }], delta: -0 }
      const tags: Record<string, string> = { team: "vision" }
      await opened.run(opened.registry.register({ name: "m", version: "1.0.0", metrics, tags }))
      metrics.accuracy = 0.1
      ;(metrics.curve[1] as { at: number }).at = 2
      tags.team = "speech"
      const got = await opened.run(opened.registry.get("m", "1.0.0"))
      expect(got.metrics).toEqual({ accuracy: 0.9, curve: [0.1, { at: 1 }], delta: 0 })
      expect(Object.is(got.metrics.delta, 0)).toBe(true) // as the log stores it and a restart reads it back
      expect(got.tags).toEqual({ team: "vision" })
      for (const part of [got, got.metrics, got.tags, got.metrics.curve, (got.metrics.curve as Array<unknown>)[1]])
        expect(Object.isFrozen(part)).toBe(true)
      expect(() => {
        ;(got.tags as Record<string, string>).team = "x"
      }).toThrow(TypeError)
    } finally {
      await opened.close()
    }
  })
})

describe("automatic compaction", () => {
  it("runs after snapshotThresholdRecords records, and once the log is snapshotThresholdLogToStateRatio × the last snapshot", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }),
        async (everyRecords, ratio, steps) => {
          const opened = await open(
            Registry.layerMemory({
              snapshotThresholdRecords: everyRecords,
              snapshotThresholdLogToStateRatio: ratio,
              batchCommandsMax: 1,
            }),
          )
          // The rule, restated: true = register a new version, false = promote the newest (same version count; a
          // repeated promotion records nothing).
          let lastSeq = 0
          let since = 0
          let versionsAtSnapshot = 0
          let versions = 0
          let expected = 0
          try {
            for (const register of steps) {
              if (register || versions === 0) {
                await opened.run(opened.registry.register({ name: "m", version: `1.0.${versions}` }))
                versions++
              } else await opened.run(opened.registry.promote("m", `1.0.${versions - 1}`))
              const { lastSeq: seqNow } = await opened.run(opened.registry.stats)
              since += seqNow - lastSeq
              lastSeq = seqNow
              if (since >= everyRecords && since >= ratio * versionsAtSnapshot) {
                expected++
                since = 0
                versionsAtSnapshot = versions
              }
              // The snapshot is written in the background: wait for it to be counted, then check it is the only one.
              await until(async () => (await opened.run(opened.registry.stats)).compactions >= expected)
              expect((await opened.run(opened.registry.stats)).compactions).toBe(expected)
            }
          } finally {
            await opened.close()
          }
        },
      ),
      { numRuns: 40 },
    )
  })
})

describe("ModelRegistry on files", () => {
  it(
    "a snapshot being written holds up no register, and the log after it survives a reopen",
    withDirectory("background-snapshot", async (directory) => {
      const reached = Effect.runSync(Deferred.make<void>())
      const release = Effect.runSync(Deferred.make<void>())
      const hooks: FileHooks = {
        beforeSync: (path) =>
          path.endsWith(".snap.tmp")
            ? Effect.zipRight(Deferred.succeed(reached, undefined), Deferred.await(release))
            : Effect.void,
      }
      const opened = await open(registryOn(directory, hooks))
      try {
        await opened.run(opened.registry.register({ name: "bg", version: "1.0.0" }))
        const compaction = opened.run(opened.registry.compact)
        await Effect.runPromise(Deferred.await(reached))
        // The snapshot's fsync is stalled: registers still commit, each with its own durable append.
        for (let i = 1; i <= 20; i++) await opened.run(opened.registry.register({ name: "bg", version: `1.0.${i}` }))
        expect((await opened.run(opened.registry.stats)).compactions).toBe(0)
        await Effect.runPromise(Deferred.succeed(release, undefined))
        expect(await compaction).toEqual({ snapshotSeq: 1, versions: 1 })
        expect(await opened.run(opened.registry.stats)).toMatchObject({ compactions: 1, lastSeq: 21 })
      } finally {
        await opened.close()
      }
      const reopened = await open(registryOn(directory, {}))
      try {
        expect((await reopened.run(reopened.registry.listVersions("bg"))).length).toBe(21)
      } finally {
        await reopened.close()
      }
    }),
  )

  it(
    "group-commits: 512 concurrent registers take far fewer than 512 fsyncs",
    withDirectory("group", async (directory) => {
      let segmentSyncs = 0
      const opened = await open(
        registryOn(directory, {
          beforeSync: (path) =>
            Effect.sync(() => {
              if (isSegment(path)) segmentSyncs++
            }),
        }),
      )
      const before = segmentSyncs
      await opened.run(
        Effect.forEach(
          Array.from({ length: 512 }, (_, i) => i),
          (i) => opened.registry.register({ name: "group", version: `1.0.${i}` }),
          { concurrency: "unbounded", discard: true },
        ),
      )
      const syncs = segmentSyncs - before
      const stats = await opened.run(opened.registry.stats)
      await opened.close()
      console.log(`group commit: 512 registers, ${syncs} segment fsyncs, ${stats.batches} batches`)
      expect(stats.lastSeq).toBe(512)
      expect(syncs).toBe(stats.batches)
      expect(syncs).toBeLessThanOrEqual(16)
    }),
  )

  it(
    "10,000 concurrent registers and promotes: every ack present, seqs 1..n gap-free, one production per model at every seq",
    withDirectory("concurrency", async (directory) => {
      const opened = await open(layerFile({ directory }))
      const { registry } = opened
      const models = Array.from({ length: 20 }, (_, i) => `model-${i}`)
      // A live observer, running while the writes happen, checks the invariant at every seq it sees.
      const live = { seqs: [] as Array<number>, production: new Map<string, string>(), violations: 0 }
      const observer = Effect.runFork(
        registry.subscribe({ from: 1 }).pipe(
          Stream.runForEach((event) =>
            Effect.sync(() => {
              live.seqs.push(event.seq)
              if (event._tag !== "Promoted") return
              if ((live.production.get(event.name) ?? null) !== event.supersedes) live.violations++
              live.production.set(event.name, event.version)
            }),
          ),
        ),
      )
      const operations = Array.from({ length: 10_000 }, (_, i) => i)
      const results = await opened.run(
        Effect.forEach(
          operations,
          (i) => {
            const model = models[i % models.length]!
            const round = Math.floor(i / models.length)
            const write: Effect.Effect<Registry.Outcome, { readonly _tag: string }> =
              round % 5 === 4
                ? registry.promote(model, `1.${(round * 7919) % round}.0`)
                : registry.register({ name: model, version: `1.${round}.0` })
            return Effect.map(Effect.either(write), (result) => ({ model, result }))
          },
          { concurrency: 256 },
        ),
      )
      const stats = await opened.run(registry.stats)
      await until(() => live.seqs.length >= stats.lastSeq)
      await Effect.runPromise(Fiber.interrupt(observer))
      expect(live.seqs).toEqual(Array.from({ length: stats.lastSeq }, (_, i) => i + 1))
      expect(live.violations).toBe(0)
      const events = await opened.run(
        registry.subscribe({ from: 1 }).pipe(Stream.take(stats.lastSeq), Stream.runCollect),
      )
      const seqs = Chunk.toArray(events).map((e) => e.seq)
      expect(seqs).toEqual(Array.from({ length: stats.lastSeq }, (_, i) => i + 1))
      const production = new Map<string, string>()
      for (const event of events)
        if (event._tag === "Promoted") {
          expect(event.supersedes).toBe(production.get(event.name) ?? null)
          production.set(event.name, event.version)
        }
      let acked = 0
      for (const { model, result } of results) {
        if (result._tag === "Left") {
          // A promote may race ahead of its version's registration; nothing else may fail.
          expect(result.left._tag).toBe("VersionNotFound")
          continue
        }
        acked++
        const stored = await opened.run(registry.get(model, result.right.version.version))
        expect(stored.id).toBe(result.right.version.id)
      }
      for (const model of models) {
        const listed = await opened.run(registry.listVersions(model))
        const inProduction = listed.filter((v) => v.state === "production").map((v) => v.version)
        expect(inProduction).toEqual(production.has(model) ? [production.get(model)] : [])
      }
      await opened.close()
      console.log(
        `concurrency: ${results.length} operations, ${acked} acknowledged, ${stats.lastSeq} events, ${stats.batches} batches`,
      )
      expect(acked).toBeGreaterThan(8_000)
    }),
  )

  it(
    "back-pressure: a full mailbox makes callers wait (up to blockedCommandsMax), or fail with Overloaded",
    withDirectory("overload", async (directory) => {
      const gate = Effect.runSync(Deferred.make<void>())
      const syncing = Effect.runSync(Deferred.make<void>())
      let gated = false
      const opened = await open(
        registryOn(
          directory,
          {
            beforeSync: (path) =>
              gated && isSegment(path)
                ? Effect.zipRight(Deferred.succeed(syncing, undefined), Deferred.await(gate))
                : Effect.void,
          },
          { mailboxCommandsMax: 4, batchCommandsMax: 4, blockedCommandsMax: 1 },
        ),
      )
      const { registry } = opened
      gated = true
      const first = Effect.runFork(registry.register({ name: "m", version: "1.0.0" }))
      // The loop has taken the first batch and is stuck in its fsync: the mailbox is empty again.
      await Effect.runPromise(Deferred.await(syncing))
      const queued = Array.from({ length: 4 }, (_, i) =>
        Effect.runFork(registry.register({ name: "m", version: `2.0.${i}` })),
      )
      const waiting = Effect.runFork(registry.register({ name: "m", version: "3.0.0" }))
      const refused = await opened.exitOf(registry.register({ name: "m", version: "4.0.0" }, { wait: false }))
      expect(failureTag(refused)).toBe("Overloaded")
      // One caller may wait for room; the next one is refused, so a stalled disk cannot grow the waiters.
      const beyondBlocked = await opened.exitOf(registry.register({ name: "m", version: "5.0.0" }))
      expect(failureTag(beyondBlocked)).toBe("Overloaded")
      // Reads do not queue behind the blocked batch.
      expect(
        Option.isNone(await opened.run(registry.production("m").pipe(Effect.orElseSucceed(() => Option.none())))),
      ).toBe(true)
      expect((await opened.run(registry.stats)).mailboxDepth).toBe(5)
      Effect.runSync(Deferred.succeed(gate, undefined))
      for (const fiber of [first, ...queued, waiting])
        expect(Exit.isSuccess(await Effect.runPromise(Fiber.await(fiber)))).toBe(true)
      expect((await opened.run(registry.listVersions("m"))).map((v) => v.version)).toEqual([
        "1.0.0",
        "2.0.0",
        "2.0.1",
        "2.0.2",
        "2.0.3",
        "3.0.0",
      ])
      await opened.close()
    }),
  )

  it(
    "a failed fsync fails the batch and every later command with StorageFailed, never retries, and reopens to the acknowledged state",
    withDirectory("fsyncgate", async (directory) => {
      let failSyncs = false
      let segmentSyncs = 0
      const opened = await open(
        registryOn(directory, {
          beforeSync: (path) =>
            Effect.suspend(() => {
              if (!isSegment(path)) return Effect.void
              segmentSyncs++
              return failSyncs ? Effect.fail(systemError("Unknown", "EIO: injected", path)) : Effect.void
            }),
        }),
      )
      const { registry } = opened
      await opened.run(registry.register({ name: "m", version: "1.0.0" }))
      failSyncs = true
      const failed = await opened.exitOf(registry.register({ name: "m", version: "2.0.0" }))
      expect(failureTag(failed)).toBe("StorageFailed")
      failSyncs = false
      const syncsAfterFailure = segmentSyncs
      const later = await opened.exitOf(registry.register({ name: "m", version: "3.0.0" }))
      expect(failureTag(later)).toBe("StorageFailed")
      expect(segmentSyncs).toBe(syncsAfterFailure)
      const subscription = await opened.exitOf(registry.subscribe({ from: 1 }).pipe(Stream.runCollect))
      expect(Exit.isFailure(subscription)).toBe(true)
      await opened.close()

      const reopened = await open(layerFile({ directory }))
      const versions = (await reopened.run(reopened.registry.listVersions("m"))).map((v) => v.version)
      // 1.0.0 was acknowledged; 2.0.0's outcome was unknown (its write may have reached the disk); 3.0.0 never ran.
      expect(versions[0]).toBe("1.0.0")
      expect(versions).not.toContain("3.0.0")
      await reopened.close()
    }),
  )

  it(
    "ENOSPC on write fails that batch only: the WAL truncates back and the registry stays available",
    withDirectory("enospc", async (directory) => {
      let failWrites = false
      const opened = await open(
        registryOn(directory, {
          beforeWrite: (path) =>
            failWrites && isSegment(path)
              ? Effect.fail(
                  new SystemError({
                    module: "FileSystem",
                    method: "write",
                    reason: "Unknown",
                    description: "ENOSPC: no space left on device",
                    pathOrDescriptor: path,
                  }),
                )
              : Effect.void,
        }),
      )
      const { registry } = opened
      await opened.run(registry.register({ name: "m", version: "1.0.0" }))
      failWrites = true
      const full = await opened.exitOf(registry.register({ name: "m", version: "2.0.0" }))
      expect(failureTag(full)).toBe("StorageFailed")
      failWrites = false
      await opened.run(registry.register({ name: "m", version: "3.0.0" }))
      expect((await opened.run(registry.listVersions("m"))).map((v) => v.version)).toEqual(["1.0.0", "3.0.0"])
      await opened.close()
      const reopened = await open(layerFile({ directory }))
      expect((await reopened.run(reopened.registry.listVersions("m"))).map((v) => v.version)).toEqual([
        "1.0.0",
        "3.0.0",
      ])
      expect((await reopened.run(reopened.registry.stats)).lastSeq).toBe(2)
      await reopened.close()
    }),
  )

  it(
    "ENOSPC while rolling to the next segment fails that batch only; once space is freed the next register rolls",
    withDirectory("enospc-roll", async (directory) => {
      let diskFull = false
      const limits = { segmentBytesMax: segmentHeaderBytes + 1024, recordBytesMax: 1024 }
      const opened = await open(
        registryOn(
          directory,
          // Only the new segment's header write fails: the full disk strikes exactly at the roll.
          { beforeWrite: (path) => (diskFull && path.endsWith(".seg.tmp") ? Effect.fail(noSpace(path)) : Effect.void) },
          limits,
        ),
      )
      const { registry } = opened
      diskFull = true
      const acknowledged: Array<string> = []
      let refused: Exit.Exit<unknown, unknown> | undefined
      for (let minor = 0; minor < 100 && refused === undefined; minor++) {
        const exit = await opened.exitOf(registry.register({ name: "m", version: `1.${minor}.0` }))
        if (Exit.isSuccess(exit)) acknowledged.push(`1.${minor}.0`)
        else refused = exit
      }
      expect(acknowledged.length).toBeGreaterThan(0)
      expect(failureOf(refused!)).toMatchObject({ _tag: "StorageFailed", reason: "NoSpace" })
      // Still full: the roll is tried again and fails again, and the registry is not latched failed.
      expect(failureOf(await opened.exitOf(registry.register({ name: "m", version: "2.0.0" })))).toMatchObject({
        reason: "NoSpace",
      })
      diskFull = false
      await opened.run(registry.register({ name: "m", version: "2.0.0" }))
      acknowledged.push("2.0.0")
      expect((await opened.run(registry.listVersions("m"))).map((v) => v.version)).toEqual(acknowledged)
      await opened.close()
      const reopened = await open(layerFile({ directory, ...limits }))
      expect((await reopened.run(reopened.registry.listVersions("m"))).map((v) => v.version)).toEqual(acknowledged)
      await reopened.close()
    }),
  )

  it.each([
    ["at the roll that starts a compaction", ".seg.tmp", "enospc-compact"],
    ["while the background snapshot is written", ".snap.tmp", "enospc-snapshot"],
  ])(
    "ENOSPC %s fails that compaction only, leaves no partial file, and writes and later compactions go on",
    (_when, fullAt, label) =>
      withDirectory(label, async (directory) => {
        let diskFull = false
        const opened = await open(
          registryOn(directory, {
            beforeWrite: (path) => (diskFull && path.endsWith(fullAt) ? Effect.fail(noSpace(path)) : Effect.void),
          }),
        )
        const { registry } = opened
        await opened.run(registry.register({ name: "m", version: "1.0.0" }))
        diskFull = true
        expect(failureOf(await opened.exitOf(registry.compact))).toMatchObject({
          _tag: "StorageFailed",
          reason: "NoSpace",
        })
        expect(Exit.isSuccess(await opened.exitOf(registry.health))).toBe(true)
        expect(readdirSync(directory).filter((name) => name.endsWith(".tmp"))).toEqual([])
        await opened.run(registry.register({ name: "m", version: "2.0.0" }))
        diskFull = false
        expect(await opened.run(registry.compact)).toMatchObject({ snapshotSeq: 2, versions: 2 })
        await opened.run(registry.register({ name: "m", version: "3.0.0" }))
        await opened.close()
        const reopened = await open(layerFile({ directory }))
        expect((await reopened.run(reopened.registry.listVersions("m"))).map((v) => v.version)).toEqual([
          "1.0.0",
          "2.0.0",
          "3.0.0",
        ])
        await reopened.close()
      })(),
  )

  it(
    "a second open of the same directory fails with DirectoryLocked naming the holder",
    withDirectory("locked", async (directory) => {
      const first = await open(layerFile({ directory }))
      const second = await Effect.runPromise(Effect.scoped(Layer.build(layerFile({ directory }))).pipe(Effect.exit))
      expect(failureOf(second)).toMatchObject({
        _tag: "DirectoryLocked",
        pid: process.pid,
      })
      await first.close()
      const third = await open(layerFile({ directory }))
      await third.close()
    }),
  )
})
