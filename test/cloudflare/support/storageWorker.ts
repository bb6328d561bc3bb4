/**
 * A test-only Worker whose Durable Object runs the registry's storage ports on its own SQLite storage, inside
 * workerd: the Node-side suite (durableObjectBackend.ts) calls one RPC method per port call. An object is one
 * "data directory"; each `open` is one open of it, kept until `close`.
 */
import { DurableObject } from "cloudflare:workers"
import { Chunk, Effect, Exit, Option, Scope, Stream } from "effect"
import type { DurableObjectState } from "../../../src/cloudflare/DurableObjectApi.ts"
import { makeDurableObjectStorage } from "../../../src/cloudflare/DurableObjectStorage.ts"
import type { StorageLimits } from "../../../src/storage/Limits.ts"
import type { Storage } from "../../../src/storage/WalCore.ts"
import { bytes, encodeExit, encodeRecovery, type Opened, type Operation, type Reply } from "./storageProtocol.ts"

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
      return wal.append(operation.records.map((r) => ({ ...r, payload: bytes(r.payload) })))
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

export class StorageObject extends DurableObject {
  readonly #state: DurableObjectState
  readonly #opens = new Map<number, { readonly scope: Scope.CloseableScope; readonly storage: Storage }>()
  #next = 1

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env)
    this.#state = ctx
  }

  async open(limits: Partial<StorageLimits>): Promise<Reply<Opened>> {
    const scope = Effect.runSync(Scope.make())
    const exit = await Effect.runPromiseExit(Scope.extend(makeDurableObjectStorage(this.#state.storage, limits), scope))
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
