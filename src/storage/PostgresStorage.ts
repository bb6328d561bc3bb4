/**
 * `Wal` and `SnapshotStore` in PostgreSQL tables: the WalCore primitives over `@effect/sql`'s `SqlClient`, so the
 * ports' rules (seq contiguity, segment rolls, retention, the failure latch) are the ones every backend shares, and
 * the runtime provides the driver (`src/node.ts`: `@effect/sql-pg`).
 *
 * One server writes a schema at a time, as one process writes a data directory: it holds a session advisory lock
 * on a connection of its own for as long as it is open, and a second server is refused with `DirectoryLocked`. A
 * lock can be lost without the holder noticing (its connection terminated), so every append also checks, in its
 * own transaction, that the schema's writer token is still the one this server wrote when it took the lock; after a
 * takeover the old holder's next append fails and latches, and nothing it acknowledged can interleave with the new
 * writer's records. Several servers writing one schema at once is not this module's design (see issue 16).
 *
 * Durability: an append is one transaction; its records are acknowledged only after `COMMIT` returned. A failure
 * before the commit leaves the tables as they were (`StorageFailed`, that batch only). A failure of the commit
 * itself leaves its outcome unknown, so the port latches (`DurabilityLost`) rather than guess; reopening reads
 * what the database holds.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Context, Effect, Layer, Option, Random, type Scope } from "effect"
import { DirectoryLocked, InvalidInput, StorageFailed, WalCorrupt } from "../domain/errors.ts"
import { concatBytes, partsOf } from "./ByteParts.ts"
import { type StorageLimits, validateLimits } from "./Limits.ts"
import { recordHeaderBytes } from "./RecordCodec.ts"
import { segmentHeaderBytes } from "./SegmentHeader.ts"
import { type Snapshot, SnapshotStore } from "./SnapshotStore.ts"
import { DurabilityLost } from "./StorageError.ts"
import { Wal, type WalRecord } from "./Wal.ts"
import * as WalCore from "./WalCore.ts"

export interface PostgresStorageOptions extends Partial<StorageLimits> {
  /** The schema that holds this registry's tables (default `model_registry`): one registry per schema. */
  readonly schema?: string
}

/** A schema name used as it is in statements, so it is held to a plain identifier. */
export const schemaPattern = /^[a-z_][a-z0-9_]{0,47}$/

/** The migrations this release knows, by id; a database migrated past the last is a newer release's. */
const migrations = (schema: string): Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> => ({
  "1_wal": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(`create schema if not exists ${schema}`)
    yield* sql.unsafe(`create table ${schema}.segments (first_seq bigint primary key)`)
    yield* sql.unsafe(
      `create table ${schema}.records (seq bigint primary key, type smallint not null, payload bytea not null)`,
    )
    yield* sql.unsafe(
      `create table ${schema}.snapshots (last_seq bigint primary key, state bytea not null, published boolean not null)`,
    )
    yield* sql.unsafe(`create table ${schema}.meta (key text primary key, value text not null)`)
    yield* sql.unsafe(`create table ${schema}.cursors (name text primary key, seq bigint not null)`)
    yield* sql.unsafe(
      `create table ${schema}.sink_lines (name text not null, n bigserial, bytes bytea not null, primary key (name, n))`,
    )
  }),
})
const knownMigrations = 1

/** Where errors point: the schema, never the connection's credentials. */
export const locationOf = (schema: string) => `postgres:${schema}`

export const failed = (operation: string, schema: string, error: SqlError | unknown): StorageFailed =>
  new StorageFailed({
    operation,
    path: locationOf(schema),
    reason: "Unknown",
    message: `${operation} ${locationOf(schema)}: ${error instanceof Error ? error.message : String(error)}`,
  })

/** Runs a statement, its failure a `StorageFailed` of that call only: nothing it did is acknowledged. */
const attempt = <A, R>(operation: string, schema: string, effect: Effect.Effect<A, SqlError, R>) =>
  Effect.mapError(effect, (error) => failed(operation, schema, error))

/**
 * The advisory lock's key: one per schema, from its name (FNV-1a, 32 bits, which `pg_try_advisory_lock(int, int)`
 * takes with a fixed first key of our own).
 */
const lockKey = (schema: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < schema.length; i++) hash = Math.imul(hash ^ schema.charCodeAt(i), 0x01000193)
  return hash | 0
}
const lockClass = 0x5654_524d // "VTRM"

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

/**
 * Opens the schema for the current scope: migrates it (refusing one a newer release migrated), takes the writer
 * lock, and reads the segments and snapshots the core builds the ports from.
 */
export const makePostgresStorage = (
  options: PostgresStorageOptions = {},
): Effect.Effect<
  WalCore.Storage,
  InvalidInput | DirectoryLocked | StorageFailed | WalCorrupt,
  SqlClient.SqlClient | Scope.Scope
> =>
  Effect.gen(function* () {
    const { schema = "model_registry", ...limitInput } = options
    if (!schemaPattern.test(schema))
      return yield* new InvalidInput({
        field: "schema",
        message: "schema: must be 1–48 lowercase letters, digits and underscores, not starting with a digit",
      })
    const limits = yield* validateLimits(limitInput)
    const sql = yield* SqlClient.SqlClient
    const location = locationOf(schema)
    const table = `${schema}_migrations`
    yield* Effect.mapError(Migrator.make({})({ loader: Migrator.fromRecord(migrations(schema)), table }), (error) =>
      failed("migrate", schema, error),
    )
    const [newest] = yield* attempt(
      "migrate",
      schema,
      sql.unsafe<{ readonly id: number | null }>(`select max(migration_id) as id from ${table}`),
    )
    if ((newest?.id ?? 0) > knownMigrations)
      return yield* new StorageFailed({
        operation: "open",
        path: location,
        reason: "BadArgument",
        message: `${location} was migrated by a newer release (migration ${newest?.id}; this release knows ${knownMigrations})`,
      })

    // The writer lock, on a connection of its own for the whole scope; released (or dropped with the connection).
    const connection = yield* attempt("lock", schema, sql.reserve)
    const key = lockKey(schema)
    const [taken] = yield* attempt(
      "lock",
      schema,
      connection.execute("select pg_try_advisory_lock($1, $2) as taken", [lockClass, key], undefined),
    )
    if (taken?.taken !== true) {
      const holders = yield* attempt(
        "lock",
        schema,
        sql<{
          readonly pid: number
        }>`select pid from pg_locks where locktype = 'advisory' and classid = ${lockClass} and objid = ${key >>> 0} and granted`,
      )
      return yield* new DirectoryLocked({ directory: location, pid: Number(holders[0]?.pid ?? 0) })
    }
    yield* Effect.addFinalizer(() =>
      Effect.ignore(connection.execute("select pg_advisory_unlock($1, $2)", [lockClass, key], undefined)),
    )
    // From Effect's Random, like every id here, so a seeded run writes the same bytes.
    const token = `${(yield* Random.nextInt).toString(36)}-${(yield* Random.nextInt).toString(36)}`
    yield* attempt(
      "lock",
      schema,
      sql.unsafe(
        `insert into ${schema}.meta (key, value) values ('writer', $1) on conflict (key) do update set value = excluded.value`,
        [token],
      ),
    )

    const segmentRows = yield* attempt(
      "open",
      schema,
      sql.unsafe<{ readonly first_seq: string }>(`select first_seq from ${schema}.segments order by first_seq`),
    )
    const segments: Array<WalCore.Segment<number>> = []
    for (const [i, row] of segmentRows.entries()) {
      const firstSeq = Number(row.first_seq)
      const next = segmentRows[i + 1]
      const upTo = next === undefined ? Number.MAX_SAFE_INTEGER : Number(next.first_seq) - 1
      const [summary] = yield* attempt(
        "open",
        schema,
        sql.unsafe<{ readonly count: string; readonly last: string | null; readonly payload: string | null }>(
          `select count(*) as count, max(seq) as last, sum(length(payload)) as payload from ${schema}.records where seq between $1 and $2`,
          [firstSeq, upTo],
        ),
      )
      const count = Number(summary?.count ?? 0)
      const lastSeq = summary?.last === null || summary?.last === undefined ? firstSeq - 1 : Number(summary.last)
      if (lastSeq !== firstSeq + count - 1 || (next !== undefined && lastSeq !== upTo))
        return yield* new WalCorrupt({
          file: `${location}/segment ${firstSeq}`,
          offset: -1,
          seq: firstSeq + count,
          reason: `the records from seq ${firstSeq} are not contiguous up to ${next === undefined ? "the end" : upTo}`,
        })
      // Counted in the file format's framing, as the core counts appends, so every backend rolls at the same records.
      const bytes = segmentHeaderBytes + count * recordHeaderBytes + Number(summary?.payload ?? 0)
      segments.push({ firstSeq, lastSeq, bytes, handle: firstSeq })
    }
    const published = yield* attempt(
      "open",
      schema,
      sql.unsafe<{ readonly last_seq: string }>(
        `select last_seq from ${schema}.snapshots where published order by last_seq desc`,
      ),
    )

    /** The transaction's first statement: the writer token is still ours, else another server took over. */
    const fenced = <A, E>(operation: string, effect: Effect.Effect<A, E | SqlError>) =>
      Effect.flatMap(
        sql.unsafe<{ readonly value: string }>(`select value from ${schema}.meta where key = 'writer' for share`),
        (rows): Effect.Effect<A, E | SqlError | StorageFailed> =>
          rows[0]?.value === token
            ? effect
            : Effect.fail(
                new StorageFailed({
                  operation,
                  path: location,
                  reason: "LockLost",
                  message: `another server took over ${location}`,
                }),
              ),
      )

    /**
     * One transaction: a failure before `COMMIT` rolled everything back (that call fails); a failed `COMMIT` leaves
     * the outcome unknown, and so does a lost lock, and either latches the port.
     */
    const durably = <A>(operation: string, effect: Effect.Effect<A, SqlError>) =>
      sql.withTransaction(fenced(operation, effect)).pipe(
        Effect.catchAll((error): Effect.Effect<never, StorageFailed | DurabilityLost> => {
          if (error instanceof StorageFailed) return Effect.fail(new DurabilityLost({ failure: error }))
          const failure = failed(operation, schema, error)
          return Effect.fail(isCommitFailure(error) ? new DurabilityLost({ failure }) : failure)
        }),
      )

    const log: WalCore.LogPrimitives<number> = {
      describe: (firstSeq) => `${location}/segment ${firstSeq}`,
      create: (firstSeq) =>
        Effect.as(
          durably("create segment", sql.unsafe(`insert into ${schema}.segments (first_seq) values ($1)`, [firstSeq])),
          firstSeq,
        ),
      append: (_segment, records) => {
        const params: Array<unknown> = []
        const rows: Array<string> = []
        for (const record of records) {
          const at = params.push(record.seq, record.type, record.payload)
          rows.push(`($${at - 2}, $${at - 1}, $${at})`)
        }
        return durably(
          "append",
          sql.unsafe(`insert into ${schema}.records (seq, type, payload) values ${rows.join(", ")}`, params),
        )
      },
      read: (segment, from, to) => {
        const fromSeq = Math.max(from, segment.firstSeq)
        const toSeq = Math.min(to, segment.lastSeq)
        const corrupt = (seq: number, reason: string) =>
          Effect.fail(new WalCorrupt({ file: log.describe(segment.handle), offset: -1, seq, reason }))
        return Effect.flatMap(
          attempt(
            "read",
            schema,
            sql.unsafe<Row>(
              `select seq, type, payload from ${schema}.records where seq between $1 and $2 order by seq`,
              [fromSeq, toSeq],
            ),
          ),
          (rows) => {
            const records = rows.map(recordOf)
            for (const [i, record] of records.entries())
              if (record.seq !== fromSeq + i) return corrupt(fromSeq + i, "a seq is missing")
            const expected = Math.max(toSeq - fromSeq + 1, 0)
            return records.length === expected
              ? Effect.succeed(records)
              : corrupt(fromSeq + records.length, `expected ${expected} records, found ${records.length}`)
          },
        )
      },
      remove: (segment) =>
        Effect.flatMap(
          attempt(
            "remove segment",
            schema,
            sql.unsafe<{ readonly next: string | null }>(
              `select min(first_seq) as next from ${schema}.segments where first_seq > $1`,
              [segment],
            ),
          ),
          ([row]) =>
            durably(
              "remove segment",
              Effect.zipRight(
                sql.unsafe(`delete from ${schema}.records where seq >= $1 and seq < $2`, [
                  segment,
                  row?.next === null || row?.next === undefined ? Number.MAX_SAFE_INTEGER : Number(row.next),
                ]),
                sql.unsafe(`delete from ${schema}.segments where first_seq = $1`, [segment]),
              ),
            ),
        ),
    }

    const snapshotPrimitives: WalCore.SnapshotPrimitives = {
      describe: (lastSeq) => `${location}/snapshot ${lastSeq}`,
      stage: (snapshot) =>
        Effect.as(
          durably(
            "stage snapshot",
            sql.unsafe(
              `insert into ${schema}.snapshots (last_seq, state, published) values ($1, $2, false)
               on conflict (last_seq) do update set state = excluded.state, published = false`,
              [snapshot.lastSeq, concatBytes(partsOf(snapshot.state))],
            ),
          ),
          durably(
            "publish snapshot",
            sql.unsafe(`update ${schema}.snapshots set published = true where last_seq = $1`, [snapshot.lastSeq]),
          ),
        ),
      remove: (lastSeq) =>
        durably("remove snapshot", sql.unsafe(`delete from ${schema}.snapshots where last_seq = $1`, [lastSeq])),
      readLatest: (retained) =>
        retained.length === 0
          ? Effect.succeed(Option.none())
          : Effect.map(
              attempt(
                "read snapshot",
                schema,
                sql.unsafe<{ readonly last_seq: string; readonly state: Uint8Array }>(
                  `select last_seq, state from ${schema}.snapshots where published and last_seq = $1`,
                  [retained[0]!],
                ),
              ),
              ([row]): Option.Option<Snapshot> =>
                row === undefined
                  ? Option.none()
                  : Option.some({ lastSeq: Number(row.last_seq), state: new Uint8Array(row.state) }),
            ),
    }

    const opened: WalCore.Opened<number> = {
      location,
      limits,
      readOnly: false,
      segments,
      snapshotSeqs: published.map((row) => Number(row.last_seq)),
      chosenSnapshot: Option.none(),
      // Unpublished snapshots are a compaction a crash interrupted: nobody reads them, the next one replaces them.
      finish: Effect.as(
        Effect.mapError(
          attempt("open", schema, sql.unsafe(`delete from ${schema}.snapshots where not published`)),
          (failure) => failure,
        ),
        [],
      ),
      tornTail: Option.none(),
      tmpFilesRemoved: [],
    }
    return yield* WalCore.make(opened, log, snapshotPrimitives)
  })

/**
 * The driver reports a failed statement inside the transaction as an error before `COMMIT` is sent; a connection
 * lost after that, during the commit, reaches us as a failure of the commit itself. Only the second is unknown.
 */
const isCommitFailure = (error: unknown): boolean => {
  const text = error instanceof Error ? `${error.message} ${String((error as { cause?: unknown }).cause ?? "")}` : ""
  return /\bcommit\b/i.test(text) || /connection|terminat|ECONNRESET|EPIPE/i.test(text)
}

/** Provides `Wal` and `SnapshotStore` over a PostgreSQL schema, for as long as the layer is open. */
export const layerPostgres = (
  options: PostgresStorageOptions = {},
): Layer.Layer<Wal | SnapshotStore, InvalidInput | DirectoryLocked | StorageFailed | WalCorrupt, SqlClient.SqlClient> =>
  Layer.scopedContext(
    Effect.map(makePostgresStorage(options), (storage) =>
      Context.make(Wal, storage.wal).pipe(Context.add(SnapshotStore, storage.snapshots)),
    ),
  )
