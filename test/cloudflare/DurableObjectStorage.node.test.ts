/**
 * The Durable Object backend inside workerd, through Miniflare (one instance for the file, one object per fresh
 * store): the storage contract (test/storage/Storage.contract.ts), where "a second open" of a store is a second open
 * inside the object's one instance, refused with `DirectoryLocked` as a second process is; then what is particular
 * to a Durable Object: a rejected `storage.sync()` latches, a failed statement rolls its transaction back, snapshots
 * larger than a row, damage found at open, the schema's versions, and the observers' stores.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import type { Miniflare } from "miniflare"
import { afterAll } from "vitest"
import {
  defaultSegmentBytesMax,
  rowRecordBytesMax,
  snapshotPartBytesMax,
} from "../../src/cloudflare/DurableObjectStorage.ts"
import { recordHeaderBytes } from "../../src/storage/RecordCodec.ts"
import { collect, plain, records, withPorts } from "../storage/harness.ts"
import { storageContract } from "../storage/Storage.contract.ts"
import {
  durableObjectBackend,
  freshObject,
  type StorageStub,
  storageBinding,
  storageClass,
  storageEntry,
} from "./support/durableObjectBackend.ts"
import { startWorker } from "./support/miniflare.ts"
import { decodeReply, type ObserverOperation } from "./support/storageProtocol.ts"

let worker: Promise<Miniflare> | undefined
const started = () => {
  worker ??= startWorker({ entry: storageEntry, durableObjects: { [storageBinding]: storageClass } })
  return worker
}
afterAll(async () => {
  if (worker !== undefined) await (await worker).dispose()
})

storageContract(durableObjectBackend(started))

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Cause.squash(exit.cause)
}

const rpc = <A>(call: () => Promise<A>) => Effect.promise(call)
const observe = (stub: StorageStub, operation: ObserverOperation) =>
  Effect.flatMap(
    rpc(() => stub.observe(operation)),
    (reply) => decodeReply(reply),
  )
const utf8 = new TextEncoder()

describe("durable object storage (workerd)", () => {
  it.scoped("a rejected sync fails the append and latches the port; a reopen reads a log without gaps", () =>
    Effect.gen(function* () {
      const object = yield* freshObject(started)
      yield* withPorts(object.open(), ({ wal }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 2))
          yield* rpc(() => object.stub.inject({ syncFailures: 1 }))
          expect(failureOf(yield* wal.append(records(3, 1)).pipe(Effect.exit))).toMatchObject({
            _tag: "StorageFailed",
            operation: "append",
          })
          // Never retried, never guessed: every later call fails until the storage is reopened.
          expect(failureOf(yield* wal.append(records(3, 1)).pipe(Effect.exit))).toMatchObject({
            _tag: "StorageFailed",
            reason: "PortFailed",
          })
          expect(failureOf(yield* wal.health.pipe(Effect.exit))).toMatchObject({ _tag: "StorageFailed" })
        }),
      )
      // Whether the unacknowledged record is there is the storage's to say; what is there is the log, whole.
      const back = yield* withPorts(object.open(), ({ wal }) => collect(wal.read(1)))
      expect(plain(back)).toEqual(plain(records(1, back.length)))
      expect([2, 3]).toContain(back.length)
    }),
  )

  it.scoped("a statement that fails inside an append's transaction fails that append only and writes nothing", () =>
    Effect.gen(function* () {
      const object = yield* freshObject(started)
      const segments = yield* withPorts(object.open(), ({ wal }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 2))
          // The append's second statement throws: its first insert must be rolled back with it.
          yield* rpc(() => object.stub.inject({ execFailIn: 1 }))
          expect(failureOf(yield* wal.append(records(3, 3)).pipe(Effect.exit))).toMatchObject({
            _tag: "StorageFailed",
            reason: "NoSpace",
          })
          expect(yield* wal.lastSeq).toBe(2)
          expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, 2)))
          yield* wal.append(records(3, 3))
          return yield* wal.segments
        }),
      )
      yield* withPorts(object.open(), ({ wal }) =>
        Effect.gen(function* () {
          expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, 5)))
          expect(yield* wal.segments).toEqual(segments)
        }),
      )
    }),
  )

  it.scoped("a snapshot larger than a row is stored in parts and read back whole", () =>
    Effect.gen(function* () {
      const object = yield* freshObject(started)
      const size = 3 * snapshotPartBytesMax + 5
      const state = Uint8Array.from({ length: size }, (_, i) => (i * 7919) % 251)
      const parts = [state.subarray(0, 1_500_000), state.subarray(1_500_000, 1_500_001), state.subarray(1_500_001)]
      yield* withPorts(object.open(), ({ wal, snapshots }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 3))
          yield* snapshots.write({ lastSeq: 3, state: parts })
        }),
      )
      const rows = yield* rpc(() => object.stub.sql("select count(*) as n from registry_snapshot_parts"))
      expect(rows).toEqual([{ n: 4 }])
      const back = yield* withPorts(object.open(), ({ snapshots }) => snapshots.latest)
      const snapshot = Option.getOrThrow(back)
      expect(snapshot.lastSeq).toBe(3)
      expect(snapshot.state.length).toBe(size)
      expect(snapshot.state.every((b, i) => b === state[i])).toBe(true)
    }),
  )

  const damage = (stub: StorageStub, lastSeq: number) =>
    rpc(() =>
      stub.sql(
        `update registry_snapshot_parts set bytes = ?
          where snapshot = (select id from registry_snapshots where last_seq = ? and state = 1)`,
        new Uint8Array([1, 2, 3]),
        lastSeq,
      ),
    )

  it.scoped("a damaged newest snapshot is set aside and reported, and the older one plus the log recovers", () =>
    Effect.gen(function* () {
      const object = yield* freshObject(started)
      const state = (seq: number) => utf8.encode(`state at ${seq}`)
      yield* withPorts(object.open(), ({ wal, snapshots }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 10))
          yield* snapshots.write({ lastSeq: 5, state: state(5) })
          yield* snapshots.write({ lastSeq: 10, state: state(10) })
        }),
      )
      yield* damage(object.stub, 10)
      yield* withPorts(object.open(), ({ wal, snapshots }) =>
        Effect.gen(function* () {
          expect(wal.recovery.snapshotFallbacks).toMatchObject([{ file: "durable-object:snapshot-10" }])
          const chosen = Option.getOrThrow(yield* snapshots.latest)
          expect(chosen.lastSeq).toBe(5)
          expect(new TextDecoder().decode(chosen.state)).toBe("state at 5")
        }),
      )
      const kept = yield* rpc(() => object.stub.sql("select last_seq, state from registry_snapshots order by last_seq"))
      expect(kept).toEqual([
        { last_seq: 5, state: 1 },
        { last_seq: 10, state: 2 },
      ])
    }),
  )

  it.scoped("a damaged snapshot whose fallback the log no longer covers refuses the open with WalCorrupt", () =>
    Effect.gen(function* () {
      const object = yield* freshObject(started)
      const state = new Uint8Array([9])
      yield* withPorts(object.open(), ({ wal, snapshots }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 10))
          yield* wal.rotate
          yield* snapshots.write({ lastSeq: 10, state })
          yield* wal.append(records(11, 10))
          yield* wal.rotate
          yield* snapshots.write({ lastSeq: 20, state })
          yield* wal.deleteSegmentsUpTo(20)
          expect(yield* wal.firstSeq).toBe(11)
        }),
      )
      yield* damage(object.stub, 20)
      yield* damage(object.stub, 10)
      const refused = failureOf(yield* withPorts(object.open(), () => Effect.void).pipe(Effect.exit))
      expect(refused).toMatchObject({ _tag: "WalCorrupt", file: "durable-object:snapshot-20" })
    }),
  )

  it.scoped("a record missing from the log refuses the open with WalCorrupt", () =>
    Effect.gen(function* () {
      const object = yield* freshObject(started)
      yield* withPorts(object.open(), ({ wal }) => wal.append(records(1, 5)))
      yield* rpc(() => object.stub.sql("delete from registry_records where seq = 3"))
      expect(failureOf(yield* withPorts(object.open(), () => Effect.void).pipe(Effect.exit))).toMatchObject({
        _tag: "WalCorrupt",
      })
    }),
  )

  it.scoped("migrates once, and refuses unchanged a database a newer release migrated", () =>
    Effect.gen(function* () {
      const object = yield* freshObject(started)
      yield* withPorts(object.open(), ({ wal }) => wal.append(records(1, 1)))
      yield* withPorts(object.open(), () => Effect.void)
      expect(yield* rpc(() => object.stub.sql("select id from registry_migrations"))).toEqual([{ id: 1 }])
      yield* rpc(() => object.stub.sql("insert into registry_migrations (id, applied_at) values (2, 'later')"))
      const refused = failureOf(yield* withPorts(object.open(), () => Effect.void).pipe(Effect.exit))
      expect(refused).toMatchObject({ _tag: "StorageFailed", reason: "BadArgument" })
      expect(String((refused as { message: string }).message)).toContain("newer release")
      expect(yield* rpc(() => object.stub.sql("select id from registry_migrations order by id"))).toEqual([
        { id: 1 },
        { id: 2 },
      ])
      expect(yield* rpc(() => object.stub.sql("select count(*) as n from registry_records"))).toEqual([{ n: 1 }])
    }),
  )

  it.scoped("rolls segments at 4 MiB unless told otherwise, so that a read holds little of an isolate's memory", () =>
    Effect.gen(function* () {
      const object = yield* freshObject(started)
      // Records of the largest default size (1 MiB framed): three fit in a segment, the header leaves no room for four.
      const payload = new Uint8Array(1024 * 1024 - recordHeaderBytes).fill(7)
      const big = (seq: number) => ({ seq, type: 1, payload })
      yield* withPorts(object.open(), ({ wal }) =>
        Effect.gen(function* () {
          for (let seq = 1; seq <= 5; seq++) yield* wal.append([big(seq)])
          const segments = yield* wal.segments
          expect(segments.map((s) => [s.firstSeq, s.lastSeq])).toEqual([
            [1, 3],
            [4, 5],
          ])
          for (const segment of segments) expect(segment.bytes).toBeLessThanOrEqual(defaultSegmentBytesMax)
        }),
      )
    }),
  )

  it.scoped("refuses a recordBytesMax a row cannot hold with InvalidInput", () =>
    Effect.gen(function* () {
      const object = yield* freshObject(started)
      const limits = { recordBytesMax: rowRecordBytesMax + 1, segmentBytesMax: 64 * 1024 * 1024 }
      expect(failureOf(yield* withPorts(object.open(limits), () => Effect.void).pipe(Effect.exit))).toMatchObject({
        _tag: "InvalidInput",
        field: "recordBytesMax",
      })
    }),
  )

  it.scoped("observers' cursors and lines survive a reopen; a rejected sync latches the store until reopened", () =>
    Effect.gen(function* () {
      const { stub } = yield* freshObject(started)
      expect(yield* observe(stub, { op: "cursorGet", name: "observers/audit.cursor" })).toBeNull()
      yield* observe(stub, { op: "cursorSet", name: "observers/audit.cursor", seq: 7 })
      yield* observe(stub, { op: "cursorSet", name: "observers/audit.cursor", seq: 42 })
      yield* observe(stub, { op: "sinkAppend", name: "audit.ndjson", bytes: utf8.encode('{"seq":1}\n') })
      yield* observe(stub, { op: "sinkAppend", name: "audit.ndjson", bytes: utf8.encode('{"seq":2}\n') })
      yield* observe(stub, { op: "sinkAppend", name: "observers/a.dead.ndjson", bytes: utf8.encode("x\n") })
      yield* rpc(() => stub.reopenObservers())
      expect(yield* observe(stub, { op: "cursorGet", name: "observers/audit.cursor" })).toBe(42)
      const lines = (yield* observe(stub, { op: "sinkReadAll", name: "audit.ndjson" })) as Uint8Array
      expect(new TextDecoder().decode(lines)).toBe('{"seq":1}\n{"seq":2}\n')

      yield* rpc(() => stub.inject({ syncFailures: 1 }))
      const set = (seq: number) =>
        observe(stub, { op: "cursorSet", name: "observers/audit.cursor", seq }).pipe(Effect.exit)
      expect(failureOf(yield* set(43))).toMatchObject({ _tag: "StorageFailed" })
      expect(failureOf(yield* set(44))).toMatchObject({ _tag: "StorageFailed", reason: "PortFailed" })
      yield* rpc(() => stub.reopenObservers())
      yield* observe(stub, { op: "cursorSet", name: "observers/audit.cursor", seq: 45 })
      expect(yield* observe(stub, { op: "cursorGet", name: "observers/audit.cursor" })).toBe(45)

      const outside = yield* observe(stub, { op: "cursorGet", name: "../escape" }).pipe(Effect.exit)
      expect(Exit.isFailure(outside) && Cause.isDie(outside.cause)).toBe(true)
    }),
  )
})
