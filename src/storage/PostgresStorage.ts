/**
 * `Wal`, `SnapshotStore` and `SharedLog` in a PostgreSQL schema that any number of registry servers share, over
 * `@effect/sql`'s `SqlClient`, so the storage code stays runtime-neutral and the runtime provides the driver
 * (`src/node.ts`: `@effect/sql-pg`).
 *
 * One global, gap-free order: every append is one transaction that first takes a transaction-scoped advisory lock
 * on the schema, so appends are serialized, each takes the next seqs after the head it reads under the lock, and
 * the lock is released only after its commit is visible. A reader that has seen seq N therefore never later sees a
 * smaller seq appear: the `bigserial` trap (seqs handed out in one order and committed in another) cannot happen,
 * and readers need no `pg_snapshot_xmin` horizon. Serializing costs little here, since the registry already
 * serializes each server's writes through its actor and batches them: the lock is held for one batch's round trips.
 *
 * Unlike a file, this log's head moves under the process, so the database, not a copy of the segment list in
 * memory, is the truth for every rule: each step reads what it needs under the lock. That is why this backend
 * writes the ports itself rather than WalCore's primitives, which assume that only the process changes its store.
 *
 * Durability: records are acknowledged only after `COMMIT` returned. A failure before the commit rolled everything
 * back (`StorageFailed`, that call only; `Unavailable` when the connection was lost). A failure during the commit
 * leaves its outcome unknown, so the batch is looked up by its id once the lock can be taken again, which is after
 * the lost transaction ended either way; only a lookup that cannot be answered latches the port.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Chunk, Context, Effect, Layer, Option, Random, Schedule, type Scope, Stream } from "effect"
import { type DirectoryLocked, InvalidInput, StorageFailed, WalCorrupt } from "../domain/errors.ts"
import { concatBytes, partsOf } from "./ByteParts.ts"
import * as FailureLatch from "./FailureLatch.ts"
import { mustRoll, type StorageLimits, validateLimits } from "./Limits.ts"
import {
  attempt,
  channelOf,
  failed,
  isConnectionLost,
  locationOf,
  lockClass,
  lockKey,
  migrate,
  schemaPattern,
  transaction as transactionOf,
} from "./PostgresSchema.ts"
import { assertWritable, batchBytes } from "./RecordCodec.ts"
import { segmentHeaderBytes } from "./SegmentHeader.ts"
import { SharedLog } from "./SharedLog.ts"
import { type Snapshot, SnapshotStore } from "./SnapshotStore.ts"
import { DurabilityLost, portFailed } from "./StorageError.ts"
import { type SegmentInfo, Wal, type WalRecord } from "./Wal.ts"

export interface PostgresStorageOptions extends Partial<StorageLimits> {
  /** The schema that holds this registry's tables (default `model_registry`): one registry per schema. */
  readonly schema?: string
  /** How often a server looks for other servers' commits when no notification came (default 1,000 ms). */
  readonly pollMillis?: number
}

/** `LISTEN`, which `SqlClient` does not offer: the runtime's driver provides it (`src/node.ts`: `PgClient.listen`). */
export interface PostgresNotifications {
  readonly listen: (channel: string) => Stream.Stream<string, unknown>
}
export const PostgresNotifications: Context.Tag<PostgresNotifications, PostgresNotifications> =
  Context.GenericTag<PostgresNotifications>("@visutility/model-registry/PostgresNotifications")

export interface PostgresStorage {
  readonly wal: Wal
  readonly snapshots: SnapshotStore
  readonly shared: SharedLog
}

interface Row {
  readonly seq: string | number
  readonly type: number
  readonly payload: Uint8Array
}

const recordOf = (row: Row): WalRecord => ({
  seq: Number(row.seq),
  type: row.type,
  // A copy in a plain Uint8Array: the driver's Buffer may be a view into a pooled one.
  payload: new Uint8Array(row.payload),
})

/** How long PostgreSQL lets one of our transactions sit idle (holding the append lock) before ending it. */
const idleInTransactionMillis = 15_000
/** Records read per statement: a reader holds one page, never the whole log. */
const pageRecords = 4096
/** How long a commit whose outcome was lost is looked up before the port gives up and latches. */
const lookupSchedule = Schedule.exponential("50 millis").pipe(
  Schedule.union(Schedule.spaced("2 seconds")),
  Schedule.upTo("30 seconds"),
)

/**
 * Opens the schema for the current scope: migrates it (refusing one a newer release migrated) and reads where its
 * log starts and ends.
 */
export const makePostgresStorage = (
  options: PostgresStorageOptions = {},
): Effect.Effect<PostgresStorage, InvalidInput | StorageFailed | WalCorrupt, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function* () {
    const { schema = "model_registry", pollMillis = 1000, ...limitInput } = options
    if (!schemaPattern.test(schema))
      return yield* new InvalidInput({
        field: "schema",
        message: "schema: must be 1–48 lowercase letters, digits and underscores, not starting with a digit",
      })
    if (!Number.isSafeInteger(pollMillis) || pollMillis < 1)
      return yield* new InvalidInput({ field: "pollMillis", message: "pollMillis: must be a positive integer" })
    const limits = yield* validateLimits(limitInput)
    const sql = yield* SqlClient.SqlClient
    const location = locationOf(schema)
    yield* migrate(schema)
    const notifications = Option.getOrUndefined(yield* Effect.serviceOption(PostgresNotifications))
    // From Effect's Random, like every id here, so a seeded run writes the same bytes.
    const processId = `${(yield* Random.nextInt).toString(36)}-${(yield* Random.nextInt).toString(36)}`
    const latch = FailureLatch.make()
    // The append lock, and a bound on how long a transaction of ours may sit idle holding it: a server that vanished
    // mid-transaction without closing its connection (a network cut) would otherwise stall every other server's
    // appends until TCP gave up on it, hours later. One statement, so it costs no round trip of its own.
    const lock = `select set_config('idle_in_transaction_session_timeout', '${idleInTransactionMillis}', true),
                         pg_advisory_xact_lock(${lockClass}, ${lockKey(schema)})`
    const channel = channelOf(schema)
    const S = schema

    /** What this server last saw of the log: `head` only grows; the database holds the truth. */
    const state = { head: 0, first: 1, batches: 0, reachable: true, segments: [] as ReadonlyArray<SegmentInfo> }
    const saw = (head: number) => {
      if (head > state.head) state.head = head
    }
    /** Notes whether the database answered, for readiness; passes the outcome on. */
    const reached = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.tapBoth(effect, {
        onSuccess: () =>
          Effect.sync(() => {
            state.reachable = true
          }),
        onFailure: (error) =>
          Effect.sync(() => {
            if (isConnectionLost(error) || (error instanceof StorageFailed && error.reason === "Unavailable"))
              state.reachable = false
          }),
      })

    /**
     * The log's bounds and the records after `knownSeq`, in one statement (one round trip with the append lock
     * held): a row per record, each carrying the bounds, or one row of bounds alone.
     */
    const headAfter = (knownSeq: number) =>
      Effect.map(
        sql.unsafe<{
          readonly first: string | null
          readonly head: string | null
          readonly current: string | null
          readonly bytes: string | null
          readonly seq: string | null
          readonly type: number | null
          readonly payload: Uint8Array | null
        }>(
          `select f.first, h.head, c.first_seq as current, c.bytes, r.seq, r.type, r.payload
             from (select max(seq) as head from ${S}.records) h
             cross join (select min(first_seq) as first from ${S}.segments) f
             left join (select first_seq, bytes from ${S}.segments order by first_seq desc limit 1) c on true
             left join ${S}.records r on r.seq > $1
            order by r.seq`,
          [knownSeq],
        ),
        (rows) => {
          const row = rows[0]
          const current = row?.current === null || row?.current === undefined ? 1 : Number(row.current)
          const head = row?.head === null || row?.head === undefined ? current - 1 : Number(row.head)
          const first = row?.first === null || row?.first === undefined ? 1 : Number(row.first)
          const behind: Array<WalRecord> = []
          for (const r of rows) if (r.seq !== null) behind.push(recordOf(r as Row))
          return { at: { first, head, current, bytes: Number(row?.bytes ?? segmentHeaderBytes) }, behind }
        },
      )

    /**
     * The log's bounds as the database has them now: first seq still held, head, and the newest segment. The same
     * statement as the append's, after a seq no record reaches.
     */
    const bounds = Effect.map(headAfter(Number.MAX_SAFE_INTEGER), ({ at }) => at)
    /** Notes the bounds a statement read: the head only grows here, and compaction moves the first seq. */
    const sawBounds = (at: { readonly first: number; readonly head: number }) => {
      saw(at.head)
      state.first = at.first
    }

    // A new log gets its first segment; several servers opening it at once create it once.
    yield* attempt(
      "open",
      schema,
      sql.unsafe(
        `insert into ${S}.segments (first_seq, bytes) select 1, ${segmentHeaderBytes}
          where not exists (select 1 from ${S}.segments)
          on conflict (first_seq) do nothing`,
      ),
    )
    const opened = yield* attempt("open", schema, bounds)
    // Only up to the head just read: other servers may commit between the two statements, and their records are not
    // a gap (a server restarted under load was refused as WalCorrupt, scripts/multi-server.ts).
    const [counted] = yield* attempt(
      "open",
      schema,
      sql.unsafe<{ readonly count: string; readonly low: string | null }>(
        `select count(*) as count, min(seq) as low from ${S}.records where seq <= $1`,
        [opened.head],
      ),
    )
    const count = Number(counted?.count ?? 0)
    if (count > 0 && (Number(counted?.low) < opened.first || opened.head - Number(counted?.low) + 1 !== count))
      return yield* new WalCorrupt({
        file: location,
        offset: -1,
        seq: Number(counted?.low),
        reason: `the records from seq ${counted?.low} to ${opened.head} are not contiguous (${count} rows)`,
      })
    sawBounds(opened)
    const segmentCount = yield* attempt(
      "open",
      schema,
      sql.unsafe<{ readonly n: string }>(`select count(*) as n from ${S}.segments`),
    )

    const transaction = <A, E>(effect: Effect.Effect<A, E>) => transactionOf(sql, effect)

    const corrupt = (seq: number, reason: string) => new WalCorrupt({ file: location, offset: -1, seq, reason })

    /** Why `records` are not exactly seqs `from`, `from + 1`, … (`count` of them), if they are not. */
    const gapIn = (records: ReadonlyArray<WalRecord>, from: number, count: number): WalCorrupt | undefined => {
      for (let i = 0; i < records.length; i++)
        if (records[i]!.seq !== from + i) return corrupt(from + i, "a seq is missing")
      return records.length === count
        ? undefined
        : corrupt(from + records.length, `expected ${count} records from seq ${from}, found ${records.length}`)
    }

    /** Records `from..to` (both held), checked contiguous on the way back. */
    const page = (from: number, to: number): Effect.Effect<Array<WalRecord>, StorageFailed | WalCorrupt> =>
      Effect.flatMap(
        reached(
          attempt(
            "read",
            schema,
            sql.unsafe<Row>(`select seq, type, payload from ${S}.records where seq between $1 and $2 order by seq`, [
              from,
              to,
            ]),
          ),
        ),
        (rows) => {
          const records = rows.map(recordOf)
          const gap = gapIn(records, from, to - from + 1)
          return gap === undefined ? Effect.succeed(records) : Effect.fail(gap)
        },
      )

    /**
     * The append transaction's body; sets `progress.committing` once only the commit is left, which is where the
     * outcome of a failure becomes unknown.
     */
    const appendBody = (
      knownSeq: number,
      decide: (behind: ReadonlyArray<WalRecord>) => ReadonlyArray<WalRecord>,
      id: string,
      progress: { committing: boolean; lastSeq: number },
    ) =>
      Effect.gen(function* () {
        yield* sql.unsafe(lock)
        const { at, behind } = yield* headAfter(knownSeq)
        if (at.head < knownSeq)
          return yield* new DurabilityLost({
            failure: new StorageFailed({
              operation: "append",
              path: location,
              reason: "InvalidData",
              message: `${location} ends at seq ${at.head}, but this server has seen seq ${knownSeq}: the database lost committed records`,
            }),
          })
        const gap = gapIn(behind, knownSeq + 1, at.head - knownSeq)
        if (gap !== undefined) return yield* gap
        sawBounds(at)
        let records: ReadonlyArray<WalRecord>
        try {
          records = decide(behind)
        } catch (error) {
          // A failure to use what others committed (a record that does not decode) fails this call, not the port.
          return yield* new StorageFailed({
            operation: "append",
            path: location,
            reason: "InvalidData",
            message: `cannot apply the records other servers committed: ${error instanceof Error ? error.message : String(error)}`,
          })
        }
        if (records.length > 0) {
          for (let i = 0; i < records.length; i++) assertWritable(records[i]!, at.head + 1 + i, limits.recordBytesMax)
          const size = batchBytes(records)
          const firstSeq = at.head + 1
          const lastSeq = at.head + records.length
          // One statement for the whole write (the records, the segment's size or a new segment, the batch's row and
          // the notification): each statement is a round trip with the lock held, and every server waits on it.
          const params: Array<unknown> = []
          const $ = (value: unknown, type: string) => `$${params.push(value)}::${type}`
          const rows: Array<string> = []
          for (const record of records)
            rows.push(`(${$(record.seq, "bigint")}, ${$(record.type, "smallint")}, ${$(record.payload, "bytea")})`)
          const segment = mustRoll(limits, at.bytes, at.head >= at.current, size)
            ? `insert into ${S}.segments (first_seq, bytes) values (${$(firstSeq, "bigint")}, ${$(segmentHeaderBytes + size, "bigint")})`
            : `update ${S}.segments set bytes = bytes + ${$(size, "bigint")} where first_seq = ${$(at.current, "bigint")}`
          yield* sql.unsafe(
            `with written as (insert into ${S}.records (seq, type, payload) values ${rows.join(", ")}),
                  segment as (${segment}),
                  batch as (insert into ${S}.batches (id, first_seq, last_seq)
                            values (${$(id, "text")}, ${$(firstSeq, "bigint")}, ${$(lastSeq, "bigint")}))
             select pg_notify(${$(channel, "text")}, ${$(String(lastSeq), "text")})`,
            params,
          )
          progress.lastSeq = lastSeq
        }
        progress.committing = true
      })

    /**
     * After a commit whose outcome was lost: whether batch `id` is in the log. Waits for the append lock first,
     * which the lost transaction holds until it has committed or rolled back, so the answer is final.
     */
    const lookUp = (id: string): Effect.Effect<boolean, SqlError> =>
      transaction(
        Effect.zipRight(
          sql.unsafe(lock),
          sql.unsafe<{ readonly last_seq: string }>(`select last_seq from ${S}.batches where id = $1`, [id]),
        ),
      ).pipe(
        Effect.map((rows) => rows.length > 0),
        Effect.retry(lookupSchedule),
      )

    const appendAtHead: SharedLog["appendAtHead"] = (knownSeq, decide) =>
      Effect.suspend(() => {
        const latched = latch.failure()
        if (latched !== undefined) return Effect.fail(portFailed("append", location, latched))
        const id = `${processId}-${++state.batches}`
        const progress = { committing: false, lastSeq: 0 }
        return reached(transaction(appendBody(knownSeq, decide, id, progress))).pipe(
          Effect.matchEffect({
            onSuccess: () => Effect.sync(() => saw(progress.lastSeq)),
            onFailure: (error): Effect.Effect<void, StorageFailed> => {
              if (error instanceof DurabilityLost) return latch.onError(error)
              if (error instanceof StorageFailed) return Effect.fail(error)
              if (!progress.committing || progress.lastSeq === 0) return Effect.fail(failed("append", schema, error))
              return lookUp(id).pipe(
                Effect.matchEffect({
                  onSuccess: (found) =>
                    found
                      ? Effect.sync(() => saw(progress.lastSeq))
                      : Effect.fail(
                          new StorageFailed({
                            operation: "append",
                            path: location,
                            reason: "Unavailable",
                            message: `append ${location}: the connection was lost during the commit, which did not happen (${failed("commit", schema, error).message})`,
                          }),
                        ),
                  onFailure: (lookupError) =>
                    latch.onError(
                      new DurabilityLost({
                        failure: new StorageFailed({
                          operation: "append",
                          path: location,
                          reason: "Unknown",
                          message: `append ${location}: the connection was lost during the commit, and whether it happened could not be looked up (${failed("look up", schema, lookupError).message})`,
                        }),
                      }),
                    ),
                }),
              )
            },
          }),
        )
      })

    /** A step of compaction under the append lock, in one transaction; its failure fails that call only. */
    const locked = <A>(operation: string, effect: Effect.Effect<A, SqlError>) =>
      Effect.zipRight(
        latch.check(operation, location),
        reached(attempt(operation, schema, transaction(Effect.zipRight(sql.unsafe(lock), effect)))),
      )

    const segmentsNow = Effect.flatMap(
      attempt(
        "segments",
        schema,
        sql.unsafe<{ readonly first_seq: string; readonly bytes: string }>(
          `select first_seq, bytes from ${S}.segments order by first_seq`,
        ),
      ),
      (rows) =>
        Effect.map(attempt("segments", schema, bounds), (at) => {
          sawBounds(at)
          state.segments = rows.map((row, i) => {
            const next = rows[i + 1]
            const firstSeq = Number(row.first_seq)
            return {
              firstSeq,
              lastSeq: next === undefined ? at.head : Number(next.first_seq) - 1,
              bytes: Number(row.bytes),
            }
          })
          return state.segments
        }),
    )

    const wal: Wal = {
      lastSeq: Effect.sync(() => state.head),
      firstSeq: Effect.sync(() => state.first),
      append: (records) =>
        Effect.suspend(() => {
          if (records.length === 0) return Effect.void
          for (let i = 0; i < records.length; i++)
            assertWritable(records[i]!, state.head + 1 + i, limits.recordBytesMax)
          const knownSeq = state.head
          return appendAtHead(knownSeq, (behind) => {
            if (behind.length > 0)
              throw new Error(`another server appended seqs ${knownSeq + 1}..${knownSeq + behind.length} first`)
            return records
          })
        }),
      read: (fromSeq) =>
        Stream.unwrap(
          Effect.gen(function* () {
            yield* latch.check("read", location)
            const at = yield* reached(attempt("read", schema, bounds))
            sawBounds(at)
            if (Math.max(fromSeq, 1) < at.first)
              return yield* new StorageFailed({
                operation: "read",
                path: location,
                reason: "Compacted",
                message: `seq ${fromSeq} was compacted away; the log starts at seq ${at.first}`,
              })
            const head = at.head
            return Stream.paginateChunkEffect(Math.max(fromSeq, 1), (from) => {
              if (from > head) return Effect.succeed([Chunk.empty<WalRecord>(), Option.none<number>()] as const)
              const to = Math.min(from + pageRecords - 1, head)
              return Effect.map(
                page(from, to),
                (records) => [Chunk.unsafeFromArray(records), to < head ? Option.some(to + 1) : Option.none()] as const,
              )
            })
          }),
        ),
      rotate: locked(
        "rotate",
        Effect.flatMap(bounds, (at) =>
          at.head >= at.current
            ? Effect.asVoid(
                sql.unsafe(`insert into ${S}.segments (first_seq, bytes) values ($1, $2)`, [
                  at.head + 1,
                  segmentHeaderBytes,
                ]),
              )
            : Effect.void,
        ),
      ).pipe(Effect.asVoid),
      deleteSegmentsUpTo: (upToSeq) =>
        Effect.tap(
          locked(
            "delete-segments",
            Effect.gen(function* () {
              // Never past the older of the two retained snapshots, nor past an observer's durable cursor.
              const retained = yield* sql.unsafe<{ readonly last_seq: string }>(
                `select last_seq from ${S}.snapshots where published order by last_seq desc limit 2`,
              )
              const [cursor] = yield* sql.unsafe<{ readonly low: string | null }>(
                `select min(seq) as low from ${S}.cursors`,
              )
              let floor = Math.min(upToSeq, retained.length < 2 ? 0 : Number(retained[1]!.last_seq))
              if (cursor?.low !== null && cursor?.low !== undefined) floor = Math.min(floor, Number(cursor.low))
              const rows = yield* sql.unsafe<{ readonly first_seq: string }>(
                `select first_seq from ${S}.segments order by first_seq`,
              )
              // The first segment kept: the oldest one not wholly at or below the floor, never past the newest.
              let keep = Number(rows[0]?.first_seq ?? 1)
              for (let i = 0; i + 1 < rows.length && Number(rows[i + 1]!.first_seq) - 1 <= floor; i++)
                keep = Number(rows[i + 1]!.first_seq)
              yield* sql.unsafe(`delete from ${S}.records where seq < $1`, [keep])
              yield* sql.unsafe(`delete from ${S}.batches where first_seq < $1`, [keep])
              yield* sql.unsafe(`delete from ${S}.segments where first_seq < $1`, [keep])
              return keep
            }),
          ),
          (keep) =>
            Effect.sync(() => {
              state.first = keep
            }),
        ).pipe(Effect.asVoid),
      segments: Effect.orElseSucceed(segmentsNow, () => state.segments),
      recovery: {
        tornTail: Option.none(),
        tmpFilesRemoved: [],
        snapshotFallbacks: [],
        segments: Number(segmentCount[0]?.n ?? 1),
        records: count,
      },
      health: Effect.suspend(() => {
        const latched = latch.failure()
        return latched === undefined ? Effect.void : Effect.fail(latched)
      }),
    }

    const snapshots: SnapshotStore = {
      write: (snapshot) =>
        Effect.gen(function* () {
          yield* latch.check("snapshot-write", location)
          if (!Number.isSafeInteger(snapshot.lastSeq) || snapshot.lastSeq < 0 || snapshot.lastSeq > state.head)
            return yield* Effect.dieMessage(
              `snapshot lastSeq ${snapshot.lastSeq} is outside the durable log (0..${state.head})`,
            )
          // Published in the statement that writes it, and the two newest kept: another server may be writing one
          // too, and neither may find the other's half-done.
          yield* reached(
            attempt(
              "snapshot-write",
              schema,
              transaction(
                Effect.zipRight(
                  sql.unsafe(
                    `insert into ${S}.snapshots (last_seq, state, published) values ($1, $2, true)
                     on conflict (last_seq) do update set state = excluded.state, published = true`,
                    [snapshot.lastSeq, concatBytes(partsOf(snapshot.state))],
                  ),
                  sql.unsafe(
                    `delete from ${S}.snapshots where last_seq not in
                       (select last_seq from ${S}.snapshots where published order by last_seq desc limit 2)`,
                  ),
                ),
              ),
            ),
          )
        }),
      latest: Effect.zipRight(
        latch.check("snapshot-latest", location),
        Effect.map(
          reached(
            attempt(
              "read snapshot",
              schema,
              sql.unsafe<{ readonly last_seq: string; readonly state: Uint8Array }>(
                `select last_seq, state from ${S}.snapshots where published order by last_seq desc limit 1`,
              ),
            ),
          ),
          ([row]): Option.Option<Snapshot> =>
            row === undefined
              ? Option.none()
              : Option.some({ lastSeq: Number(row.last_seq), state: new Uint8Array(row.state) }),
        ),
      ),
    }

    const poll = Effect.gen(function* () {
      let delay = pollMillis
      for (;;) {
        yield* Effect.sleep(delay)
        // Once more at once: a pooled connection the server ended since its last use fails one statement, and the
        // pool's next one is new; only a second failure means the database cannot be reached.
        const at = yield* Effect.either(reached(Effect.retry(attempt("poll", schema, bounds), { times: 1 })))
        // Backs off while the database is unreachable; the pool reconnects on the next statement that gets through.
        if (at._tag === "Left") delay = Math.min(delay * 2, Math.max(pollMillis, 5000))
        else {
          delay = pollMillis
          sawBounds(at.right)
        }
        yield* wakeWith()
      }
    })
    let wakeWith: () => Effect.Effect<void> = () => Effect.void

    const shared: SharedLog = {
      appendAtHead,
      follow: (wake) => {
        wakeWith = () => Effect.sync(() => wake(state.head))
        const listen =
          notifications === undefined
            ? Effect.never
            : Stream.runForEach(notifications.listen(channel), (payload) =>
                Effect.sync(() => {
                  const head = Number(payload)
                  if (Number.isSafeInteger(head)) saw(head)
                  wake(state.head)
                }),
              ).pipe(
                // A lost listening connection only delays (the poll goes on); it is listened again after a pause.
                Effect.catchAll(() => Effect.void),
                Effect.zipRight(Effect.sleep(pollMillis)),
                Effect.forever,
              )
        return Effect.zipRight(Effect.forkScoped(listen), poll).pipe(Effect.scoped) as Effect.Effect<never>
      },
      reachable: Effect.suspend(() =>
        state.reachable
          ? Effect.void
          : Effect.fail(
              new StorageFailed({
                operation: "connect",
                path: location,
                reason: "Unavailable",
                message: `${location} cannot be reached; retrying`,
              }),
            ),
      ),
    }
    return { wal, snapshots, shared }
  })

/** Provides `Wal`, `SnapshotStore` and `SharedLog` over a PostgreSQL schema, for as long as the layer is open. */
export const layerPostgres = (
  options: PostgresStorageOptions = {},
): Layer.Layer<
  Wal | SnapshotStore | SharedLog,
  InvalidInput | DirectoryLocked | StorageFailed | WalCorrupt,
  SqlClient.SqlClient
> =>
  Layer.scopedContext(
    Effect.map(makePostgresStorage(options), (storage) =>
      Context.make(Wal, storage.wal).pipe(
        Context.add(SnapshotStore, storage.snapshots),
        Context.add(SharedLog, storage.shared),
      ),
    ),
  )
