/**
 * Inspection streams: `dump` decodes the log as its consumer pulls it, a segment at a time and a bounded chunk of
 * events at a time, so a long log never sits in memory whole (200,000 versions took 493 MB when it did).
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Context, Effect, Exit, Layer, Option, Stream } from "effect"
import { dump, verify } from "../../src/effects/Inspection.ts"
import * as Registry from "../../src/effects/ModelRegistry.ts"
import { layerFile, layerNode } from "../../src/node.ts"
import { makeTempDirectory } from "../storage/harness.ts"

/**
 * Registers `count` versions of one model, each carrying `padBytes` of metrics, `concurrency` at a time (a batch
 * is never split across segments, so small segments need small batches).
 */
const fill = (
  directory: string,
  count: number,
  padBytes: number,
  concurrency: number | "unbounded",
  limits: Omit<Registry.FileSystemRegistryOptions, "directory"> = {},
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const context = yield* Layer.build(layerFile({ directory, ...limits }))
      const registry = Context.get(context, Registry.ModelRegistry)
      yield* Effect.forEach(
        Array.from({ length: count }, (_, i) => i),
        (i) => registry.register({ name: "m", version: `1.0.${i}`, metrics: { pad: "x".repeat(padBytes) } }),
        { concurrency, discard: true },
      )
    }),
  )

/** Node's file system, with every `readFile` path recorded in order. */
const countingReads = (reads: Array<string>) =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (fs) => ({
      ...fs,
      readFile: (path: string) =>
        Effect.zipRight(
          Effect.sync(() => reads.push(path)),
          fs.readFile(path),
        ),
    })),
  ).pipe(Layer.provide(NodeContext.layer))

describe("Inspection.dump", () => {
  it.scoped("hands over each segment's events before it reads the next segment", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      yield* fill(directory, 40, 300, 1, { segmentBytesMax: 4096, recordBytesMax: 1024 })
      const fs = yield* Effect.provide(FileSystem.FileSystem, NodeContext.layer)
      const firstSeqs = (yield* Effect.provide(fs.readDirectory(directory), NodeContext.layer))
        .filter((name) => name.endsWith(".seg"))
        .map((name) => Number(name.slice(4, -4)))
        .sort((a, b) => a - b)
      expect(firstSeqs.length).toBeGreaterThanOrEqual(3)
      const segmentOf = (seq: number) => firstSeqs.filter((first) => first <= seq).length - 1

      const reads: Array<string> = []
      const seen: Array<{ readonly seq: number; readonly segmentsRead: number }> = []
      const segmentReads = () => reads.filter((path) => path.endsWith(".seg")).length
      yield* Stream.runForEach(
        dump(directory).pipe(Stream.provideLayer(Layer.merge(layerNode, countingReads(reads)))),
        (event) => Effect.sync(() => seen.push({ seq: event.seq, segmentsRead: segmentReads() })),
      )
      // Opening read every segment once (to check it); the dump then reads them again, one per step.
      expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
      expect(seen.map((e) => e.segmentsRead - firstSeqs.length)).toEqual(seen.map((e) => segmentOf(e.seq) + 1))
    }),
  )

  it.scoped("hands a segment's events over in chunks of at most 4,096, never the segment in one", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      yield* fill(directory, 9000, 0, "unbounded")
      const sizes = yield* Stream.runCollect(
        dump(directory).pipe(Stream.provideLayer(layerNode), Stream.chunks, Stream.map(Chunk.size)),
      )
      expect(Chunk.reduce(sizes, 0, (total, size) => total + size)).toBe(9000)
      expect(Math.max(...sizes)).toBeLessThanOrEqual(4096)
    }),
  )
})

describe("Inspection.verify", () => {
  it.scoped("checks every record, those of sealed segments a snapshot covers (which an open skips) too", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      const limits = { segmentBytesMax: 4096, recordBytesMax: 1024 }
      yield* fill(directory, 40, 300, 1, limits)
      const openAndGet = (compact: boolean) =>
        Effect.scoped(
          Effect.gen(function* () {
            const context = yield* Layer.build(layerFile({ directory, ...limits }))
            const registry = Context.get(context, Registry.ModelRegistry)
            if (compact) yield* registry.compact
            return yield* registry.get("m", "1.0.39")
          }),
        )
      yield* openAndGet(true)
      const fs = yield* Effect.provide(FileSystem.FileSystem, NodeContext.layer)
      const first = `${directory}/wal-0000000000000001.seg`
      const bytes = yield* Effect.provide(fs.readFile(first), NodeContext.layer)
      bytes[100]! ^= 0x01
      yield* Effect.provide(fs.writeFile(first, bytes), NodeContext.layer)
      // The open replays from the snapshot on, so the damaged segment does not stop the registry.
      expect((yield* openAndGet(false)).version).toBe("1.0.39")
      const exit = yield* Effect.exit(Effect.provide(verify(directory), layerNode))
      if (Exit.isSuccess(exit)) throw new Error("expected verify to fail")
      expect(Cause.squash(exit.cause)).toMatchObject({
        _tag: "WalCorrupt",
        file: first,
        seq: 1,
        reason: "checksum mismatch in a sealed segment",
      })
    }),
  )

  it.scoped("checks the hash chain of the committed format-2 fixture, which opens unchanged and goes on chaining", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      const fs = yield* Effect.provide(FileSystem.FileSystem, NodeContext.layer)
      yield* Effect.provide(fs.copy("test/fixtures/chained-log", directory, { overwrite: true }), NodeContext.layer)
      const report = yield* Effect.provide(verify(directory, { chain: true }), layerNode)
      expect(report).toMatchObject({ firstSeq: 6, lastSeq: 14, events: 9 })
      expect(Option.getOrThrow(report.snapshot)).toEqual({ lastSeq: 11, versions: 9 })
      expect(Option.getOrThrow(report.chain)).toEqual({
        unchainedThrough: undefined,
        chainedFrom: 6,
        lastSeq: 14,
        head: "2f0e6487ce6afa5e57b71f387e1d6dd48f04c20caf28122ec387af539f80b70a",
        anchoredAt: 11,
      })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const registry = Context.get(yield* Layer.build(layerFile({ directory })), Registry.ModelRegistry)
          expect((yield* registry.get("ocr", "0.3.0")).state).toBe("production")
          yield* registry.register({ name: "ocr", version: "0.4.0" })
        }),
      )
      const after = yield* Effect.provide(verify(directory, { chain: true }), layerNode)
      expect(Option.getOrThrow(after.chain)).toMatchObject({ chainedFrom: 6, lastSeq: 15, anchoredAt: 11 })
    }),
  )

  it.scoped("without `chain` does not recompute it", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      yield* fill(directory, 3, 0, 1)
      expect((yield* Effect.provide(verify(directory), layerNode)).chain).toEqual(Option.none())
    }),
  )
})
