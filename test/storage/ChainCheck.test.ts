/**
 * The hash chain on real segment files: a log written now is chained from its first record through every segment,
 * compaction and restart (the snapshot anchoring what compaction deleted); a record rewritten with a recomputed
 * checksum opens fine and is found by `checkChain` at its seq; a directory of an earlier release starts its chain
 * at the first record written after it is opened; a torn tail's repair continues the chain from the record kept.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Option } from "effect"
import { checkChain } from "../../src/storage/ChainCheck.ts"
import { chainValueBytes } from "../../src/storage/ChainDigest.ts"
import { crc32 } from "../../src/storage/Checksum.ts"
import { segmentFileName } from "../../src/storage/FileNames.ts"
import { layerFileSystem } from "../../src/storage/FileStorage.ts"
import type { StorageLimits } from "../../src/storage/Limits.ts"
import { chainedRecordOffset, recordHeaderBytes } from "../../src/storage/RecordCodec.ts"
import { segmentHeaderBytes } from "../../src/storage/SegmentHeader.ts"
import { SnapshotStore } from "../../src/storage/SnapshotStore.ts"
import { Wal } from "../../src/storage/Wal.ts"
import { collect, makeTempDirectory, nodeLayer, type Ports, plain, records } from "./harness.ts"

const limits = { segmentBytesMax: 600, recordBytesMax: 256 } as const

const withPorts = <A, E>(
  directory: string,
  use: (ports: Ports) => Effect.Effect<A, E>,
  options: Partial<StorageLimits> & { readonly readOnly?: boolean } = limits,
) =>
  Effect.scoped(
    Effect.flatMap(Layer.build(layerFileSystem({ directory, ...options }).pipe(Layer.provide(nodeLayer))), (context) =>
      use({ wal: Context.get(context, Wal), snapshots: Context.get(context, SnapshotStore) }),
    ),
  )

/** The chain check with the newest snapshot's chain value as its anchor, as `verify --chain` runs it. */
const check = (directory: string) =>
  Effect.gen(function* () {
    const latest = yield* withPorts(directory, ({ snapshots }) => snapshots.latest, { ...limits, readOnly: true })
    const anchor = Option.getOrUndefined(latest)
    return yield* checkChain(
      directory,
      limits.recordBytesMax,
      anchor?.chainHead === undefined ? undefined : { lastSeq: anchor.lastSeq, chainHead: anchor.chainHead },
    ).pipe(Effect.provide(NodeContext.layer))
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => (Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined)

/** Appends `count` records from `firstSeq` in batches of two. */
const appendAll = (wal: Wal, firstSeq: number, count: number) =>
  Effect.forEach(
    Array.from({ length: Math.ceil(count / 2) }, (_, i) => records(firstSeq + 2 * i, Math.min(2, count - 2 * i))),
    (batch) => wal.append(batch),
    { discard: true },
  )

const segmentsOf = (directory: string) =>
  Effect.map(
    Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readDirectory(directory)),
    (names) =>
      names
        .filter((n) => n.endsWith(".seg"))
        .map((n) => Number(n.slice(4, -4)))
        .sort((a, b) => a - b),
  ).pipe(Effect.provide(NodeContext.layer), Effect.orDie)

/**
 * Rewrites one payload byte of record `seq` and recomputes its checksum, as someone who knows the format would:
 * every checksum in the directory still passes.
 */
const rewrite = (directory: string, seq: number) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const firstSeq = (yield* segmentsOf(directory)).filter((first) => first <= seq).at(-1)!
    const file = `${directory}/${segmentFileName(firstSeq)}`
    const bytes = yield* fs.readFile(file)
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
    const offset = chainedRecordOffset(bytes, segmentHeaderBytes, firstSeq, seq)
    const end = offset + recordHeaderBytes + view.getUint32(offset, true)
    bytes[end - 1]! ^= 0x20
    view.setUint32(offset + 4, crc32(bytes.subarray(offset + 8, end), view.getUint32(24, true)), true)
    yield* fs.writeFile(file, bytes)
  }).pipe(Effect.provide(NodeContext.layer), Effect.orDie)

describe("hash chain (real files)", () => {
  it.scoped("is chained from seq 1 through segment rolls, compaction and restarts, and anchored by the snapshot", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      yield* withPorts(directory, ({ wal, snapshots }) =>
        Effect.gen(function* () {
          yield* appendAll(wal, 1, 10)
          yield* wal.rotate
          yield* snapshots.write({ lastSeq: 10, state: new Uint8Array([10]) })
          yield* appendAll(wal, 11, 6)
          yield* wal.rotate
          yield* snapshots.write({ lastSeq: 16, state: new Uint8Array([16]) })
          yield* wal.deleteSegmentsUpTo(16)
        }),
      )
      const compacted = yield* segmentsOf(directory)
      expect(compacted[0]).toBeGreaterThan(1)
      // After a restart the chain goes on from the value stored in the last record.
      yield* withPorts(directory, ({ wal }) => appendAll(wal, 17, 7))
      const report = yield* check(directory)
      expect(report).toMatchObject({
        unchainedThrough: undefined,
        chainedFrom: compacted[0],
        lastSeq: 23,
        anchoredAt: 16,
      })
      expect(report.head).toMatch(/^[0-9a-f]{64}$/)
      // The same records written in one run give the same chain: the value depends on the records alone.
      const again = yield* makeTempDirectory
      yield* withPorts(again, ({ wal }) => appendAll(wal, 1, 23))
      expect((yield* check(again)).head).toBe(report.head)
    }),
  )

  it.scoped("finds a record rewritten with a recomputed checksum at its seq, which the open does not notice", () =>
    Effect.gen(function* () {
      const template = yield* makeTempDirectory
      yield* withPorts(template, ({ wal }) => appendAll(wal, 1, 20))
      expect((yield* segmentsOf(template)).length).toBeGreaterThan(2)
      for (let seq = 1; seq <= 20; seq++) {
        const directory = yield* makeTempDirectory
        const fs = yield* Effect.provide(FileSystem.FileSystem, NodeContext.layer)
        for (const first of yield* segmentsOf(template))
          yield* Effect.orDie(
            fs.copyFile(`${template}/${segmentFileName(first)}`, `${directory}/${segmentFileName(first)}`),
          ).pipe(Effect.provide(NodeContext.layer))
        yield* rewrite(directory, seq)
        const read = yield* withPorts(directory, ({ wal }) => collect(wal.read(1)), { ...limits, readOnly: true })
        expect(read.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
        const failure = failureOf(yield* Effect.exit(check(directory)))
        expect(failure).toMatchObject({ _tag: "WalCorrupt", seq })
        expect((failure as { reason: string }).reason).toBe(
          `hash chain broken at seq ${seq}: the record's bytes do not produce its stored chain value`,
        )
      }
    }),
  )

  it.scoped("refuses a snapshot whose chain value is not the log's at its seq", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      yield* withPorts(directory, ({ wal }) => appendAll(wal, 1, 6))
      const run = (chainHead: Uint8Array) =>
        checkChain(directory, limits.recordBytesMax, { lastSeq: 4, chainHead }).pipe(Effect.provide(NodeContext.layer))
      expect(failureOf(yield* Effect.exit(run(new Uint8Array(chainValueBytes))))).toMatchObject({
        _tag: "WalCorrupt",
        seq: 4,
        reason: "hash chain broken at seq 4: the snapshot at seq 4 records another chain value",
      })
    }),
  )

  it.scoped("continues from the last record kept after a torn tail is cut off", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      yield* withPorts(directory, ({ wal }) => appendAll(wal, 1, 3))
      const fs = yield* Effect.provide(FileSystem.FileSystem, NodeContext.layer)
      const newest = `${directory}/${segmentFileName((yield* segmentsOf(directory)).at(-1)!)}`
      const bytes = yield* Effect.orDie(fs.readFile(newest)).pipe(Effect.provide(NodeContext.layer))
      yield* Effect.orDie(fs.writeFile(newest, new Uint8Array([...bytes, 9, 9, 9, 9, 9]))).pipe(
        Effect.provide(NodeContext.layer),
      )
      yield* withPorts(directory, ({ wal }) =>
        Effect.gen(function* () {
          expect(Option.isSome(wal.recovery.tornTail)).toBe(true)
          yield* appendAll(wal, 4, 3)
        }),
      )
      expect(yield* check(directory)).toMatchObject({ chainedFrom: 1, lastSeq: 6 })
    }),
  )

  it.scoped("an earlier release's directory opens unchanged; its chain starts at the first record written after", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      const fs = yield* Effect.provide(FileSystem.FileSystem, NodeContext.layer)
      yield* Effect.orDie(fs.copy("test/fixtures/release-0.1.0", directory, { overwrite: true })).pipe(
        Effect.provide(NodeContext.layer),
      )
      expect(yield* check(directory)).toMatchObject({ unchainedThrough: 18, chainedFrom: undefined, lastSeq: 18 })
      yield* withPorts(
        directory,
        ({ wal }) =>
          Effect.gen(function* () {
            yield* wal.append(records(19, 2))
            yield* wal.append(records(21, 1))
            expect((yield* wal.segments).at(-1)).toMatchObject({ firstSeq: 19, lastSeq: 21 })
          }),
        {},
      )
      expect(yield* segmentsOf(directory)).toEqual([6, 16, 19])
      expect(yield* check(directory)).toMatchObject({ unchainedThrough: 18, chainedFrom: 19, lastSeq: 21 })
      const tail = yield* withPorts(directory, ({ wal }) => collect(wal.read(16)), { readOnly: true })
      expect(plain(tail.slice(3))).toEqual(plain(records(19, 3)))
    }),
  )

  it.scoped("an empty newest segment of an earlier release is replaced by a chained one before the first append", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      // A format-1 header (64 bytes) for records from seq 1, as an earlier release created it, and nothing after.
      const header = new Uint8Array(64)
      const view = new DataView(header.buffer)
      view.setUint32(0, 0x4c575456, true)
      view.setUint16(4, 1, true)
      header[6] = 1
      header.fill(3, 8, 24)
      view.setUint32(24, 77, true)
      view.setUint32(32, 1, true)
      view.setUint32(60, crc32(header.subarray(0, 60), 0), true)
      const fs = yield* Effect.provide(FileSystem.FileSystem, NodeContext.layer)
      const file = `${directory}/${segmentFileName(1)}`
      yield* Effect.orDie(fs.writeFile(file, header)).pipe(Effect.provide(NodeContext.layer))
      yield* withPorts(directory, ({ wal }) => appendAll(wal, 1, 3))
      expect(yield* segmentsOf(directory)).toEqual([1])
      const bytes = yield* Effect.orDie(fs.readFile(file)).pipe(Effect.provide(NodeContext.layer))
      expect(new DataView(bytes.buffer, bytes.byteOffset).getUint16(4, true)).toBe(2)
      expect(Array.from(bytes.subarray(8, 24))).toEqual(Array.from(header.subarray(8, 24)))
      expect(yield* check(directory)).toMatchObject({ unchainedThrough: undefined, chainedFrom: 1, lastSeq: 3 })
    }),
  )
})
