/**
 * A registry's PostgreSQL schema: its tables, created and changed only by `@effect/sql`'s migrator, what an error
 * names, and how a driver error is classified. Shared by the log (PostgresStorage.ts) and the observers' stores.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { StorageFailed } from "../domain/errors.ts"
import { recordHeaderBytes } from "./RecordCodec.ts"
import { segmentHeaderBytes } from "./SegmentHeader.ts"

/** A schema name used as it is in statements, so it is held to a plain identifier. */
export const schemaPattern = /^[a-z_][a-z0-9_]{0,47}$/

/**
 * The migrations this release knows, by id; a database migrated past the last is a newer release's. Migration 1
 * is the single-writer release's; 2 makes the log shareable: each segment's byte count (so a server can roll
 * without reading the segment) and one row per committed batch (so a commit whose outcome was lost can be looked
 * up), and the single writer's token goes.
 */
export const migrations = (schema: string): Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> => ({
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
  "2_shared": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(`alter table ${schema}.segments add column bytes bigint not null default 0`)
    // Counted in the file format's framing, as appends count, so every backend rolls at the same records.
    yield* sql.unsafe(
      `update ${schema}.segments g set bytes = ${segmentHeaderBytes} + coalesce((
         select count(*) * ${recordHeaderBytes} + sum(length(r.payload)) from ${schema}.records r
         where r.seq >= g.first_seq
           and r.seq < coalesce((select min(n.first_seq) from ${schema}.segments n where n.first_seq > g.first_seq),
                                9223372036854775807)), 0)`,
    )
    yield* sql.unsafe(
      `create table ${schema}.batches (id text primary key, first_seq bigint not null, last_seq bigint not null)`,
    )
    yield* sql.unsafe(`create index on ${schema}.batches (first_seq)`)
    yield* sql.unsafe(`delete from ${schema}.meta where key = 'writer'`)
  }),
})
export const knownMigrations = 2

/** Migrates the schema; refuses, changing nothing, one a newer release migrated further. */
export const migrate = (schema: string): Effect.Effect<void, StorageFailed, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const table = `${schema}_migrations`
    // The newest migration is read first: running ours on a newer release's schema could undo its changes.
    const [exists] = yield* attempt(
      "migrate",
      schema,
      sql.unsafe<{ readonly found: boolean }>(`select to_regclass($1) is not null as found`, [table]),
    )
    if (exists?.found === true) yield* refuseNewer(schema)
    // Under the schema's append lock: servers starting together would otherwise race to create the migrations
    // table, and the migrator lets the loser go on before the winner's migrations are done. The table is created
    // here, as the migrator would, because its own check (a failing cast) aborts the transaction it runs in.
    yield* Effect.mapError(
      transaction(
        sql,
        Effect.all([
          sql.unsafe(`select pg_advisory_xact_lock(${lockClass}, ${lockKey(schema)})`),
          sql.unsafe(
            `create table if not exists ${table} (migration_id integer primary key, created_at timestamp with time zone not null default now(), name text not null)`,
          ),
          Migrator.make({})({ loader: Migrator.fromRecord(migrations(schema)), table }),
        ]),
      ),
      (error) => failed("migrate", schema, error),
    ).pipe(
      // The migrator makes a failed migration statement (a connection lost mid-migration) a defect of its own.
      Effect.catchAllDefect((defect) =>
        tagOf(defect) === "MigrationError" ? Effect.fail(failed("migrate", schema, defect)) : Effect.die(defect),
      ),
    )
    yield* refuseNewer(schema)
  })

const refuseNewer = (schema: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [newest] = yield* attempt(
      "migrate",
      schema,
      sql.unsafe<{ readonly id: number | null }>(`select max(migration_id) as id from ${schema}_migrations`),
    )
    if ((newest?.id ?? 0) > knownMigrations)
      return yield* new StorageFailed({
        operation: "open",
        path: locationOf(schema),
        reason: "BadArgument",
        message: `${locationOf(schema)} was migrated by a newer release (migration ${newest?.id}; this release knows ${knownMigrations})`,
      })
  })

/**
 * One transaction. `@effect/sql` turns a failed `COMMIT` or `ROLLBACK` (a connection lost at that moment) into a
 * defect; here it is the driver's error again, so a lost connection is classified like any other, while a broken
 * contract stays a defect.
 */
export const transaction = <A, E, R>(
  sql: SqlClient.SqlClient,
  effect: Effect.Effect<A, E, R>,
): Effect.Effect<A, E | SqlError, R> =>
  Effect.catchAllDefect(sql.withTransaction(effect), (defect) =>
    tagOf(defect) === "SqlError" ? Effect.fail(defect as SqlError) : Effect.die(defect),
  )

const tagOf = (value: unknown): unknown =>
  typeof value === "object" && value !== null ? (value as { readonly _tag?: unknown })._tag : undefined

/** Where errors point: the schema, never the connection's credentials. */
export const locationOf = (schema: string) => `postgres:${schema}`

/** A driver error as `StorageFailed`: `Unavailable` when the database could not be reached, else `Unknown`. */
export const failed = (operation: string, schema: string, error: SqlError | unknown): StorageFailed =>
  new StorageFailed({
    operation,
    path: locationOf(schema),
    reason: isConnectionLost(error) ? "Unavailable" : "Unknown",
    message: `${operation} ${locationOf(schema)}: ${messageOf(error)}`,
  })

/** Runs a statement, its failure a `StorageFailed` of that call only: nothing it did is acknowledged. */
export const attempt = <A, R>(operation: string, schema: string, effect: Effect.Effect<A, SqlError, R>) =>
  Effect.mapError(effect, (error) => failed(operation, schema, error))

const messageOf = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const cause = (error as { readonly cause?: unknown }).cause
  return cause instanceof Error && cause.message !== error.message
    ? `${error.message}: ${cause.message}`
    : error.message
}

/**
 * Whether the connection, rather than the statement, failed: the server went away, refused us, or ended our
 * session (`pg_terminate_backend`, a restart). The driver reports these only as text and codes, so they are
 * matched here once; SQLSTATE class 08 is "connection exception", 57P01–57P03 an administrator's or a crash's
 * shutdown.
 */
export const isConnectionLost = (error: unknown): boolean => {
  const text = error instanceof Error ? messageOf(error) : String(error)
  const code = codeOf(error)
  return (
    (code !== undefined && (code.startsWith("08") || /^57P0[123]$/.test(code))) ||
    /connection|terminat|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|shutting down|not yet accepting|Client has encountered/i.test(
      text,
    )
  )
}

const codeOf = (error: unknown): string | undefined => {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    const code = (e as { readonly code?: unknown }).code
    if (typeof code === "string") return code
    e = (e as { readonly cause?: unknown }).cause
  }
  return undefined
}

/**
 * The advisory lock's keys: one class of our own and, per schema, its name's FNV-1a hash (32 bits, which
 * `pg_advisory_xact_lock(int, int)` takes).
 */
export const lockClass = 0x5654_524d // "VTRM"
export const lockKey = (schema: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < schema.length; i++) hash = Math.imul(hash ^ schema.charCodeAt(i), 0x01000193)
  return hash | 0
}

/** The channel a commit notifies the other servers on. */
export const channelOf = (schema: string) => `${schema}_appended`
