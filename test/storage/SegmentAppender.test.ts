/**
 * The Node composition's segment appender (writeSync, then fdatasync on the thread pool): appends every byte,
 * truncates back, maps errors to the same `SystemError` reasons as @effect/platform-node, and is what the file
 * WAL uses when the Node layer is provided, so a registry reopened from it replays what it acknowledged. And
 * `appendDurably`, the rule both that appender and the `FileSystem` path follow: what each failure means.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { SystemError } from "@effect/platform/Error"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { ModelRegistry } from "../../src/effects/ModelRegistry.ts"
import { layerFile, layerSegmentAppender } from "../../src/node.ts"
import {
  type ActiveSegmentFile,
  type AppendStepFailed,
  appendDurably,
  fromSteps,
  SegmentAppender,
  writeFully,
} from "../../src/storage/SegmentAppender.ts"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "segment-appender-"))

describe("layerSegmentAppender", () => {
  it.effect("appends, syncs and truncates back", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "seg")
      fs.writeFileSync(file, "head:")
      const appender = yield* SegmentAppender
      yield* Effect.scoped(
        Effect.gen(function* () {
          const active = yield* appender.open(file)
          yield* active.writeAllAndSync(new TextEncoder().encode("one,"))
          yield* active.writeAllAndSync(new Uint8Array(0))
          yield* active.writeAllAndSync(new TextEncoder().encode("two"))
          expect(fs.readFileSync(file, "utf8")).toBe("head:one,two")
          yield* active.truncate(9)
          yield* active.sync
          yield* active.writeAllAndSync(new TextEncoder().encode("three"))
        }),
      )
      expect(fs.readFileSync(file, "utf8")).toBe("head:one,three")
    }).pipe(Effect.provide(layerSegmentAppender)),
  )

  it.effect("fails with the platform's SystemError reasons", () =>
    Effect.gen(function* () {
      const appender = yield* SegmentAppender
      const exit = yield* Effect.scoped(appender.open(path.join(tempDir(), "missing", "seg"))).pipe(Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(exit.cause).toMatchObject({ error: { _tag: "SystemError", reason: "NotFound" } })
    }).pipe(Effect.provide(layerSegmentAppender)),
  )

  it("is what the file registry writes through: acknowledged registers survive a reopen", async () => {
    const directory = tempDir()
    const registerAll = Effect.gen(function* () {
      const registry = yield* ModelRegistry
      yield* Effect.all(
        Array.from({ length: 200 }, (_, i) => registry.register({ name: `m${i % 7}`, version: `1.0.${i}` })),
        { concurrency: "unbounded" },
      )
    })
    const withRegistry = <A, E>(effect: Effect.Effect<A, E, ModelRegistry>) =>
      Effect.runPromise(Effect.provide(effect, layerFile({ directory })))
    await withRegistry(registerAll)
    const versions = await withRegistry(Effect.flatMap(ModelRegistry, (registry) => registry.stats))
    expect(versions.versions).toBe(200)
    expect(versions.lastSeq).toBe(200)
  })
})

/**
 * An active file over an array of bytes whose next write, truncate or sync can be made to fail: `fromSteps` over
 * separate write and sync effects (the `FileSystem` path), or both in one effect (as the Node appender does).
 */
const scriptedFile = (fail: { write?: boolean; truncate?: boolean; sync?: boolean }, fused: boolean) => {
  const calls: Array<string> = []
  let content: Array<number> = []
  const error = (method: string) =>
    new SystemError({ module: "FileSystem", method, reason: "Unknown", description: `injected ${method} failure` })
  const writeNow = (bytes: Uint8Array) => {
    calls.push("write")
    // Half lands before the failure, like ENOSPC.
    content = [...content, ...(fail.write ? bytes.subarray(0, bytes.length >> 1) : bytes)]
    return fail.write ? error("writeAll") : undefined
  }
  const syncNow = () => {
    calls.push("sync")
    return fail.sync ? error("sync") : undefined
  }
  const sync = Effect.suspend(() => {
    const failed = syncNow()
    return failed ? Effect.fail(failed) : Effect.void
  })
  const truncate = (length: number | bigint) =>
    Effect.suspend(() => {
      calls.push(`truncate ${length}`)
      if (fail.truncate) return Effect.fail(error("truncate"))
      content = content.slice(0, Number(length))
      return Effect.void
    })
  const file: ActiveSegmentFile = fused
    ? {
        writeAllAndSync: (bytes) =>
          Effect.suspend((): Effect.Effect<void, AppendStepFailed> => {
            const writeFailed = writeNow(bytes)
            if (writeFailed) return Effect.fail({ step: "write" as const, error: writeFailed })
            const syncFailed = syncNow()
            return syncFailed ? Effect.fail({ step: "sync" as const, error: syncFailed }) : Effect.void
          }),
        sync,
        truncate,
      }
    : fromSteps({
        writeAll: (bytes) =>
          Effect.suspend(() => {
            const failed = writeNow(bytes)
            return failed ? Effect.fail(failed) : Effect.void
          }),
        sync,
        truncate,
      })
  return { file, calls, content: () => content }
}

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Cause.squash(exit.cause)
}

describe.each([
  ["write and sync as separate steps", false],
  ["write and sync as one step", true],
])("appendDurably, %s", (_, fused) => {
  const bytes = new Uint8Array([1, 2, 3, 4])

  it.effect("writes, then syncs", () =>
    Effect.gen(function* () {
      const { file, calls, content } = scriptedFile({}, fused)
      yield* appendDurably(file, "seg", 0, bytes)
      expect(calls).toEqual(["write", "sync"])
      expect(content()).toEqual([1, 2, 3, 4])
    }),
  )

  it.effect("a failed write is cut back to the old length and the cut synced; only the write is reported", () =>
    Effect.gen(function* () {
      const { file, calls, content } = scriptedFile({ write: true }, fused)
      const failure = failureOf(yield* appendDurably(file, "seg", 0, bytes).pipe(Effect.exit))
      expect(failure).toMatchObject({ _tag: "StorageFailed", operation: "write", path: "seg" })
      expect(calls).toEqual(["write", "truncate 0", "sync"])
      expect(content()).toEqual([])
    }),
  )

  it.effect("a failed cut-back loses durability but still reports the write", () =>
    Effect.gen(function* () {
      const { file } = scriptedFile({ write: true, truncate: true }, fused)
      const failure = failureOf(yield* appendDurably(file, "seg", 0, bytes).pipe(Effect.exit))
      expect(failure).toMatchObject({
        _tag: "DurabilityLost",
        failure: { operation: "truncate" },
        reported: { operation: "write" },
      })
    }),
  )

  it.effect("a failed sync loses durability", () =>
    Effect.gen(function* () {
      const { file } = scriptedFile({ sync: true }, fused)
      const failure = failureOf(yield* appendDurably(file, "seg", 0, bytes).pipe(Effect.exit))
      expect(failure).toMatchObject({ _tag: "DurabilityLost", failure: { operation: "fsync", path: "seg" } })
    }),
  )
})

describe("writeFully", () => {
  it("continues short writes until every byte is written", () => {
    const out: Array<number> = []
    const calls: Array<[number, number]> = []
    writeFully(new Uint8Array([1, 2, 3, 4, 5]), (bytes, offset, length) => {
      calls.push([offset, length])
      const n = Math.min(2, length)
      out.push(...bytes.subarray(offset, offset + n))
      return n
    })
    expect(out).toEqual([1, 2, 3, 4, 5])
    expect(calls).toEqual([
      [0, 5],
      [2, 3],
      [4, 1],
    ])
  })

  it("throws WriteZero instead of looping when a write makes no progress", () => {
    expect(() => writeFully(new Uint8Array([1]), () => 0)).toThrow(expect.objectContaining({ code: "WriteZero" }))
  })
})
