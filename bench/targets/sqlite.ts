/**
 * SQLite through better-sqlite3, configured as a careful user would for durability: WAL journal,
 * `synchronous=FULL` (every commit fsyncs the WAL), a table with `UNIQUE(name, version)`.
 *
 * better-sqlite3 is synchronous: a commit blocks the event loop for its fsync, so "N in flight" cannot overlap
 * anything. The closed-loop target models that honestly: each register waits its turn in a FIFO of
 * `setImmediate` callbacks and then runs one autocommit insert, so its latency includes the time spent queued
 * behind the other producers, exactly as requests to a Node server using one connection would. Throughput is
 * therefore serial at every level. Batching 1,000 inserts per transaction is measured separately
 * (scenarios/sqliteBatch.ts) as a pure throughput figure.
 */
import { join } from "node:path"
import Database from "better-sqlite3"
import type { BenchRecord } from "../harness/records.ts"
import type { DurableTarget, TargetDefinition } from "./DurableTarget.ts"

const schema = `
  CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    metrics TEXT NOT NULL,
    tags TEXT NOT NULL,
    UNIQUE (name, version)
  )`

/** One connection on one database file, with the single insert statement every design path uses. */
export class SqliteStore {
  private readonly db: Database.Database
  private readonly insert: Database.Statement<[string, string, string, string, string, string]>
  readonly insertMany: (records: ReadonlyArray<BenchRecord>) => void

  constructor(dir: string) {
    this.db = new Database(join(dir, "registry.db"))
    this.db.pragma("journal_mode = WAL")
    this.db.pragma("synchronous = FULL")
    const mode = this.db.pragma("journal_mode", { simple: true })
    if (mode !== "wal") throw new Error(`SQLite refused WAL mode (got ${String(mode)})`)
    this.db.exec(schema)
    this.insert = this.db.prepare(
      "INSERT INTO versions (name, version, id, created_at, metrics, tags) VALUES (?, ?, ?, ?, ?, ?)",
    )
    this.insertMany = this.db.transaction((records: ReadonlyArray<BenchRecord>) => {
      for (const record of records) this.insertOne(record)
    })
  }

  /** Outside a transaction this is one autocommit, i.e. one fsync of the WAL. */
  insertOne(record: BenchRecord): void {
    this.insert.run(
      record.name,
      record.version,
      record.id,
      record.createdAt,
      JSON.stringify(record.metrics),
      JSON.stringify(record.tags),
    )
  }

  close(): void {
    this.db.close()
  }
}

const makeTarget = (): DurableTarget => {
  let store: SqliteStore | undefined
  return {
    open: async (dir) => {
      store = new SqliteStore(dir)
    },
    register: (record) =>
      new Promise<void>((resolve, reject) =>
        setImmediate(() => {
          try {
            store!.insertOne(record)
            resolve()
          } catch (error) {
            reject(error)
          }
        }),
      ),
    close: async () => store?.close(),
  }
}

export const sqliteOnePerTransaction: TargetDefinition = {
  name: "SQLite FULL, 1 insert/txn",
  role: "baseline",
  note: "better-sqlite3, WAL, synchronous=FULL, one autocommit insert per register. Synchronous driver: producers queue FIFO behind one connection, so throughput is serial at every level and latency includes the queueing.",
  make: makeTarget,
}
