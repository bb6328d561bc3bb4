/**
 * The storage contract's `Backend` for the Durable Object storage: each fresh "data directory" is a fresh object of
 * the test worker (storageWorker.ts) in workerd, and every port call is forwarded to it, so the suite exercises the
 * real SQLite storage of a Durable Object, not a copy of it in Node.
 */
import { Context, Effect, Layer, Option, type Scope, Stream } from "effect"
import type { Miniflare } from "miniflare"
import type { SqlBinding, SqlValue } from "../../../src/cloudflare/DurableObjectApi.ts"
import type { StorageFailed, WalCorrupt } from "../../../src/domain/errors.ts"
import type { StorageLimits } from "../../../src/storage/Limits.ts"
import { SnapshotStore } from "../../../src/storage/SnapshotStore.ts"
import { type SegmentInfo, Wal, type WalRecord } from "../../../src/storage/Wal.ts"
import type { Backend, DataDir } from "../../storage/harness.ts"
import {
  bytes,
  decodeRecovery,
  decodeReply,
  type EncodedSnapshot,
  type Faults,
  type ObserverOperation,
  type Opened,
  type Operation,
  type Reply,
} from "./storageProtocol.ts"

/** The test object's RPC methods, as Miniflare's stub exposes them. */
export interface StorageStub {
  readonly open: (limits: Partial<StorageLimits>) => Promise<Reply<Opened>>
  readonly call: (handle: number, operation: Operation) => Promise<Reply<unknown>>
  readonly close: (handle: number) => Promise<void>
  readonly destroy: () => Promise<void>
  readonly inject: (faults: Faults) => Promise<void>
  readonly sql: (query: string, ...bindings: Array<SqlBinding>) => Promise<Array<Record<string, SqlValue>>>
  readonly observe: (operation: ObserverOperation) => Promise<Reply<unknown>>
  readonly reopenObservers: () => Promise<void>
}

interface Namespace {
  readonly idFromName: (name: string) => unknown
  readonly get: (id: unknown) => StorageStub
}

export const storageEntry = "test/cloudflare/support/storageWorker.ts"
export const storageBinding = "STORAGE"
export const storageClass = "StorageObject"

let objects = 0

/** Opens one object's storage as the contract's `Wal` and `SnapshotStore`. */
const openPorts = (stub: StorageStub, limits: Partial<StorageLimits>) =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const opened = yield* Effect.acquireRelease(
        Effect.flatMap(
          Effect.promise(() => stub.open(limits)),
          (reply) => decodeReply(reply),
        ),
        ({ handle }) => Effect.promise(() => stub.close(handle)),
      )
      // The worker runs the same port, so a call fails only as that port declares.
      const call = <A, E = StorageFailed>(operation: Operation) =>
        Effect.flatMap(
          Effect.promise(() => stub.call(opened.handle, operation)),
          (reply) => decodeReply(reply as Reply<A>),
        ) as Effect.Effect<A, E>
      const wal: Wal = {
        lastSeq: call<number, never>({ op: "lastSeq" }),
        firstSeq: call<number, never>({ op: "firstSeq" }),
        segments: call<ReadonlyArray<SegmentInfo>, never>({ op: "segments" }),
        health: call<void>({ op: "health" }),
        rotate: call<void>({ op: "rotate" }),
        append: (records) =>
          call<void>({ op: "append", records: records.map((r) => ({ seq: r.seq, type: r.type, payload: r.payload })) }),
        read: (fromSeq) =>
          Stream.unwrap(
            Effect.map(call<ReadonlyArray<WalRecord>, StorageFailed | WalCorrupt>({ op: "read", fromSeq }), (records) =>
              Stream.fromIterable(records.map((r) => ({ ...r, payload: bytes(r.payload) }))),
            ),
          ),
        deleteSegmentsUpTo: (upToSeq) => call<void>({ op: "deleteSegmentsUpTo", upToSeq }),
        recovery: decodeRecovery(opened.recovery),
      }
      const snapshots: SnapshotStore = {
        write: (snapshot) =>
          call<void>({
            op: "snapshotWrite",
            lastSeq: snapshot.lastSeq,
            state: snapshot.state instanceof Uint8Array ? [snapshot.state] : [...snapshot.state],
          }),
        latest: Effect.map(call<EncodedSnapshot, StorageFailed | WalCorrupt>({ op: "snapshotLatest" }), (snapshot) =>
          Option.map(Option.fromNullable(snapshot), (s) => ({ ...s, state: bytes(s.state) })),
        ),
      }
      return Context.make(Wal, wal).pipe(Context.add(SnapshotStore, snapshots))
    }),
  )

/** A fresh object of the test worker, destroyed with the scope: its stub, and its storage as a "data directory". */
export const freshObject = (
  worker: () => Promise<Miniflare>,
): Effect.Effect<DataDir & { readonly stub: StorageStub }, never, Scope.Scope> =>
  Effect.gen(function* () {
    const namespace = (yield* Effect.promise(async () =>
      (await worker()).getDurableObjectNamespace(storageBinding),
    )) as unknown as Namespace
    const stub = namespace.get(namespace.idFromName(`object-${objects++}-${Date.now()}`))
    yield* Effect.addFinalizer(() => Effect.promise(() => stub.destroy()))
    return { stub, open: (limits = {}) => openPorts(stub, limits) }
  })

/** The backend over a running test worker (`startWorker` with `storageEntry`). */
export const durableObjectBackend = (worker: () => Promise<Miniflare>): Backend => ({
  name: "durable object (workerd)",
  fresh: freshObject(worker),
})
