/**
 * The part of the Cloudflare Durable Object API the registry relies on, declared here rather than taken from
 * `@cloudflare/workers-types`: those types redeclare the DOM's globals (`Request`, `Response`, …) and clash with the
 * `lib: ["DOM"]` the rest of the package compiles against, and a short list shows exactly what the storage code
 * needs. The names and shapes are Cloudflare's (developers.cloudflare.com/durable-objects/api/), so the real objects
 * satisfy them.
 */

/** What a SQLite column holds as the API returns it: a BLOB comes back as an `ArrayBuffer`. */
export type SqlValue = ArrayBuffer | string | number | null

/** What a statement may be bound to: a BLOB may be given as any view of bytes. */
export type SqlBinding = ArrayBuffer | ArrayBufferView | string | number | null

/** The rows of one statement, read as they are iterated. */
export interface SqlCursor<Row extends Record<string, SqlValue>> extends Iterable<Row> {
  readonly toArray: () => Array<Row>
  /** The only row; throws unless there is exactly one. */
  readonly one: () => Row
}

/** `ctx.storage.sql`: synchronous SQLite on the object's own database. */
export interface SqlStorage {
  /** Runs one statement; throws (synchronously) on a SQLite error, leaving the statement without effect. */
  readonly exec: <Row extends Record<string, SqlValue> = Record<string, SqlValue>>(
    query: string,
    ...bindings: Array<SqlBinding>
  ) => SqlCursor<Row>
}

/** `ctx.storage` of an object with SQLite storage (`new_sqlite_classes` in wrangler.toml). */
export interface DurableObjectStorage {
  readonly sql: SqlStorage
  /** Runs `body` in a transaction: it commits when `body` returns and rolls back (and rethrows) when it throws. */
  readonly transactionSync: <T>(body: () => T) => T
  /**
   * Resolves once every write made so far is durable (persisted and, in Cloudflare, replicated); rejects if they
   * could not be, after which the object is reset.
   */
  readonly sync: () => Promise<void>
  /** Deletes the object's whole database (the tests end a store with it; the registry never does). */
  readonly deleteAll: () => Promise<void>
}

/** The `ctx` a Durable Object class is constructed with. */
export interface DurableObjectState {
  readonly storage: DurableObjectStorage
}

/** An object's id, from a namespace. */
export interface DurableObjectId {
  readonly toString: () => string
}

/** A reference to one object: requests go to its `fetch`. */
export interface DurableObjectStub {
  readonly fetch: (request: Request) => Promise<Response>
}

/** A Durable Object namespace binding (`[[durable_objects.bindings]]`). */
export interface DurableObjectNamespace {
  readonly idFromName: (name: string) => DurableObjectId
  readonly get: (id: DurableObjectId) => DurableObjectStub
}
