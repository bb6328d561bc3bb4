/**
 * A test-only Worker whose Durable Object runs the registry's storage ports on its own SQLite storage, inside
 * workerd: the Node-side suite (durableObjectBackend.ts) calls one RPC method per port call. An object is one
 * "data directory"; each `open` is one open of it, kept until `close`.
 */
import { DurableObject } from "cloudflare:workers"
import { Chunk, Effect, Exit, Option, Scope, Stream } from "effect"
import type {
  DurableObjectState,
  DurableObjectStorage,
  SqlBinding,
  SqlStorage,
  SqlValue,
} from "../../../src/cloudflare/DurableObjectApi.ts"
import { makeAppendSink, makeCursorStore } from "../../../src/cloudflare/DurableObjectObserverStores.ts"
import { makeDurableObjectStorage } from "../../../src/cloudflare/DurableObjectStorage.ts"
import type { AppendSink } from "../../../src/storage/AppendSink.ts"
import type { CursorStore } from "../../../src/storage/CursorStore.ts"
import type { StorageLimits } from "../../../src/storage/Limits.ts"
import type { WalRecord } from "../../../src/storage/Wal.ts"
import type { Storage } from "../../../src/storage/WalCore.ts"
import {
  bytes,
  encodeExit,
  encodeRecovery,
  type Faults,
  type ObserverOperation,
  type Opened,
  type Operation,
  type Reply,
} from "./storageProtocol.ts"

/**
 * The payloads copied into one shared buffer, as the registry hands them over (views into a buffer its loop
 * reuses), and that buffer overwritten once the append resolved: the backend must bind each view's own bytes and
 * keep none of the caller's memory.
 */
const appendFromSharedBuffer = (storage: Storage, records: ReadonlyArray<WalRecord>) => {
  const shared = new Uint8Array(8 + records.reduce((n, r) => n + r.payload.length + 3, 0))
  let offset = 8
  const views = records.map((r) => {
    const view = shared.subarray(offset, offset + r.payload.length)
    view.set(r.payload)
    offset += r.payload.length + 3
    return { seq: r.seq, type: r.type, payload: view }
  })
  return Effect.ensuring(
    storage.wal.append(views),
    Effect.sync(() => shared.fill(0xee)),
  )
}

const run = (storage: Storage, operation: Operation): Effect.Effect<unknown, unknown> => {
  const { wal, snapshots } = storage
  switch (operation.op) {
    case "lastSeq":
      return wal.lastSeq
    case "firstSeq":
      return wal.firstSeq
    case "segments":
      return wal.segments
    case "health":
      return wal.health
    case "rotate":
      return wal.rotate
    case "append":
      return appendFromSharedBuffer(storage, operation.records)
    case "read":
      return Effect.map(Stream.runCollect(wal.read(operation.fromSeq)), Chunk.toArray)
    case "deleteSegmentsUpTo":
      return wal.deleteSegmentsUpTo(operation.upToSeq)
    case "snapshotWrite":
      return snapshots.write({ lastSeq: operation.lastSeq, state: operation.state.map(bytes) })
    case "snapshotLatest":
      return Effect.map(snapshots.latest, Option.getOrNull)
  }
}

/** The object's storage with faults injected on demand (see `Faults`); otherwise the real one, call for call. */
const faulty = (real: DurableObjectStorage, faults: { syncFailures: number; execFailIn: number | undefined }) => ({
  sql: {
    exec: ((query: string, ...bindings: Array<SqlBinding>) => {
      if (faults.execFailIn !== undefined && faults.execFailIn-- === 0) {
        faults.execFailIn = undefined
        throw new Error("SQLITE_FULL: database or disk is full (injected)")
      }
      return real.sql.exec(query, ...bindings)
    }) as SqlStorage["exec"],
  },
  transactionSync: <T>(body: () => T): T => real.transactionSync(body),
  sync: (): Promise<void> => {
    if (faults.syncFailures === 0) return real.sync()
    faults.syncFailures--
    return Promise.reject(new Error("storage sync failed (injected)"))
  },
  deleteAll: () => real.deleteAll(),
})

export class StorageObject extends DurableObject {
  readonly #state: DurableObjectState
  readonly #faults = { syncFailures: 0, execFailIn: undefined as number | undefined }
  readonly #storage: DurableObjectStorage
  readonly #opens = new Map<number, { readonly scope: Scope.CloseableScope; readonly storage: Storage }>()
  #observers: { readonly cursors: CursorStore; readonly sink: AppendSink } | undefined
  #next = 1

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env)
    this.#state = ctx
    this.#storage = faulty(ctx.storage, this.#faults)
  }

  async inject(faults: Faults): Promise<void> {
    this.#faults.syncFailures = faults.syncFailures ?? 0
    this.#faults.execFailIn = faults.execFailIn
  }

  /** Runs a statement on the real storage, past every port: how the tests damage what the ports wrote. */
  async sql(query: string, ...bindings: Array<SqlBinding>): Promise<Array<Record<string, SqlValue>>> {
    return this.#state.storage.sql.exec(query, ...bindings).toArray()
  }

  async observe(operation: ObserverOperation): Promise<Reply<unknown>> {
    const stores = await Effect.runPromiseExit(
      this.#observers === undefined
        ? Effect.all({ cursors: makeCursorStore(this.#storage), sink: makeAppendSink(this.#storage) })
        : Effect.succeed(this.#observers),
    )
    if (Exit.isFailure(stores)) return encodeExit(stores)
    this.#observers = stores.value
    const { cursors, sink } = stores.value
    const effect: Effect.Effect<unknown, unknown> =
      operation.op === "cursorGet"
        ? Effect.map(cursors.get(operation.name), Option.getOrNull)
        : operation.op === "cursorSet"
          ? cursors.set(operation.name, operation.seq)
          : operation.op === "sinkAppend"
            ? sink.append(operation.name, bytes(operation.bytes))
            : sink.readAll(operation.name)
    return encodeExit(await Effect.runPromiseExit(effect))
  }

  /** Drops the observers' stores, as a restart would; the next `observe` opens them again. */
  async reopenObservers(): Promise<void> {
    this.#observers = undefined
  }

  async open(limits: Partial<StorageLimits>): Promise<Reply<Opened>> {
    const scope = Effect.runSync(Scope.make())
    const exit = await Effect.runPromiseExit(Scope.extend(makeDurableObjectStorage(this.#storage, limits), scope))
    if (Exit.isFailure(exit)) {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      return encodeExit(Exit.map(exit, () => ({ handle: 0, recovery: undefined as never })))
    }
    const handle = this.#next++
    this.#opens.set(handle, { scope, storage: exit.value })
    return { kind: "ok", value: { handle, recovery: encodeRecovery(exit.value.wal.recovery) } }
  }

  async call(handle: number, operation: Operation): Promise<Reply<unknown>> {
    const open = this.#opens.get(handle)
    if (open === undefined) return { kind: "defect", message: `no open storage ${handle}` }
    return encodeExit(await Effect.runPromiseExit(run(open.storage, operation)))
  }

  async close(handle: number): Promise<void> {
    const open = this.#opens.get(handle)
    this.#opens.delete(handle)
    if (open !== undefined) await Effect.runPromise(Scope.close(open.scope, Exit.void))
  }

  /** Closes every open and deletes the object's database: the end of a "data directory". */
  async destroy(): Promise<void> {
    for (const handle of [...this.#opens.keys()]) await this.close(handle)
    await this.#state.storage.deleteAll()
  }
}

export default {
  fetch: (): Response => new Response("the storage contract's worker answers RPC only", { status: 404 }),
}
