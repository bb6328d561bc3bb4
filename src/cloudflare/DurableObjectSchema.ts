/**
 * A registry's tables in a Durable Object's SQLite database: created and changed only by numbered migrations
 * recorded in `registry_migrations`, so a later format change migrates an object's data instead of guessing at
 * it; what errors name; and how a thrown SQLite error becomes `StorageFailed`. Shared by the log
 * (DurableObjectStorage.ts) and the observers' stores (DurableObjectObserverStores.ts).
 */
import { StorageFailed, type StorageFailureReason } from "../domain/errors.ts"
import type { DurableObjectStorage } from "./DurableObjectApi.ts"

/** Where errors point: an object has one database, and one registry in it. */
export const location = "durable-object:"

/**
 * The migrations this release knows, in order; migration `i + 1` is `migrations[i]`. Each is one list of
 * statements run in one transaction with its row in `registry_migrations`, so a migration is applied whole or not
 * at all. A segment's byte count is kept (counted in the file format's framing, as every backend counts) so the
 * log rolls without reading a segment; a snapshot is stored in parts because a row holds at most 2 MB.
 */
const migrations: ReadonlyArray<ReadonlyArray<string>> = [
  [
    "create table registry_segments (first_seq integer primary key, bytes integer not null)",
    "create table registry_records (seq integer primary key, type integer not null, payload blob not null)",
    `create table registry_snapshots (id integer primary key autoincrement, last_seq integer not null,
       bytes integer not null, parts integer not null, crc32 integer not null, state integer not null)`,
    `create table registry_snapshot_parts (snapshot integer not null, part integer not null, bytes blob not null,
       primary key (snapshot, part))`,
    "create table registry_cursors (name text primary key, seq integer not null)",
    "create table registry_sink_lines (n integer primary key autoincrement, name text not null, bytes blob not null)",
    "create index registry_sink_lines_by_name on registry_sink_lines (name, n)",
  ],
]

export const knownMigrations = migrations.length

/**
 * Brings the object's tables to this release's format; refuses, changing nothing, a database a newer release
 * migrated further. Synchronous: it runs in the object's constructor step, before any request is served.
 */
export const migrate = (storage: DurableObjectStorage): void => {
  const { sql } = storage
  sql.exec("create table if not exists registry_migrations (id integer primary key, applied_at text not null)")
  const newest = Number(sql.exec<{ id: number | null }>("select max(id) as id from registry_migrations").one().id ?? 0)
  if (newest > knownMigrations)
    throw new StorageFailed({
      operation: "open",
      path: location,
      reason: "BadArgument",
      message: `${location} was migrated by a newer release (migration ${newest}; this release knows ${knownMigrations})`,
    })
  for (let id = newest + 1; id <= knownMigrations; id++)
    storage.transactionSync(() => {
      for (const statement of migrations[id - 1]!) sql.exec(statement)
      sql.exec("insert into registry_migrations (id, applied_at) values (?, datetime('now'))", id)
    })
}

/** SQLite's "full" (the object reached its storage limit) is the one reason a caller can act on; the rest is Unknown. */
const reasonOf = (message: string): StorageFailureReason =>
  /SQLITE_FULL|database or disk is full|exceeded.*(size|storage)/i.test(message) ? "NoSpace" : "Unknown"

/** A thrown SQLite (or storage) error as the registry's `StorageFailed`. */
export const failed = (operation: string, error: unknown): StorageFailed => {
  if (error instanceof StorageFailed) return error
  const message = error instanceof Error ? error.message : String(error)
  return new StorageFailed({
    operation,
    path: location,
    reason: reasonOf(message),
    message: `${operation} ${location}: ${message}`,
  })
}
