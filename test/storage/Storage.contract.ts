/**
 * The contract every `Wal` + `SnapshotStore` implementation must meet, run against each backend by
 * `Storage.test.ts`. Crash recovery and corruption are file-only and live in their own suites.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import fc from "fast-check"
import { segmentHeaderBytes } from "../../src/storage/SegmentHeader.ts"
import type { WalRecord } from "../../src/storage/Wal.ts"
import { type Backend, collect, plain, record, records, withPorts } from "./harness.ts"

const utf8 = new TextEncoder()

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Cause.squash(exit.cause)
}

export const storageContract = (backend: Backend) =>
  describe(`storage contract: ${backend.name}`, () => {
    it.scoped("an empty store has no records and no snapshot", () =>
      Effect.gen(function* () {
        const dir = yield* backend.fresh
        yield* withPorts(dir.open(), ({ wal, snapshots }) =>
          Effect.gen(function* () {
            expect(yield* wal.lastSeq).toBe(0)
            expect(yield* wal.firstSeq).toBe(1)
            expect(yield* collect(wal.read(1))).toEqual([])
            expect(yield* snapshots.latest).toEqual(Option.none())
            expect(Option.isNone(wal.recovery.tornTail)).toBe(true)
          }),
        )
      }),
    )

    it.scoped("appends batches and reads them back in order, from any seq", () =>
      Effect.gen(function* () {
        const dir = yield* backend.fresh
        yield* withPorts(dir.open(), ({ wal }) =>
          Effect.gen(function* () {
            yield* wal.append(records(1, 3))
            yield* wal.append([])
            yield* wal.append([record(4, "", 255), record(5, "x".repeat(1000), 7)])
            expect(yield* wal.lastSeq).toBe(5)
            const all = [...records(1, 3), record(4, "", 255), record(5, "x".repeat(1000), 7)]
            expect(plain(yield* collect(wal.read(1)))).toEqual(plain(all))
            expect(plain(yield* collect(wal.read(0)))).toEqual(plain(all))
            expect(plain(yield* collect(wal.read(4)))).toEqual(plain(all.slice(3)))
            expect(yield* collect(wal.read(6))).toEqual([])
          }),
        )
      }),
    )

    it.scoped("keeps everything across close and reopen, and continues the seqs", () =>
      Effect.gen(function* () {
        const dir = yield* backend.fresh
        yield* withPorts(dir.open(), ({ wal }) => wal.append(records(1, 10)))
        yield* withPorts(dir.open(), ({ wal }) =>
          Effect.gen(function* () {
            expect(yield* wal.lastSeq).toBe(10)
            expect(wal.recovery.records).toBe(10)
            yield* wal.append(records(11, 5))
          }),
        )
        const back = yield* withPorts(dir.open(), ({ wal }) => collect(wal.read(1)))
        expect(plain(back)).toEqual(plain(records(1, 15)))
      }),
    )

    it.scoped("does not copy a caller's later mutation of a payload into the log", () =>
      Effect.gen(function* () {
        const dir = yield* backend.fresh
        const payload = utf8.encode("original")
        yield* withPorts(dir.open(), ({ wal }) => wal.append([{ seq: 1, type: 1, payload }]))
        payload.fill(0)
        const back = yield* withPorts(dir.open(), ({ wal }) => collect(wal.read(1)))
        expect(new TextDecoder().decode(back[0]!.payload)).toBe("original")
      }),
    )

    it.scoped("treats a broken append contract as a defect and writes nothing", () =>
      Effect.gen(function* () {
        const dir = yield* backend.fresh
        yield* withPorts(dir.open({ recordBytesMax: 64 }), ({ wal }) =>
          Effect.gen(function* () {
            yield* wal.append(records(1, 2))
            const cases: Array<[ReadonlyArray<WalRecord>, string]> = [
              [[record(4)], "expected seq 3, got 4"],
              [[record(3), record(5)], "expected seq 4, got 5"],
              [[record(3, "a", 0)], "types are 1..255"],
              [[record(3, "a", 256)], "types are 1..255"],
              [[record(3, "y".repeat(64))], "recordBytesMax is 64"],
            ]
            for (const [batch, message] of cases) {
              const exit = yield* wal.append(batch).pipe(Effect.exit)
              expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
              expect(String(failureOf(exit))).toContain(message)
            }
            expect(yield* wal.lastSeq).toBe(2)
            expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, 2)))
          }),
        )
      }),
    )

    it.scoped("refuses invalid limits at open with InvalidInput naming the limit", () =>
      Effect.gen(function* () {
        const dir = yield* backend.fresh
        const bad = [
          [{ recordBytesMax: 10 }, "recordBytesMax"],
          [{ recordBytesMax: 1.5 }, "recordBytesMax"],
          [{ segmentBytesMax: 100, recordBytesMax: 100 }, "segmentBytesMax"],
          [{ segmentBytesMax: 2 ** 31 }, "segmentBytesMax"],
        ] as const
        for (const [limits, field] of bad) {
          const error = failureOf(yield* withPorts(dir.open(limits), () => Effect.void).pipe(Effect.exit))
          expect(error).toMatchObject({ _tag: "InvalidInput", field })
        }
      }),
    )

    it("round-trips random batches, before and after reopen (property)", async () => {
      const payloadArb = fc.uint8Array({ maxLength: 300 })
      const batchArb = fc.array(fc.record({ type: fc.integer({ min: 1, max: 255 }), payload: payloadArb }), {
        maxLength: 20,
      })
      await fc.assert(
        fc.asyncProperty(
          fc.array(batchArb, { minLength: 1, maxLength: 8 }),
          fc.nat(),
          fc.integer({ min: 300, max: 4000 }),
          async (batches, fromPick, segmentSlack) =>
            Effect.runPromise(
              Effect.scoped(
                Effect.gen(function* () {
                  const dir = yield* backend.fresh
                  const limits = { recordBytesMax: 400, segmentBytesMax: segmentHeaderBytes + 400 + segmentSlack }
                  const expected: Array<WalRecord> = []
                  yield* withPorts(dir.open(limits), ({ wal }) =>
                    Effect.gen(function* () {
                      for (const batch of batches) {
                        const seqd = batch.map((r, i) => ({ ...r, seq: expected.length + 1 + i }))
                        yield* wal.append(seqd)
                        expected.push(...seqd)
                      }
                      expect(yield* wal.lastSeq).toBe(expected.length)
                      expect(plain(yield* collect(wal.read(1)))).toEqual(plain(expected))
                    }),
                  )
                  yield* withPorts(dir.open(limits), ({ wal }) =>
                    Effect.gen(function* () {
                      const from = expected.length === 0 ? 1 : 1 + (fromPick % expected.length)
                      expect(plain(yield* collect(wal.read(from)))).toEqual(plain(expected.slice(from - 1)))
                      const segments = yield* wal.segments
                      for (let i = 1; i < segments.length; i++)
                        expect(segments[i]!.firstSeq).toBe(segments[i - 1]!.lastSeq + 1)
                    }),
                  )
                }),
              ),
            ),
        ),
        { numRuns: 15 },
      )
    })

    it.scoped("rolls segments at segmentBytesMax and on rotate, never splitting a batch", () =>
      Effect.gen(function* () {
        const dir = yield* backend.fresh
        // Each record is its header (recordHeaderBytes) + 8 bytes ("event NN"); a 256-byte segment holds its header
        // and fewer records than a batch of 4 needs, so every batch of 4 starts a segment of its own.
        const limits = { segmentBytesMax: 256, recordBytesMax: 64 }
        yield* withPorts(dir.open(limits), ({ wal }) =>
          Effect.gen(function* () {
            yield* wal.append(records(10, 0))
            yield* wal.rotate // empty: no-op
            expect((yield* wal.segments).length).toBe(1)
            for (let seq = 1; seq <= 20; seq += 4)
              yield* wal.append(records(seq, 4).map((r) => record(r.seq, "event XX")))
            expect((yield* wal.segments).map((s) => [s.firstSeq, s.lastSeq])).toEqual([
              [1, 4],
              [5, 8],
              [9, 12],
              [13, 16],
              [17, 20],
            ])
            yield* wal.rotate
            yield* wal.rotate
            yield* wal.append([record(21, "event XX")])
            expect((yield* wal.segments).map((s) => [s.firstSeq, s.lastSeq]).slice(-2)).toEqual([
              [17, 20],
              [21, 21],
            ])
          }),
        )
        const back = yield* withPorts(dir.open(limits), ({ wal }) => collect(wal.read(1)))
        expect(back.map((r) => r.seq)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1))
      }),
    )

    it.scoped("recovers snapshot + later records to the same state as a full replay", () =>
      Effect.gen(function* () {
        const dir = yield* backend.fresh
        const all = records(1, 30)
        const stateAt = (seq: number) => utf8.encode(JSON.stringify(all.slice(0, seq).map((r) => r.seq)))
        yield* withPorts(dir.open(), ({ wal, snapshots }) =>
          Effect.gen(function* () {
            yield* wal.append(all.slice(0, 20))
            yield* snapshots.write({ lastSeq: 20, state: stateAt(20) })
            yield* wal.append(all.slice(20))
          }),
        )
        yield* withPorts(dir.open(), ({ wal, snapshots }) =>
          Effect.gen(function* () {
            const snapshot = Option.getOrThrow(yield* snapshots.latest)
            expect(snapshot.lastSeq).toBe(20)
            expect(Array.from(snapshot.state)).toEqual(Array.from(stateAt(20)))
            const tail = yield* collect(wal.read(snapshot.lastSeq + 1))
            const rebuilt = [...(JSON.parse(new TextDecoder().decode(snapshot.state)) as Array<number>)]
            for (const r of tail) rebuilt.push(r.seq)
            expect(rebuilt).toEqual(all.map((r) => r.seq))
          }),
        )
      }),
    )

    it.scoped("reads a snapshot written as parts back as their bytes in order", () =>
      Effect.gen(function* () {
        const dir = yield* backend.fresh
        const parts = [utf8.encode("first line\n"), new Uint8Array(), utf8.encode("second, longer line\n")]
        yield* withPorts(dir.open(), ({ wal, snapshots }) =>
          Effect.gen(function* () {
            yield* wal.append(records(1, 5))
            yield* snapshots.write({ lastSeq: 5, state: parts })
          }),
        )
        yield* withPorts(dir.open(), ({ snapshots }) =>
          Effect.gen(function* () {
            const snapshot = Option.getOrThrow(yield* snapshots.latest)
            expect(snapshot.lastSeq).toBe(5)
            expect(new TextDecoder().decode(snapshot.state)).toBe("first line\nsecond, longer line\n")
          }),
        )
      }),
    )

    it.scoped("refuses a snapshot beyond the durable log as a defect", () =>
      Effect.gen(function* () {
        const dir = yield* backend.fresh
        yield* withPorts(dir.open(), ({ wal, snapshots }) =>
          Effect.gen(function* () {
            yield* wal.append(records(1, 2))
            const exit = yield* snapshots.write({ lastSeq: 3, state: new Uint8Array() }).pipe(Effect.exit)
            expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
            expect(yield* snapshots.latest).toEqual(Option.none())
          }),
        )
      }),
    )

    it.scoped("compaction deletes only segments covered by the older of two retained snapshots", () =>
      Effect.gen(function* () {
        const dir = yield* backend.fresh
        const state = new Uint8Array([1, 2, 3])
        yield* withPorts(dir.open(), ({ wal, snapshots }) =>
          Effect.gen(function* () {
            yield* wal.append(records(1, 10))
            yield* wal.rotate
            yield* snapshots.write({ lastSeq: 10, state })
            yield* wal.deleteSegmentsUpTo(10) // one snapshot only: its fallback is the full log
            expect(yield* wal.firstSeq).toBe(1)
            yield* wal.append(records(11, 10))
            yield* wal.rotate
            yield* snapshots.write({ lastSeq: 20, state })
            yield* wal.deleteSegmentsUpTo(20) // floor = 10, the older retained snapshot
            expect((yield* wal.segments).map((s) => [s.firstSeq, s.lastSeq])).toEqual([
              [11, 20],
              [21, 20],
            ])
            yield* wal.append(records(21, 5))
            yield* wal.rotate
            yield* snapshots.write({ lastSeq: 25, state })
            yield* wal.deleteSegmentsUpTo(15) // a segment straddling 15 stays
            expect(yield* wal.firstSeq).toBe(11)
            yield* wal.deleteSegmentsUpTo(25)
            expect((yield* wal.segments).map((s) => [s.firstSeq, s.lastSeq])).toEqual([
              [21, 25],
              [26, 25],
            ])
            const compacted = failureOf(yield* collect(wal.read(20)).pipe(Effect.exit))
            expect(compacted).toMatchObject({ _tag: "StorageFailed", reason: "Compacted" })
            expect((yield* collect(wal.read(21))).map((r) => r.seq)).toEqual([21, 22, 23, 24, 25])
          }),
        )
        yield* withPorts(dir.open(), ({ wal, snapshots }) =>
          Effect.gen(function* () {
            expect(yield* wal.firstSeq).toBe(21)
            expect(yield* wal.lastSeq).toBe(25)
            expect(Option.map(yield* snapshots.latest, (s) => s.lastSeq)).toEqual(Option.some(25))
          }),
        )
      }),
    )

    // A shared store's second open is another server of the same registry (below), not a refused one.
    if (backend.shared !== true)
      it.scoped("a second open of a held store fails with DirectoryLocked; close releases it", () =>
        Effect.gen(function* () {
          const dir = yield* backend.fresh
          yield* withPorts(dir.open(), ({ wal }) =>
            Effect.gen(function* () {
              yield* wal.append(records(1, 1))
              const error = failureOf(yield* withPorts(dir.open(), () => Effect.void).pipe(Effect.exit))
              expect(error).toMatchObject({ _tag: "DirectoryLocked" })
            }),
          )
          expect(yield* withPorts(dir.open(), ({ wal }) => wal.lastSeq)).toBe(1)
        }),
      )

    if (backend.shared === true)
      it.scoped(
        "two opens of a shared store append in one order: neither overwrites the other, and each reads both",
        () =>
          Effect.gen(function* () {
            const dir = yield* backend.fresh
            yield* withPorts(dir.open(), (first) =>
              withPorts(dir.open(), (second) =>
                Effect.gen(function* () {
                  yield* first.wal.append(records(1, 2))
                  // The second has not seen seqs 1–2: an append that assumes an empty log is refused, nothing written.
                  const stale = yield* second.wal.append(records(1, 1)).pipe(Effect.exit)
                  expect(Exit.isFailure(stale) && !Cause.isDie(stale.cause)).toBe(true)
                  expect(plain(yield* collect(second.wal.read(1)))).toEqual(plain(records(1, 2)))
                  yield* second.wal.append(records(3, 2))
                  yield* first.wal.append([]) // nothing, and no failure
                  expect(plain(yield* collect(first.wal.read(1)))).toEqual(plain(records(1, 4)))
                  expect(yield* first.wal.lastSeq).toBe(4)
                }),
              ),
            )
          }),
      )
  })
