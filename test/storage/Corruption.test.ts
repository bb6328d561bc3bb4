/**
 * The corruption table: real files, damaged on purpose, and the exact outcome of the next open for each. Only a
 * torn tail may be repaired; everything else must fail with `WalCorrupt` and leave the files as they were.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import { segmentFileName, snapshotFileName } from "../../src/storage/FileNames.ts"
import { layerFileSystem } from "../../src/storage/FileStorage.ts"
import { collect, listing, makeTempDirectory, nodeLayer, type Ports, plain, records, withPorts } from "./harness.ts"

const openDir = (directory: string) => layerFileSystem({ directory }).pipe(Layer.provide(nodeLayer))
const withDir = <A, E>(directory: string, f: (ports: Ports) => Effect.Effect<A, E>) => withPorts(openDir(directory), f)

const openFailure = (directory: string) =>
  Effect.gen(function* () {
    const exit = yield* withDir(directory, () => Effect.void).pipe(Effect.exit)
    if (Exit.isSuccess(exit)) throw new Error("expected open to fail")
    return Cause.squash(exit.cause)
  })

const seg = (directory: string, firstSeq: number) => `${directory}/${segmentFileName(firstSeq)}`
const snap = (directory: string, lastSeq: number) => `${directory}/${snapshotFileName(lastSeq)}`

// Five records "event 1".."event 5": 49 + 7 = 56 bytes each after the 96-byte segment header.
const recordOffset = (seq: number) => 96 + (seq - 1) * 56
const fiveRecords = (directory: string) => withDir(directory, ({ wal }) => wal.append(records(1, 5)))

layer(NodeContext.layer)("corruption table (real files)", (it) => {
  it.scoped("a cut at every byte offset of the last record is a torn tail: repaired, reported exactly", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* fiveRecords(directory)
      const file = seg(directory, 1)
      const original = yield* fs.readFile(file)
      const start = recordOffset(5)
      expect(original.length).toBe(start + 56)
      for (let cut = start; cut < original.length; cut++) {
        yield* fs.writeFile(file, original.subarray(0, cut))
        yield* withDir(directory, ({ wal }) =>
          Effect.gen(function* () {
            expect(yield* wal.lastSeq).toBe(4)
            expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, 4)))
            const dropped = cut - start
            const reason =
              dropped < 49
                ? `record header truncated (${dropped} of 49 bytes)`
                : `record truncated (${dropped} of 56 bytes)`
            expect(wal.recovery.tornTail).toEqual(
              cut === start
                ? Option.none()
                : Option.some({
                    file,
                    offset: start,
                    bytesDropped: dropped,
                    recordsDropped: 1,
                    brokenFile: `${file}.${start}.broken`,
                    reason,
                  }),
            )
          }),
        )
        expect((yield* fs.readFile(file)).length).toBe(start)
        if (cut > start) {
          expect(Array.from(yield* fs.readFile(`${file}.${start}.broken`))).toEqual(
            Array.from(original.subarray(start, cut)),
          )
          yield* fs.remove(`${file}.${start}.broken`)
        }
        // The repair was durable and complete: the next open finds nothing to do.
        const again = yield* withDir(directory, ({ wal }) => Effect.succeed(wal.recovery.tornTail))
        expect(again).toEqual(Option.none())
      }
      // After the repair the log accepts seq 5 again.
      yield* withDir(directory, ({ wal }) => wal.append(records(5, 1)))
      expect(Array.from(yield* fs.readFile(file))).toEqual(Array.from(original))
    }),
  )

  it.scoped.each([
    ["garbage", [0xde, 0xad, 0xbe, 0xef, 1, 2, 3], 1, "record header truncated (7 of 49 bytes)"],
    ["a long run of garbage", Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff), 1, "length"],
    ["zeros", Array.from({ length: 100 }, () => 0), 0, "record type 0"],
    ["a few zeros", Array.from({ length: 9 }, () => 0), 0, "record header truncated (9 of 49 bytes)"],
  ] as const)("%s appended after the last record is repaired as a torn tail", ([, bytes, recordsDropped, reason]) =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* fiveRecords(directory)
      const file = seg(directory, 1)
      const original = yield* fs.readFile(file)
      yield* fs.writeFile(file, new Uint8Array([...original, ...bytes]))
      yield* withDir(directory, ({ wal }) =>
        Effect.gen(function* () {
          const torn = Option.getOrThrow(wal.recovery.tornTail)
          expect(torn).toMatchObject({ file, offset: original.length, bytesDropped: bytes.length, recordsDropped })
          expect(torn.reason).toContain(reason)
          expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, 5)))
        }),
      )
      expect(Array.from(yield* fs.readFile(file))).toEqual(Array.from(original))
    }),
  )

  it.scoped.each([
    ["a payload bit", 3, 52, 0x10, "checksum mismatch, followed by a valid record at offset 264"],
    ["a seq bit", 3, 41, 0x01, "checksum mismatch, followed by a valid record at offset 264"],
    [
      "a length bit",
      2,
      3,
      0x40,
      "length 1073741831 exceeds recordBytesMax 1048576, followed by a valid record at offset 208",
    ],
    ["the type byte to 0", 4, 48, 0x01, "record type 0, followed by a valid record at offset 320"],
  ] as const)(
    "flipping %s in a middle record fails with WalCorrupt at its offset and touches nothing",
    ([, seq, byte, mask, reason]) =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const directory = yield* makeTempDirectory
        yield* fiveRecords(directory)
        const file = seg(directory, 1)
        const bytes = yield* fs.readFile(file)
        bytes[recordOffset(seq) + byte]! ^= mask
        yield* fs.writeFile(file, bytes)
        const before = yield* listing(directory)
        const error = yield* openFailure(directory)
        expect(error).toMatchObject({ _tag: "WalCorrupt", file, offset: recordOffset(seq), seq, reason })
        expect(yield* listing(directory)).toEqual(before)
      }),
  )

  it.scoped("damage inside a sealed segment is WalCorrupt even at its end", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* withDir(directory, ({ wal }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 5))
          yield* wal.rotate
          yield* wal.append(records(6, 5))
        }),
      )
      const file = seg(directory, 1)
      const bytes = yield* fs.readFile(file)
      yield* fs.writeFile(file, bytes.subarray(0, bytes.length - 3))
      const error = yield* openFailure(directory)
      expect(error).toMatchObject({
        _tag: "WalCorrupt",
        file,
        offset: recordOffset(5),
        seq: 5,
        reason: "record truncated (53 of 56 bytes) in a sealed segment",
      })
    }),
  )

  const threeSegments = (directory: string) =>
    withDir(directory, ({ wal }) =>
      Effect.gen(function* () {
        yield* wal.append(records(1, 5))
        yield* wal.rotate
        yield* wal.append(records(6, 5))
        yield* wal.rotate
        yield* wal.append(records(11, 5))
      }),
    )

  it.scoped("a deleted middle segment is WalCorrupt naming the gap", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* threeSegments(directory)
      yield* fs.remove(seg(directory, 6))
      const before = yield* listing(directory)
      expect(yield* openFailure(directory)).toMatchObject({
        _tag: "WalCorrupt",
        file: seg(directory, 11),
        offset: 0,
        seq: 11,
        reason: `missing segment: expected seq 6 after ${segmentFileName(1)}, this segment starts at 11`,
      })
      expect(yield* listing(directory)).toEqual(before)
    }),
  )

  it.scoped("a deleted first segment with no snapshot to cover it is WalCorrupt", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* threeSegments(directory)
      yield* fs.remove(seg(directory, 1))
      expect(yield* openFailure(directory)).toMatchObject({
        _tag: "WalCorrupt",
        file: seg(directory, 6),
        offset: 0,
        seq: 1,
        reason: "the log starts at seq 6 but an empty state covers only up to seq 0",
      })
    }),
  )

  it.scoped("a wrong magic, version or header checksum is WalCorrupt at offset 0", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* threeSegments(directory)
      const file = seg(directory, 6)
      const original = yield* fs.readFile(file)
      const cases: Array<[number, number, string]> = [
        [0, 0x01, "wrong magic: not a WAL segment"],
        [4, 0x01, "unsupported format version 3"],
        [30, 0x01, "segment header checksum mismatch"],
      ]
      for (const [byte, mask, reason] of cases) {
        const bytes = new Uint8Array(original)
        bytes[byte]! ^= mask
        yield* fs.writeFile(file, bytes)
        expect(yield* openFailure(directory)).toMatchObject({ _tag: "WalCorrupt", file, offset: 0, seq: 6, reason })
      }
    }),
  )

  it.scoped("a segment from another registry is WalCorrupt (foreign registry id)", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const mine = yield* makeTempDirectory
      const theirs = yield* makeTempDirectory
      yield* threeSegments(mine)
      yield* threeSegments(theirs)
      yield* fs.copyFile(seg(theirs, 11), seg(mine, 11))
      const error = yield* openFailure(mine)
      expect(error).toMatchObject({ _tag: "WalCorrupt", file: seg(mine, 11), offset: 0, seq: 11 })
      expect((error as { reason: string }).reason).toMatch(
        /^foreign registry id [0-9a-f]{32} \(expected [0-9a-f]{32}\)$/,
      )
    }),
  )

  const compactedTwice = (directory: string) =>
    withDir(directory, ({ wal, snapshots }) =>
      Effect.gen(function* () {
        const state = (seq: number) => new TextEncoder().encode(`state@${seq}`)
        for (const upTo of [5, 10, 15]) {
          yield* wal.append(records(upTo - 4, 5))
          yield* wal.rotate
          yield* snapshots.write({ lastSeq: upTo, state: state(upTo) })
          yield* wal.deleteSegmentsUpTo(upTo)
        }
        yield* wal.append(records(16, 2))
        expect(yield* wal.firstSeq).toBe(11) // retained snapshots 15 and 10; the floor is 10
      }),
    )

  const flipLastByte = (file: string) =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const bytes = yield* fs.readFile(file)
      bytes[bytes.length - 1]! ^= 0xff
      yield* fs.writeFile(file, bytes)
    })

  // Segments 1..5 and 6..10 sealed, a snapshot at 10 covering both, and 11..12 in the newest segment.
  const coveredTwice = (directory: string) =>
    withDir(directory, ({ wal, snapshots }) =>
      Effect.gen(function* () {
        yield* wal.append(records(1, 5))
        yield* wal.rotate
        yield* wal.append(records(6, 5))
        yield* wal.rotate
        yield* snapshots.write({ lastSeq: 10, state: new Uint8Array([10]) })
        yield* wal.append(records(11, 2))
      }),
    )
  const readFailure = (directory: string, from: number) =>
    withDir(directory, ({ wal }) =>
      Effect.gen(function* () {
        expect(yield* wal.lastSeq).toBe(12)
        expect(plain(yield* collect(wal.read(11)))).toEqual(plain(records(11, 2)))
        const exit = yield* Effect.exit(collect(wal.read(from)))
        if (Exit.isSuccess(exit)) throw new Error("expected the read to fail")
        return Cause.squash(exit.cause)
      }),
    )

  it.scoped.each([
    [1, 0, 0x01, "checksum mismatch in a sealed segment"],
    [5, 20, 0x80, "checksum mismatch in a sealed segment"],
    [7, 3, 0x40, "length 1073741831 exceeds recordBytesMax 1048576 in a sealed segment"],
    [10, 8, 0x01, "checksum mismatch in a sealed segment"],
  ] as const)(
    "damage to record %i of a segment the snapshot covers: the open succeeds, a read across it fails",
    ([seq, byte, mask, reason]) =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const directory = yield* makeTempDirectory
        yield* coveredTwice(directory)
        const firstSeq = seq <= 5 ? 1 : 6
        const file = seg(directory, firstSeq)
        const bytes = yield* fs.readFile(file)
        bytes[recordOffset(seq - firstSeq + 1) + byte]! ^= mask
        yield* fs.writeFile(file, bytes)
        const before = yield* listing(directory)
        const error = yield* readFailure(directory, firstSeq)
        expect(error).toMatchObject({ _tag: "WalCorrupt", file, offset: recordOffset(seq - firstSeq + 1), seq, reason })
        expect(yield* listing(directory)).toEqual(before)
      }),
  )

  it.scoped("bytes past the last record of a covered segment fail its read", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* coveredTwice(directory)
      const file = seg(directory, 6)
      const original = yield* fs.readFile(file)
      yield* fs.writeFile(file, new Uint8Array([...original, 0, 0, 0]))
      expect(yield* readFailure(directory, 9)).toMatchObject({
        _tag: "WalCorrupt",
        file,
        offset: original.length,
        seq: 11,
        reason: "record header truncated (3 of 49 bytes) in a sealed segment",
      })
    }),
  )

  it.scoped("damage to a sealed segment that reaches past the snapshot still fails the open", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* withDir(directory, ({ wal, snapshots }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 5))
          yield* wal.rotate
          yield* wal.append(records(6, 5))
          yield* wal.rotate
          yield* snapshots.write({ lastSeq: 9, state: new Uint8Array([9]) })
          yield* wal.append(records(11, 2))
        }),
      )
      const file = seg(directory, 6)
      const bytes = yield* fs.readFile(file)
      bytes[recordOffset(2) + 20]! ^= 0x80
      yield* fs.writeFile(file, bytes)
      const before = yield* listing(directory)
      expect(yield* openFailure(directory)).toMatchObject({
        _tag: "WalCorrupt",
        file,
        offset: recordOffset(2),
        seq: 7,
        reason: "checksum mismatch in a sealed segment",
      })
      expect(yield* listing(directory)).toEqual(before)
    }),
  )

  it.scoped("a covered segment's header is still checked at open", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* coveredTwice(directory)
      const file = seg(directory, 1)
      const bytes = yield* fs.readFile(file)
      bytes[30]! ^= 0x01
      yield* fs.writeFile(file, bytes)
      expect(yield* openFailure(directory)).toMatchObject({
        _tag: "WalCorrupt",
        file,
        offset: 0,
        seq: 1,
        reason: "segment header checksum mismatch",
      })
      yield* fs.writeFile(file, bytes.subarray(0, 40))
      expect(yield* openFailure(directory)).toMatchObject({
        _tag: "WalCorrupt",
        file,
        offset: 0,
        seq: 1,
        reason: "segment header truncated (40 of 64 bytes)",
      })
    }),
  )

  it.scoped("a corrupt newest snapshot falls back to the previous one plus the log, and says so", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* compactedTwice(directory)
      yield* flipLastByte(snap(directory, 15))
      yield* withDir(directory, ({ wal, snapshots }) =>
        Effect.gen(function* () {
          expect(wal.recovery.snapshotFallbacks).toEqual([
            {
              file: snap(directory, 15),
              reason: "snapshot checksum mismatch",
              brokenFile: `${snap(directory, 15)}.broken`,
            },
          ])
          const latest = Option.getOrThrow(yield* snapshots.latest)
          expect(latest.lastSeq).toBe(10)
          expect(new TextDecoder().decode(latest.state)).toBe("state@10")
          expect((yield* collect(wal.read(11))).map((r) => r.seq)).toEqual([11, 12, 13, 14, 15, 16, 17])
        }),
      )
      expect(yield* fs.exists(snap(directory, 15))).toBe(false)
      expect(yield* fs.exists(`${snap(directory, 15)}.broken`)).toBe(true)
    }),
  )

  it.scoped("corrupt snapshots that the log cannot replace fail loudly with WalCorrupt", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      yield* compactedTwice(directory)
      yield* flipLastByte(snap(directory, 15))
      yield* flipLastByte(snap(directory, 10))
      const before = yield* listing(directory)
      expect(yield* openFailure(directory)).toMatchObject({
        _tag: "WalCorrupt",
        file: snap(directory, 15),
        offset: 0,
        seq: 15,
        reason:
          "snapshot checksum mismatch; falling back to an empty state would need the log from seq 1, but it starts at 11",
      })
      expect(yield* listing(directory)).toEqual(before)
    }),
  )

  it.scoped("a corrupt only snapshot falls back to the full log while the log starts at seq 1", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      yield* withDir(directory, ({ wal, snapshots }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 5))
          yield* snapshots.write({ lastSeq: 5, state: new Uint8Array([5]) })
        }),
      )
      const fs = yield* FileSystem.FileSystem
      yield* fs.writeFile(snap(directory, 5), new Uint8Array(10))
      yield* withDir(directory, ({ wal, snapshots }) =>
        Effect.gen(function* () {
          expect(wal.recovery.snapshotFallbacks.map((f) => f.reason)).toEqual(["snapshot truncated (10 bytes)"])
          expect(yield* snapshots.latest).toEqual(Option.none())
          expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, 5)))
        }),
      )
    }),
  )

  it.scoped("stray .tmp files are removed and listed", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      yield* fiveRecords(directory)
      const strays = [`${snap(directory, 5)}.tmp`, `${seg(directory, 6)}.tmp`, `${directory}/observers.cursor.tmp`]
      for (const stray of strays) yield* fs.writeFile(stray, new Uint8Array([1, 2, 3]))
      yield* withDir(directory, ({ wal }) =>
        Effect.gen(function* () {
          expect(wal.recovery.tmpFilesRemoved).toEqual([...strays].sort())
          expect(yield* wal.lastSeq).toBe(5)
        }),
      )
      for (const stray of strays) expect(yield* fs.exists(stray)).toBe(false)
    }),
  )
})
