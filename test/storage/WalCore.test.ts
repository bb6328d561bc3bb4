/**
 * The core's own rules, against a scripted backend (no files, no memory store): what it checks before a
 * primitive runs, what it latches on, and the open-time check that runs before any repair. The contract suite
 * (Storage.contract.ts) shows the same rules hold through the file and memory backends.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import { StorageFailed } from "../../src/domain/errors.ts"
import { defaultLimits } from "../../src/storage/Limits.ts"
import { segmentHeaderBytes } from "../../src/storage/SegmentHeader.ts"
import { DurabilityLost } from "../../src/storage/StorageError.ts"
import type { WalRecord } from "../../src/storage/Wal.ts"
import * as WalCore from "../../src/storage/WalCore.ts"
import { collect, plain, records } from "./harness.ts"

const failed = (operation: string) =>
  new StorageFailed({ operation, path: "scripted", reason: "Unknown", message: `${operation} failed` })

/** A backend over arrays whose next append can fail either way, and which logs every primitive it runs. */
const scripted = (options: { readonly chosen?: number; readonly readOnly?: boolean } = {}) => {
  const calls: Array<string> = []
  const script = { appendFails: undefined as "plain" | "durability" | undefined }
  const log: WalCore.LogPrimitives<Array<WalRecord>> = {
    describe: () => "scripted",
    create: (firstSeq) =>
      Effect.sync((): Array<WalRecord> => {
        calls.push(`create ${firstSeq}`)
        return []
      }),
    append: (segment, batch) =>
      Effect.suspend((): Effect.Effect<void, WalCore.PrimitiveError> => {
        calls.push(`append ${batch[0]!.seq}..${batch.at(-1)!.seq}`)
        if (script.appendFails === "plain") return Effect.fail(failed("write"))
        if (script.appendFails === "durability") return Effect.fail(new DurabilityLost({ failure: failed("fsync") }))
        segment.handle.push(...batch)
        return Effect.void
      }),
    read: (segment, fromSeq, toSeq) =>
      Effect.sync(() => segment.handle.filter((r) => r.seq >= fromSeq && r.seq <= toSeq)),
    remove: () => Effect.sync(() => calls.push("remove")),
  }
  const snapshots: WalCore.SnapshotPrimitives = {
    describe: (lastSeq) => `snapshot ${lastSeq}`,
    stage: (snapshot) => Effect.sync(() => Effect.sync(() => calls.push(`publish ${snapshot.lastSeq}`))),
    remove: (lastSeq) => Effect.sync(() => calls.push(`remove snapshot ${lastSeq}`)),
    readLatest: () => Effect.succeed(Option.none()),
  }
  const opened: WalCore.Opened<Array<WalRecord>> = {
    location: "scripted",
    limits: defaultLimits,
    readOnly: options.readOnly ?? false,
    segments: [],
    snapshotSeqs: [],
    chosenSnapshot:
      options.chosen === undefined ? Option.none() : Option.some({ lastSeq: options.chosen, state: new Uint8Array() }),
    finish: Effect.sync(() => {
      calls.push("finish")
      return []
    }),
    tornTail: Option.none(),
    tmpFilesRemoved: [],
  }
  return { calls, script, make: WalCore.make(opened, log, snapshots) }
}

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Cause.squash(exit.cause)
}

describe("WalCore", () => {
  it.effect("a new store gets its first segment from the backend, then the rest of opening runs", () =>
    Effect.gen(function* () {
      const backend = scripted()
      const { wal } = yield* backend.make
      expect(backend.calls).toEqual(["create 1", "finish"])
      expect(yield* wal.segments).toEqual([{ firstSeq: 1, lastSeq: 0, bytes: segmentHeaderBytes }])
    }),
  )

  it.effect("a chosen snapshot beyond the log is WalCorrupt before any repair runs", () =>
    Effect.gen(function* () {
      const backend = scripted({ chosen: 5 })
      expect(failureOf(yield* backend.make.pipe(Effect.exit))).toMatchObject({ _tag: "WalCorrupt", seq: 1 })
      expect(backend.calls).toEqual(["create 1"])
    }),
  )

  it.effect("contract violations are defects, caught before the backend sees the batch", () =>
    Effect.gen(function* () {
      const backend = scripted()
      const { wal } = yield* backend.make
      const gap = yield* wal.append(records(2, 1)).pipe(Effect.exit)
      expect(Exit.isFailure(gap) && Cause.isDie(gap.cause)).toBe(true)
      const huge = yield* wal
        .append([{ seq: 1, type: 1, payload: new Uint8Array(defaultLimits.recordBytesMax) }])
        .pipe(Effect.exit)
      expect(Exit.isFailure(huge) && Cause.isDie(huge.cause)).toBe(true)
      expect(backend.calls.filter((c) => c.startsWith("append"))).toEqual([])
    }),
  )

  it.effect("a plain append failure fails that batch only; DurabilityLost latches the port", () =>
    Effect.gen(function* () {
      const backend = scripted()
      const { wal, snapshots } = yield* backend.make
      yield* wal.append(records(1, 2))
      backend.script.appendFails = "plain"
      expect(failureOf(yield* wal.append(records(3, 1)).pipe(Effect.exit))).toMatchObject({ operation: "write" })
      backend.script.appendFails = undefined
      yield* wal.append(records(3, 1))
      expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, 3)))
      backend.script.appendFails = "durability"
      expect(failureOf(yield* wal.append(records(4, 1)).pipe(Effect.exit))).toMatchObject({ operation: "fsync" })
      backend.script.appendFails = undefined
      for (const call of [wal.append(records(4, 1)), wal.rotate, snapshots.latest] as const)
        expect(failureOf(yield* (call as Effect.Effect<unknown, unknown>).pipe(Effect.exit))).toMatchObject({
          reason: "PortFailed",
        })
      expect(yield* wal.lastSeq).toBe(3)
    }),
  )

  it.effect("read-only refuses every write before the backend runs", () =>
    Effect.gen(function* () {
      const backend = scripted({ readOnly: true })
      const { wal, snapshots } = yield* backend.make
      const writes = [
        wal.append(records(1, 1)),
        wal.rotate,
        wal.deleteSegmentsUpTo(1),
        snapshots.write({ lastSeq: 0, state: new Uint8Array() }),
      ] as const
      for (const call of writes)
        expect(failureOf(yield* (call as Effect.Effect<unknown, unknown>).pipe(Effect.exit))).toMatchObject({
          reason: "ReadOnly",
        })
      expect(backend.calls).toEqual(["create 1", "finish"])
    }),
  )

  it.effect("retention keeps two snapshots and deletes segments only up to the older one", () =>
    Effect.gen(function* () {
      const backend = scripted()
      const { wal, snapshots } = yield* backend.make
      const compact = (from: number) =>
        Effect.gen(function* () {
          yield* wal.append(records(from, 2))
          yield* wal.rotate
          yield* snapshots.write({ lastSeq: from + 1, state: new Uint8Array() })
          yield* wal.deleteSegmentsUpTo(from + 1)
        })
      yield* compact(1) // snapshot 2: nothing older retained, nothing deleted
      expect(backend.calls.filter((c) => c.startsWith("remove"))).toEqual([])
      yield* compact(3) // snapshot 4: the older retained one is 2, so the segment 1..2 goes
      yield* compact(5) // snapshot 6: snapshot 2 leaves retention, the segment 3..4 goes
      expect(backend.calls.filter((c) => c.startsWith("remove"))).toEqual(["remove", "remove snapshot 2", "remove"])
      expect(yield* wal.firstSeq).toBe(5)
      expect(failureOf(yield* collect(wal.read(1)).pipe(Effect.exit))).toMatchObject({ reason: "Compacted" })
      const beyond = yield* snapshots.write({ lastSeq: 99, state: new Uint8Array() }).pipe(Effect.exit)
      expect(Exit.isFailure(beyond) && Cause.isDie(beyond.cause)).toBe(true)
    }),
  )
})
