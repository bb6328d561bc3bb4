/**
 * `Wal` and `SnapshotStore` on a Cloudflare Durable Object's SQLite storage, as primitives of `WalCore`, which
 * keeps every rule of the ports (contiguity, segment roll, retention, `Compacted`, the failure latch). An object
 * is one registry: its instance is the only one anywhere that reaches its database, so the log is a single writer's
 * and the core's segment list in memory stays the truth, as it is for a data directory.
 *
 * Durability: every write is one SQLite transaction (`transactionSync`, so a failed statement leaves nothing
 * behind and fails that call only), and it is acknowledged only after `storage.sync()` resolved, which Cloudflare
 * documents as "every write so far is persisted". A rejected `sync` latches the port (its outcome is unknown, and
 * the runtime resets the object anyway): never retried, never guessed.
 */
import { Context, Effect, Layer, Option, type Scope } from "effect"
import { DirectoryLocked, InvalidInput, type StorageFailed, WalCorrupt } from "../domain/errors.ts"
import { byteLength, concatBytes, partsOf } from "../storage/ByteParts.ts"
import { crc32 } from "../storage/Checksum.ts"
import { type StorageLimits, validateLimits } from "../storage/Limits.ts"
import { batchBytes, recordBytes } from "../storage/RecordCodec.ts"
import { segmentHeaderBytes } from "../storage/SegmentHeader.ts"
import { type Snapshot, SnapshotStore, type SnapshotToWrite } from "../storage/SnapshotStore.ts"
import { DurabilityLost } from "../storage/StorageError.ts"
import { type SnapshotFallback, Wal, type WalRecord } from "../storage/Wal.ts"
import * as WalCore from "../storage/WalCore.ts"
import type { DurableObjectStorage } from "./DurableObjectApi.ts"
import { failed, location, migrate } from "./DurableObjectSchema.ts"

/**
 * The largest framed record this backend stores: a Durable Object's SQLite row (and BLOB) holds at most 2 MB, and a
 * record is one row. `recordBytesMax` above it is refused at open.
 */
export const rowRecordBytesMax = 2_000_000 - 1024

/**
 * The segment size when none is given: a read holds a whole segment's records (WalCore reads a segment at a time),
 * and a Worker's isolate has 128 MB for that and the registry itself, so the file backend's 64 MiB would not do.
 * Segments are rows here, so more of them cost nothing.
 */
export const defaultSegmentBytesMax = 4 * 1024 * 1024

/** A snapshot's state is stored in parts of at most this size, one row each, for the same 2 MB row limit. */
export const snapshotPartBytesMax = 1024 * 1024

/** A snapshot row's `state`: written but not yet published; published; set aside at open as failing validation. */
const staged = 0
const published = 1
const setAside = 2

/** Runs synchronous SQLite work; a thrown error fails this call only (the statement or transaction rolled back). */
export const attempt = <A>(operation: string, body: () => A): Effect.Effect<A, StorageFailed> =>
  Effect.try({ try: body, catch: (error) => failed(operation, error) })

/** Waits until every write so far is durable; a failure leaves their outcome unknown, so it latches the port. */
export const synced = (storage: DurableObjectStorage, operation: string): Effect.Effect<void, DurabilityLost> =>
  Effect.tryPromise({
    try: () => storage.sync(),
    catch: (error) => new DurabilityLost({ failure: failed(operation, error) }),
  })

/** One write transaction, acknowledged once durable. */
export const durableWrite = <A>(
  storage: DurableObjectStorage,
  operation: string,
  body: () => A,
): Effect.Effect<A, StorageFailed | DurabilityLost> =>
  Effect.zipLeft(
    attempt(operation, () => storage.transactionSync(body)),
    synced(storage, operation),
  )

const describeSegment = (firstSeq: number) => `${location}segment-${firstSeq}`
const describeSnapshot = (lastSeq: number) => `${location}snapshot-${lastSeq}`

/** The state's bytes in parts of at most `partBytesMax`, copied (the caller's parts may be reused after the call). */
const repart = (parts: ReadonlyArray<Uint8Array>, partBytesMax: number): Array<Uint8Array> => {
  let left = byteLength(parts)
  const out: Array<Uint8Array> = []
  let chunk = new Uint8Array(Math.min(partBytesMax, left))
  let filled = 0
  for (const part of parts)
    for (let offset = 0; offset < part.length; ) {
      const n = Math.min(part.length - offset, chunk.length - filled)
      chunk.set(part.subarray(offset, offset + n), filled)
      filled += n
      offset += n
      if (filled === chunk.length) {
        out.push(chunk)
        left -= filled
        chunk = new Uint8Array(Math.min(partBytesMax, left))
        filled = 0
      }
    }
  return out
}

const crcOf = (parts: ReadonlyArray<Uint8Array>) => parts.reduce((crc, part) => crc32(part, crc), 0)

interface SnapshotRow {
  readonly [column: string]: number
  readonly id: number
  readonly last_seq: number
  readonly bytes: number
  readonly parts: number
  readonly crc32: number
}

/** A published snapshot read back and checked against what its row declares, or why it fails. */
const readSnapshot = (storage: DurableObjectStorage, row: SnapshotRow): Snapshot | string => {
  const parts = storage.sql
    .exec<{ part: number; bytes: ArrayBuffer }>(
      "select part, bytes from registry_snapshot_parts where snapshot = ? order by part",
      row.id,
    )
    .toArray()
  if (parts.length !== row.parts) return `holds ${parts.length} parts, its row says ${row.parts}`
  const bytes = parts.map((p, i) => (p.part === i && p.bytes instanceof ArrayBuffer ? new Uint8Array(p.bytes) : null))
  if (bytes.some((b) => b === null)) return "a part is missing or not bytes"
  const state = concatBytes(bytes as Array<Uint8Array>)
  if (state.length !== row.bytes) return `holds ${state.length} bytes, its row says ${row.bytes}`
  if (crc32(state, 0) !== row.crc32) return "its checksum does not match"
  return { lastSeq: row.last_seq, state }
}

interface Selection {
  readonly chosen: Option.Option<Snapshot>
  /** Newer snapshots that failed validation (newest first). */
  readonly corrupt: ReadonlyArray<{ readonly row: SnapshotRow; readonly reason: string }>
}

/**
 * The newest valid snapshot among `rows` (newest first) that the log, starting at `logFirstSeq`, covers; a corrupt
 * newer one is skipped only when falling back loses no history (as `SnapshotSelection` does for files).
 */
const selectSnapshot = (
  storage: DurableObjectStorage,
  rows: ReadonlyArray<SnapshotRow>,
  logFirstSeq: number,
  logFirst: string,
): Effect.Effect<Selection, StorageFailed | WalCorrupt> =>
  Effect.flatMap(
    attempt("snapshot-read", () => {
      const corrupt: Array<{ row: SnapshotRow; reason: string }> = []
      for (const row of rows) {
        const read = readSnapshot(storage, row)
        if (typeof read === "string") corrupt.push({ row, reason: read })
        else return { read, corrupt }
      }
      return { read: undefined, corrupt }
    }),
    ({ read, corrupt }): Effect.Effect<Selection, WalCorrupt> => {
      const coveredUpTo = read?.lastSeq ?? 0
      if (logFirstSeq > coveredUpTo + 1) {
        const broken = corrupt[0]
        const older = read === undefined ? "an empty state" : describeSnapshot(read.lastSeq)
        return Effect.fail(
          new WalCorrupt({
            file: broken === undefined ? logFirst : describeSnapshot(broken.row.last_seq),
            offset: 0,
            seq: broken === undefined ? coveredUpTo + 1 : broken.row.last_seq,
            reason: `${broken === undefined ? "" : `${broken.reason}; `}falling back to ${older} would need the log from seq ${coveredUpTo + 1}, but it starts at ${logFirstSeq}`,
          }),
        )
      }
      return Effect.succeed({ chosen: Option.fromNullable(read), corrupt })
    },
  )

const snapshotRows = (storage: DurableObjectStorage, state: number, lastSeqs?: ReadonlyArray<number>) =>
  storage.sql
    .exec<SnapshotRow>(
      "select id, last_seq, bytes, parts, crc32 from registry_snapshots where state = ? order by last_seq desc, id desc",
      state,
    )
    .toArray()
    .filter((row) => lastSeqs === undefined || lastSeqs.includes(row.last_seq))

const deleteSnapshotRows = (storage: DurableObjectStorage, where: string, ...bindings: Array<number>) => {
  storage.sql.exec(
    `delete from registry_snapshot_parts where snapshot in (select id from registry_snapshots where ${where})`,
    ...bindings,
  )
  storage.sql.exec(`delete from registry_snapshots where ${where}`, ...bindings)
}

const logPrimitives = (storage: DurableObjectStorage, limits: StorageLimits): WalCore.LogPrimitives<number> => {
  const { sql } = storage
  return {
    describe: describeSegment,
    create: (firstSeq) =>
      Effect.as(
        durableWrite(storage, "create-segment", () => {
          sql.exec("insert into registry_segments (first_seq, bytes) values (?, ?)", firstSeq, segmentHeaderBytes)
        }),
        firstSeq,
      ),
    append: (segment, records) =>
      durableWrite(storage, "append", () => {
        for (const r of records)
          sql.exec("insert into registry_records (seq, type, payload) values (?, ?, ?)", r.seq, r.type, r.payload)
        sql.exec(
          "update registry_segments set bytes = ? where first_seq = ?",
          segment.bytes + batchBytes(records),
          segment.handle,
        )
      }),
    read: (segment, fromSeq, toSeq) =>
      Effect.flatMap(
        attempt("read", () => {
          const low = Math.max(fromSeq, segment.firstSeq)
          const high = Math.min(toSeq, segment.lastSeq)
          const rows =
            high < low
              ? []
              : sql
                  .exec<{ seq: number; type: number; payload: ArrayBuffer }>(
                    "select seq, type, payload from registry_records where seq between ? and ? order by seq",
                    low,
                    high,
                  )
                  .toArray()
          return { low, high, rows }
        }),
        ({ low, high, rows }) => {
          const records: Array<WalRecord> = []
          // Checked on the way back, as a file's records are: a row that is not exactly the next record fails the read.
          for (let i = 0; i < rows.length; i++) {
            const { seq, type, payload } = rows[i]!
            const problem =
              seq !== low + i
                ? `expected seq ${low + i}, found ${seq}`
                : !Number.isInteger(type) || type < 1 || type > 255
                  ? `type ${type} is outside 1..255`
                  : !(payload instanceof ArrayBuffer)
                    ? "its payload is not bytes"
                    : recordBytes(payload.byteLength) > limits.recordBytesMax
                      ? `it is larger than recordBytesMax (${limits.recordBytesMax})`
                      : undefined
            if (problem !== undefined)
              return Effect.fail(
                new WalCorrupt({ file: describeSegment(segment.handle), offset: -1, seq: low + i, reason: problem }),
              )
            records.push({ seq, type, payload: new Uint8Array(payload) })
          }
          if (high >= low && rows.length !== high - low + 1)
            return Effect.fail(
              new WalCorrupt({
                file: describeSegment(segment.handle),
                offset: -1,
                seq: low + rows.length,
                reason: `expected records up to seq ${high}, found ${rows.length} from seq ${low}`,
              }),
            )
          return Effect.succeed(records)
        },
      ),
    // A sealed segment's records end where the next segment starts, and only sealed segments are removed.
    remove: (firstSeq) =>
      durableWrite(storage, "delete-segment", () => {
        sql.exec(
          `delete from registry_records where seq >= ?1
             and seq < (select min(first_seq) from registry_segments where first_seq > ?1)`,
          firstSeq,
        )
        sql.exec("delete from registry_segments where first_seq = ?", firstSeq)
      }),
  }
}

const snapshotPrimitives = (storage: DurableObjectStorage): WalCore.SnapshotPrimitives => {
  const { sql } = storage
  return {
    describe: describeSnapshot,
    stage: (snapshot: SnapshotToWrite) =>
      Effect.map(
        durableWrite(storage, "snapshot-write", () => {
          const parts = repart(partsOf(snapshot.state), snapshotPartBytesMax)
          const { id } = sql
            .exec<{ id: number }>(
              "insert into registry_snapshots (last_seq, bytes, parts, crc32, state) values (?, ?, ?, ?, ?) returning id",
              snapshot.lastSeq,
              byteLength(parts),
              parts.length,
              crcOf(parts),
              staged,
            )
            .one()
          for (let i = 0; i < parts.length; i++)
            sql.exec("insert into registry_snapshot_parts (snapshot, part, bytes) values (?, ?, ?)", id, i, parts[i]!)
          return id
        }),
        // Publishing replaces a snapshot of the same seq in the same transaction, so one is always there to read.
        (id) =>
          durableWrite(storage, "snapshot-publish", () => {
            deleteSnapshotRows(storage, "last_seq = ? and state = ? and id <> ?", snapshot.lastSeq, published, id)
            sql.exec("update registry_snapshots set state = ? where id = ?", published, id)
          }),
      ),
    remove: (lastSeq) =>
      durableWrite(storage, "snapshot-delete", () =>
        deleteSnapshotRows(storage, "last_seq = ? and state = ?", lastSeq, published),
      ),
    readLatest: (retained, logFirstSeq, logFirst) =>
      Effect.flatMap(
        attempt("snapshot-read", () => snapshotRows(storage, published, retained)),
        (rows) => Effect.map(selectSnapshot(storage, rows, logFirstSeq, logFirst), (selection) => selection.chosen),
      ),
  }
}

/** The segments as stored, checked to hold exactly the records from the first segment's first seq on. */
const openSegments = (storage: DurableObjectStorage): Effect.Effect<Array<WalCore.Segment<number>>, WalCorrupt> => {
  const rows = storage.sql
    .exec<{ first_seq: number; bytes: number }>("select first_seq, bytes from registry_segments order by first_seq")
    .toArray()
  const bounds = storage.sql
    .exec<{ low: number | null; high: number | null; count: number }>(
      "select min(seq) as low, max(seq) as high, count(*) as count from registry_records",
    )
    .one()
  const segments = rows.map(
    (row, i): WalCore.Segment<number> => ({
      firstSeq: row.first_seq,
      lastSeq: i + 1 < rows.length ? rows[i + 1]!.first_seq - 1 : Math.max(bounds.high ?? 0, row.first_seq - 1),
      bytes: row.bytes,
      handle: row.first_seq,
    }),
  )
  const first = segments[0]
  const newest = segments[segments.length - 1]
  const expected = first === undefined || newest === undefined ? 0 : newest.lastSeq - first.firstSeq + 1
  if (bounds.count !== expected || (bounds.count > 0 && bounds.low !== first?.firstSeq))
    return Effect.fail(
      new WalCorrupt({
        file: first === undefined ? location : describeSegment(first.handle),
        offset: -1,
        seq: bounds.low ?? 0,
        reason: `the records from seq ${bounds.low} to ${bounds.high} (${bounds.count}) are not exactly the segments' seqs ${first?.firstSeq ?? 1} to ${newest?.lastSeq ?? 0}`,
      }),
    )
  return Effect.succeed(segments)
}

/**
 * The objects whose storage a registry has open in this isolate. A Durable Object instance is the only one that
 * reaches its storage, so two opens can only come from one instance; the second is refused as a second process
 * on a data directory is. It lives in memory, like the instance: an evicted instance holds nothing.
 */
const held = new WeakSet<DurableObjectStorage>()

/**
 * Opens the registry's log and snapshots in the object's storage for the current scope: migrates the tables,
 * checks the log, and chooses the snapshot to recover from. Fails with `DirectoryLocked` while another open of
 * the same storage is live, `InvalidInput` for limits this backend cannot keep (a record must fit a row).
 */
export const makeDurableObjectStorage = (
  storage: DurableObjectStorage,
  limitInput: Partial<StorageLimits> = {},
): Effect.Effect<WalCore.Storage, DirectoryLocked | InvalidInput | StorageFailed | WalCorrupt, Scope.Scope> =>
  Effect.gen(function* () {
    const limits = yield* validateLimits({ segmentBytesMax: defaultSegmentBytesMax, ...limitInput })
    if (limits.recordBytesMax > rowRecordBytesMax)
      return yield* new InvalidInput({
        field: "recordBytesMax",
        message: `recordBytesMax: a Durable Object stores a record in one row, of at most ${rowRecordBytesMax} bytes (got ${limits.recordBytesMax})`,
      })
    if (held.has(storage)) return yield* new DirectoryLocked({ directory: location, pid: 0 })
    yield* Effect.acquireRelease(
      Effect.sync(() => held.add(storage)),
      () => Effect.sync(() => held.delete(storage)),
    )
    yield* attempt("open", () => migrate(storage))
    const segments = yield* Effect.flatten(attempt("open", () => openSegments(storage)))
    const { leftovers, rows } = yield* attempt("open", () => ({
      leftovers: snapshotRows(storage, staged),
      rows: snapshotRows(storage, published),
    }))
    const logFirstSeq = segments[0]?.firstSeq ?? 1
    const selection = yield* selectSnapshot(storage, rows, logFirstSeq, describeSegment(logFirstSeq))
    const corrupt = new Set(selection.corrupt.map((c) => c.row.id))
    const opened: WalCore.Opened<number> = {
      location,
      limits,
      readOnly: false,
      segments,
      snapshotSeqs: rows.filter((row) => !corrupt.has(row.id)).map((row) => row.last_seq),
      chosenSnapshot: selection.chosen,
      // Staged snapshots a reset interrupted are removed, and the corrupt ones kept aside for inspection.
      finish: Effect.as(
        durableWrite(storage, "open", () => {
          for (const row of leftovers) deleteSnapshotRows(storage, "id = ?", row.id)
          for (const { row } of selection.corrupt)
            storage.sql.exec("update registry_snapshots set state = ? where id = ?", setAside, row.id)
        }),
        selection.corrupt.map(
          ({ row, reason }): SnapshotFallback => ({
            file: describeSnapshot(row.last_seq),
            reason,
            brokenFile: `${describeSnapshot(row.last_seq)} (set aside)`,
          }),
        ),
      ),
      tornTail: Option.none(),
      tmpFilesRemoved: leftovers.map((row) => `${describeSnapshot(row.last_seq)} (staged)`),
    }
    return yield* WalCore.make(opened, logPrimitives(storage, limits), snapshotPrimitives(storage))
  })

/** Provides `Wal` and `SnapshotStore` over the object's storage; see `makeDurableObjectStorage`. */
export const layerDurableObject = (
  storage: DurableObjectStorage,
  limits: Partial<StorageLimits> = {},
): Layer.Layer<Wal | SnapshotStore, DirectoryLocked | InvalidInput | StorageFailed | WalCorrupt> =>
  Layer.scopedContext(
    Effect.map(makeDurableObjectStorage(storage, limits), (s) =>
      Context.make(Wal, s.wal).pipe(Context.add(SnapshotStore, s.snapshots)),
    ),
  )
