/**
 * The registry's `Wal` and `SnapshotStore` on Deno KV (`Deno.openKv`: a local SQLite file, or Deno Deploy's
 * database), as primitives of src/storage/WalCore.ts, which keeps every rule of the ports.
 *
 * Keys, under a prefix (default `["model-registry"]`):
 * - `head` → `{ lastSeq }`: the key every change of the log checks and rewrites (atomic check-and-set on the next
 *   seq). A check that fails means another writer moved the log: the call fails with `LockLost`, nothing written.
 * - `segment, firstSeq` → `{ lastSeq, bytes }`: a segment, with its size in the file format's framing (WalCore
 *   rolls segments at the same records on every backend).
 * - `batch, firstSeq` → `{ lastSeq, nonce }`: one appended batch; its records are the record keys with its nonce.
 * - `record, seq, nonce, chunk` → bytes: a record (its type byte, then its payload) in chunks.
 * - `snapshot, lastSeq` → `{ nonce, chunks, bytes }` and `snapshot-chunk, lastSeq, nonce, chunk` → bytes.
 * - `lock` → `{ token, renewedAtMillis }`: one open at a time, like a data directory's lock; its holder renews it
 *   every second, and a contender takes it over once it saw it unrenewed for the lease (5 s) of its own clock.
 *
 * Deno KV's limits (measured on Deno 2.9): a value holds at most 64 KiB; an atomic operation at most 1,000
 * mutations, 100 checks and 800 KiB of keys and values. Records and snapshots are cut into chunks of
 * `chunkBytesMax`, and one atomic commit carries at most `atomicMutationsMax` mutations and `atomicBytesMax` bytes.
 *
 * A batch too large for one commit is split, not refused (the registry batches up to 4,096 commands): its chunks are
 * first written by as many commits as they need under the batch's own random nonce, where no reader looks (readers
 * follow `batch` keys) and no other writer can overwrite them (another writer has another nonce). One last commit
 * then checks the head and writes the `batch` key, the segment and the head: the batch becomes visible all at once,
 * and it is acknowledged only after that commit. A batch that lost the race leaves chunks no `batch` key names;
 * they are deleted with their segment's seq range (or at the next open, below the log's start).
 *
 * A commit that throws (a network error to a remote database) has an unknown outcome: the port latches
 * (`DurabilityLost`) rather than guess, and a reopen reads what is there. Two processes on one local database file
 * also contend for SQLite's write lock ("database is locked"): a staging commit that meets it fails its call
 * (`Unavailable`, nothing visible), and the publishing commit latches the port, since the error is not typed as
 * "not committed".
 */
import { Clock, Duration, Effect, Option, Schedule, type Scope } from "effect"
import { DirectoryLocked, type InvalidInput, StorageFailed, WalCorrupt } from "../domain/errors.ts"
import { concatBytes, partsOf } from "../storage/ByteParts.ts"
import { type StorageLimits, validateLimits } from "../storage/Limits.ts"
import { defaultLockLease } from "../storage/ProcessInfo.ts"
import { batchBytes } from "../storage/RecordCodec.ts"
import { segmentHeaderBytes } from "../storage/SegmentHeader.ts"
import type { Snapshot } from "../storage/SnapshotStore.ts"
import { DurabilityLost } from "../storage/StorageError.ts"
import type { WalRecord } from "../storage/Wal.ts"
import * as WalCore from "../storage/WalCore.ts"
import type { DenoAtomicOperation, DenoKv, DenoKvKey, DenoKvKeyPart } from "./denoTypes.ts"

/** A value holds at most 64 KiB; chunks stay below it with room for Deno's own encoding. */
export const chunkBytesMax = 60 * 1024
/** Deno KV refuses more than 1,000 mutations in one atomic operation; the rest is left for the batch's keys. */
export const atomicMutationsMax = 900
/** Deno KV refuses more than 800 KiB of mutations in one atomic operation; the rest is left for keys. */
export const atomicBytesMax = 700 * 1024
/** Deno KV's `list` batch size bound. */
const listBatchSize = 500

export interface KvStorageOptions {
  readonly kv: DenoKv
  /** Where errors point (e.g. `deno-kv:./data/registry.kv`). */
  readonly location: string
  readonly prefix?: ReadonlyArray<DenoKvKeyPart>
}

interface Head {
  readonly lastSeq: number
}
interface SegmentValue {
  readonly lastSeq: number
  readonly bytes: number
}
interface BatchValue {
  readonly lastSeq: number
  readonly nonce: string
}
interface SnapshotValue {
  readonly nonce: string
  readonly chunks: number
  readonly bytes: number
}
interface LockValue {
  readonly token: string
  readonly renewedAtMillis: number
}

/** One mutation of an atomic operation, with the bytes it counts against the commit's limit. */
interface Mutation {
  readonly key: DenoKvKey
  readonly value?: unknown
  readonly bytes: number
}

const set = (key: DenoKvKey, value: unknown, bytes = 64): Mutation => ({ key, value, bytes: bytes + 64 })
const remove = (key: DenoKvKey): Mutation => ({ key, bytes: 64 })

const apply = (operation: DenoAtomicOperation, mutations: ReadonlyArray<Mutation>) => {
  for (const m of mutations) {
    if ("value" in m) operation.set(m.key, m.value)
    else operation.delete(m.key)
  }
  return operation
}

/** Mutations grouped into commits that each stay within Deno KV's limits. */
const groups = (mutations: ReadonlyArray<Mutation>): Array<Array<Mutation>> => {
  const out: Array<Array<Mutation>> = []
  let current: Array<Mutation> = []
  let bytes = 0
  for (const m of mutations) {
    if (current.length > 0 && (current.length >= atomicMutationsMax || bytes + m.bytes > atomicBytesMax)) {
      out.push(current)
      current = []
      bytes = 0
    }
    current.push(m)
    bytes += m.bytes
  }
  if (current.length > 0) out.push(current)
  return out
}

/** `bytes` cut into chunks of at most `chunkBytesMax` (one empty chunk for no bytes). */
export const chunksOf = (bytes: Uint8Array): Array<Uint8Array> => {
  const chunks: Array<Uint8Array> = []
  for (let at = 0; at < bytes.length; at += chunkBytesMax) chunks.push(bytes.slice(at, at + chunkBytesMax))
  return chunks.length === 0 ? [new Uint8Array()] : chunks
}

const nonceOf = () => crypto.randomUUID()

/**
 * Opens the KV log for the scope: takes the lock (or fails with `DirectoryLocked` while another open renews it),
 * reads the segments and snapshots, and derives the ports from WalCore.
 */
export const make = (
  options: KvStorageOptions,
  limitInput: Partial<StorageLimits> = {},
): Effect.Effect<WalCore.Storage, DirectoryLocked | InvalidInput | StorageFailed | WalCorrupt, Scope.Scope> =>
  Effect.gen(function* () {
    const limits = yield* validateLimits(limitInput)
    const { kv, location } = options
    const prefix = options.prefix ?? ["model-registry"]
    const key = (...parts: ReadonlyArray<DenoKvKeyPart>): DenoKvKey => [...prefix, ...parts]
    const failed = (operation: string, error: unknown) =>
      new StorageFailed({
        operation,
        path: location,
        reason: "Unavailable",
        message: `${operation} ${location}: ${error instanceof Error ? error.message : String(error)}`,
      })
    const attempt = <A>(operation: string, run: () => Promise<A>) =>
      Effect.tryPromise({ try: run, catch: (error) => failed(operation, error) })
    /** The entries with keys from `start` (included) to `end` (excluded), in key order. */
    const listAll = <T>(operation: string, start: DenoKvKey, end: DenoKvKey) =>
      attempt(operation, async () => {
        const entries: Array<{ readonly key: DenoKvKey; readonly value: T; readonly versionstamp: string }> = []
        for await (const entry of kv.list<T>({ start, end }, { batchSize: listBatchSize })) entries.push(entry)
        return entries
      })
    /** Commits that make nothing visible: an unknown outcome only leaves unreferenced keys, so it fails the call. */
    const commitInvisible = (operation: string, mutations: ReadonlyArray<Mutation>) =>
      Effect.forEach(
        groups(mutations),
        (group) =>
          Effect.flatMap(
            attempt(operation, () => apply(kv.atomic(), group).commit()),
            (result) => (result.ok ? Effect.void : Effect.fail(failed(operation, "the commit was refused"))),
          ),
        { discard: true },
      )

    yield* takeLock(kv, key("lock"), location)

    const headEntry = yield* attempt("open", () => kv.get<Head>(key("head")))
    const state = { headVersion: headEntry.versionstamp, lastSeq: headEntry.value?.lastSeq ?? 0 }

    /**
     * The one commit that changes the log: checks that the head is the one this open last wrote (no other writer
     * took the next seq), then writes `mutations` and the head. A refused check fails with `LockLost`; a commit
     * that throws has an unknown outcome and latches the port.
     */
    const commitLog = (operation: string, mutations: ReadonlyArray<Mutation>, lastSeq: number) =>
      Effect.flatMap(
        Effect.tryPromise({
          try: () =>
            apply(kv.atomic().check({ key: key("head"), versionstamp: state.headVersion }), mutations)
              .set(key("head"), { lastSeq } satisfies Head)
              .commit(),
          catch: (error) => new DurabilityLost({ failure: failed(operation, error) }),
        }),
        (result): Effect.Effect<void, StorageFailed> => {
          if (!result.ok)
            return Effect.fail(
              new StorageFailed({
                operation,
                path: location,
                reason: "LockLost",
                message: `${operation} ${location}: another writer changed the log since seq ${state.lastSeq}; nothing was written, reopen to continue`,
              }),
            )
          state.headVersion = result.versionstamp
          state.lastSeq = lastSeq
          return Effect.void
        },
      )

    const segmentEntries = yield* listAll<SegmentValue>(
      "open",
      key("segment", 0),
      key("segment", Number.MAX_SAFE_INTEGER),
    )
    const segments: Array<WalCore.Segment<number>> = segmentEntries.map((entry) => {
      const firstSeq = entry.key[prefix.length + 1] as number
      return { firstSeq, lastSeq: entry.value.lastSeq, bytes: entry.value.bytes, handle: firstSeq }
    })
    for (let i = 1; i < segments.length; i++)
      if (segments[i]!.firstSeq !== segments[i - 1]!.lastSeq + 1)
        return yield* new WalCorrupt({
          file: `${location} segment ${segments[i]!.firstSeq}`,
          offset: 0,
          seq: segments[i - 1]!.lastSeq + 1,
          reason: `segment ${segments[i]!.firstSeq} does not follow segment ${segments[i - 1]!.firstSeq}, which ends at seq ${segments[i - 1]!.lastSeq}`,
        })
    const newest = segments.at(-1)
    if ((newest?.lastSeq ?? 0) !== state.lastSeq)
      return yield* new WalCorrupt({
        file: location,
        offset: 0,
        seq: state.lastSeq,
        reason: `the head says seq ${state.lastSeq} but the segments end at seq ${newest?.lastSeq ?? 0}`,
      })

    const snapshotEntries = yield* listAll<SnapshotValue>(
      "open",
      key("snapshot", 0),
      key("snapshot", Number.MAX_SAFE_INTEGER),
    )
    const snapshotSeqs = snapshotEntries.map((entry) => entry.key[prefix.length + 1] as number).sort((a, b) => b - a)

    const describe = (firstSeq: number) => `${location} segment ${firstSeq}`

    /** The keys of records, batches and snapshot chunks nothing refers to any more (a removal cut short by a crash). */
    const leftovers = Effect.gen(function* () {
      const logFirstSeq = segments[0]?.firstSeq ?? 1
      const belowLog = [
        ...(yield* listAll<unknown>("open", key("record", 0), key("record", logFirstSeq))),
        ...(yield* listAll<unknown>("open", key("batch", 0), key("batch", logFirstSeq))),
      ].map((entry) => remove(entry.key))
      const published = new Map(snapshotEntries.map((e) => [e.key[prefix.length + 1] as number, e.value.nonce]))
      const chunks = yield* listAll<unknown>(
        "open",
        key("snapshot-chunk", 0),
        key("snapshot-chunk", Number.MAX_SAFE_INTEGER),
      )
      const unpublished = chunks
        .filter((e) => published.get(e.key[prefix.length + 1] as number) !== e.key[prefix.length + 2])
        .map((e) => remove(e.key))
      return [...belowLog, ...unpublished]
    })

    const log: WalCore.LogPrimitives<number> = {
      describe,
      create: (firstSeq) =>
        Effect.as(
          commitLog(
            "create-segment",
            [
              set(key("segment", firstSeq), {
                lastSeq: firstSeq - 1,
                bytes: segmentHeaderBytes,
              } satisfies SegmentValue),
            ],
            firstSeq - 1,
          ),
          firstSeq,
        ),
      append: (segment, records) =>
        Effect.suspend(() => {
          const nonce = nonceOf()
          const firstSeq = records[0]!.seq
          const lastSeq = firstSeq + records.length - 1
          const chunks: Array<Mutation> = []
          for (const r of records) {
            const bytes = new Uint8Array(1 + r.payload.length)
            bytes[0] = r.type
            bytes.set(r.payload, 1)
            chunksOf(bytes).forEach((chunk, i) => {
              chunks.push(set(key("record", r.seq, nonce, i), chunk, chunk.length))
            })
          }
          const visible = [
            set(key("batch", firstSeq), { lastSeq, nonce } satisfies BatchValue),
            set(key("segment", segment.handle), {
              lastSeq,
              bytes: segment.bytes + batchBytes(records),
            } satisfies SegmentValue),
          ]
          const staged = groups([...chunks, ...visible])
          // One commit when it fits; otherwise the chunks first, where no reader looks, then the visible keys.
          if (staged.length === 1) return commitLog("append", staged[0]!, lastSeq)
          return Effect.zipRight(commitInvisible("append", chunks), commitLog("append", visible, lastSeq))
        }),
      read: (segment, fromSeq, toSeq) =>
        Effect.gen(function* () {
          const from = Math.max(fromSeq, segment.firstSeq)
          const to = Math.min(toSeq, segment.lastSeq)
          if (from > to) return []
          const batches = (yield* listAll<BatchValue>(
            "read",
            key("batch", segment.firstSeq),
            key("batch", to + 1),
          )).filter((b) => b.value.lastSeq >= from)
          const out: Array<WalRecord> = []
          for (const batch of batches) {
            const batchFirst = batch.key[prefix.length + 1] as number
            const low = Math.max(batchFirst, from)
            const high = Math.min(batch.value.lastSeq, to)
            const entries = (yield* listAll<Uint8Array>("read", key("record", low), key("record", high + 1))).filter(
              (e) => e.key[prefix.length + 2] === batch.value.nonce,
            )
            let at = 0
            for (let seq = low; seq <= high; seq++) {
              const parts: Array<Uint8Array> = []
              while (at < entries.length && entries[at]!.key[prefix.length + 1] === seq) {
                if (entries[at]!.key[prefix.length + 3] !== parts.length) break
                parts.push(entries[at]!.value)
                at++
              }
              const bytes = concatBytes(parts)
              if (bytes.length === 0)
                return yield* new WalCorrupt({
                  file: describe(segment.handle),
                  offset: 0,
                  seq,
                  reason: `record ${seq} of batch ${batchFirst} is missing or incomplete`,
                })
              out.push({ seq, type: bytes[0]!, payload: bytes.subarray(1) })
            }
            if (at !== entries.length)
              return yield* new WalCorrupt({
                file: describe(segment.handle),
                offset: 0,
                seq: low,
                reason: `batch ${batchFirst} has record chunks out of order`,
              })
          }
          return out
        }),
      // The segment disappears with its key; its records and batches, now below the log, go after it.
      remove: (firstSeq) =>
        Effect.gen(function* () {
          const segment = segments.find((s) => s.handle === firstSeq)
          const lastSeq = segment?.lastSeq ?? firstSeq - 1
          yield* commitInvisible("remove-segment", [remove(key("segment", firstSeq))])
          const entries = [
            ...(yield* listAll<unknown>("remove-segment", key("record", firstSeq), key("record", lastSeq + 1))),
            ...(yield* listAll<unknown>("remove-segment", key("batch", firstSeq), key("batch", lastSeq + 1))),
          ]
          yield* commitInvisible(
            "remove-segment",
            entries.map((e) => remove(e.key)),
          )
        }),
    }

    const readSnapshot = (lastSeq: number) =>
      Effect.gen(function* () {
        const meta = yield* attempt("snapshot-read", () => kv.get<SnapshotValue>(key("snapshot", lastSeq)))
        if (meta.value === null) return Option.none<Snapshot>()
        const { nonce, chunks, bytes } = meta.value
        const entries = yield* listAll<Uint8Array>(
          "snapshot-read",
          key("snapshot-chunk", lastSeq, nonce, 0),
          key("snapshot-chunk", lastSeq, nonce, chunks),
        )
        const state = concatBytes(entries.map((e) => e.value))
        if (entries.length !== chunks || state.length !== bytes) return Option.none<Snapshot>()
        return Option.some<Snapshot>({ lastSeq, state })
      })

    const snapshots: WalCore.SnapshotPrimitives = {
      describe: (lastSeq) => `${location} snapshot ${lastSeq}`,
      stage: (snapshot) =>
        Effect.gen(function* () {
          const nonce = nonceOf()
          const state = concatBytes(partsOf(snapshot.state))
          const chunks = chunksOf(state)
          yield* commitInvisible(
            "snapshot-write",
            chunks.map((chunk, i) => set(key("snapshot-chunk", snapshot.lastSeq, nonce, i), chunk, chunk.length)),
          )
          const meta: SnapshotValue = { nonce, chunks: chunks.length, bytes: state.length }
          return Effect.gen(function* () {
            const before = yield* attempt("snapshot-write", () =>
              kv.get<SnapshotValue>(key("snapshot", snapshot.lastSeq)),
            )
            yield* commitInvisible("snapshot-write", [set(key("snapshot", snapshot.lastSeq), meta)])
            if (before.value !== null) yield* removeSnapshotChunks(snapshot.lastSeq, before.value.nonce)
          })
        }),
      remove: (lastSeq) =>
        Effect.gen(function* () {
          const meta = yield* attempt("snapshot-remove", () => kv.get<SnapshotValue>(key("snapshot", lastSeq)))
          yield* commitInvisible("snapshot-remove", [remove(key("snapshot", lastSeq))])
          if (meta.value !== null) yield* removeSnapshotChunks(lastSeq, meta.value.nonce)
        }),
      readLatest: (retained, logFirstSeq, logFirst) =>
        Effect.gen(function* () {
          for (const lastSeq of retained) {
            if (lastSeq < logFirstSeq - 1) continue
            const found = yield* readSnapshot(lastSeq)
            if (Option.isSome(found)) return found
          }
          if (logFirstSeq > 1)
            return yield* new WalCorrupt({
              file: logFirst,
              offset: 0,
              seq: logFirstSeq,
              reason: `no readable snapshot covers the log, which starts at seq ${logFirstSeq}`,
            })
          return Option.none()
        }),
    }

    const removeSnapshotChunks = (lastSeq: number, nonce: string) =>
      Effect.flatMap(
        listAll<unknown>(
          "snapshot-remove",
          key("snapshot-chunk", lastSeq, nonce, 0),
          key("snapshot-chunk", lastSeq, nonce, Number.MAX_SAFE_INTEGER),
        ),
        (entries) =>
          commitInvisible(
            "snapshot-remove",
            entries.map((e) => remove(e.key)),
          ),
      )

    const opened: WalCore.Opened<number> = {
      location,
      limits,
      readOnly: false,
      segments,
      snapshotSeqs,
      chosenSnapshot: Option.none(),
      finish: Effect.gen(function* () {
        yield* commitInvisible("open", yield* leftovers)
        return []
      }),
      tornTail: Option.none(),
      tmpFilesRemoved: [],
    }
    return yield* WalCore.make(opened, log, snapshots)
  })

/** The tokens of the locks this process holds: a lock held here is judged at once, without waiting out a renewal. */
const heldHere = new Set<string>()

/**
 * The lock of one KV log: held while its holder renews it, so a crashed holder's lock is taken over once it has
 * gone unrenewed for the lease (the same lease as a data directory's lock judged by time).
 */
const takeLock = (kv: DenoKv, lockKey: DenoKvKey, location: string) =>
  Effect.gen(function* () {
    const { leaseMillis, renewIntervalMillis } = defaultLockLease
    const token = nonceOf()
    const failed = (error: unknown) =>
      new StorageFailed({
        operation: "lock",
        path: location,
        reason: "Unavailable",
        message: `lock ${location}: ${error instanceof Error ? error.message : String(error)}`,
      })
    const read = Effect.tryPromise({ try: () => kv.get<LockValue>(lockKey), catch: failed })
    const take = (over: string | null) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.tryPromise({
          try: () =>
            kv
              .atomic()
              .check({ key: lockKey, versionstamp: over })
              .set(lockKey, { token, renewedAtMillis: now } satisfies LockValue)
              .commit(),
          catch: failed,
        }),
      )
    const current = yield* read
    if (current.value !== null && heldHere.has(current.value.token))
      return yield* new DirectoryLocked({ directory: location, pid: 0 })
    // A lock found is judged by our own clock, never by the time written in it (two hosts' clocks differ): a holder
    // that renews it within the lease is alive; one that leaves it alone for the whole lease has gone.
    if (current.versionstamp !== null) {
      const seenAt = yield* Clock.currentTimeMillis
      for (;;) {
        yield* Effect.sleep(Duration.millis(renewIntervalMillis))
        const again = yield* read
        if (again.versionstamp !== current.versionstamp && again.versionstamp !== null)
          return yield* new DirectoryLocked({ directory: location, pid: 0 })
        if (again.versionstamp === null || (yield* Clock.currentTimeMillis) - seenAt >= leaseMillis) break
      }
    }
    const latest = yield* read
    if (latest.versionstamp !== null && latest.versionstamp !== current.versionstamp)
      return yield* new DirectoryLocked({ directory: location, pid: 0 })
    const taken = yield* take(latest.versionstamp)
    if (!taken.ok) return yield* new DirectoryLocked({ directory: location, pid: 0 })
    heldHere.add(token)
    yield* Effect.addFinalizer(() => Effect.sync(() => heldHere.delete(token)))
    let version = taken.versionstamp
    const renew = Effect.flatMap(Clock.currentTimeMillis, (at) =>
      Effect.tryPromise(() =>
        kv
          .atomic()
          .check({ key: lockKey, versionstamp: version })
          .set(lockKey, { token, renewedAtMillis: at } satisfies LockValue)
          .commit(),
      ),
    ).pipe(
      Effect.flatMap((result) => {
        if (!result.ok) return Effect.fail("taken over" as const)
        version = result.versionstamp
        return Effect.void
      }),
    )
    // Added before the renewals start, so it runs after they stop: a renewal in flight cannot outdate its check.
    yield* Effect.addFinalizer(() =>
      Effect.ignore(
        Effect.tryPromise(() => kv.atomic().check({ key: lockKey, versionstamp: version }).delete(lockKey).commit()),
      ),
    )
    // A lock taken over (the holder paused past its lease) is not renewed again: the head's check-and-set keeps the
    // log safe from the two writers, and the next append of this holder fails with `LockLost`.
    yield* Effect.forkScoped(
      Effect.repeat(renew, Schedule.spaced(Duration.millis(renewIntervalMillis))).pipe(Effect.ignore),
    )
  })
