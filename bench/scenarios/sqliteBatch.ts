/**
 * SQLite at its best for bulk writes: 1,000 inserts per transaction, one fsync per commit, one producer (the
 * driver is synchronous, so more producers could only queue behind it). A throughput figure to compare with
 * the registry's many-in-flight rows; its latency is per transaction, not per record.
 */
import { type RunContext, settle } from "../harness/context.ts"
import { type BenchRecord, makeRecordSource, type RecordSource } from "../harness/records.ts"
import { LatencyRecorder, type LatencySummary, median } from "../harness/stats.ts"
import { SqliteStore } from "../targets/sqlite.ts"

export const sqliteBatchName = "SQLite FULL, 1,000 inserts/txn"
const recordsPerTransaction = 1000

export interface SqliteBatchRepetition {
  readonly records: number
  readonly seconds: number
  readonly recordsPerSecond: number
  readonly transaction: LatencySummary
}

export interface SqliteBatchResult {
  readonly name: string
  readonly note: string
  readonly recordsPerTransaction: number
  readonly repetitions: ReadonlyArray<SqliteBatchRepetition>
  readonly median: {
    readonly recordsPerSecond: number
    readonly transactionP50Ms: number
    readonly transactionP99Ms: number
  }
}

const nextBatch = (source: RecordSource): Array<BenchRecord> =>
  Array.from({ length: recordsPerTransaction }, () => source.next())

/** Commits whole transactions until the deadline; records are generated inside the timed loop, as in the closed loop. */
const commitUntil = (
  store: SqliteStore,
  source: RecordSource,
  seconds: number,
  recorder: LatencyRecorder | undefined,
) => {
  const start = performance.now()
  const deadline = start + seconds * 1000
  let records = 0
  do {
    const batch = nextBatch(source)
    const begun = performance.now()
    store.insertMany(batch)
    recorder?.record(performance.now() - begun)
    records += batch.length
  } while (performance.now() < deadline)
  return { records, seconds: (performance.now() - start) / 1000 }
}

export const runSqliteBatch = async (context: RunContext): Promise<SqliteBatchResult> => {
  const { repetitions, warmupSeconds, measureSeconds } = context.options
  const measured: Array<SqliteBatchRepetition> = []
  for (let rep = 0; rep <= repetitions; rep++) {
    const scratch = await context.scratch("sqlite-batch")
    const store = new SqliteStore(scratch.path)
    const source = makeRecordSource()
    settle()
    try {
      commitUntil(store, source, warmupSeconds, undefined)
      // Repetition 0 is the discarded warm-up pass that the durable-registers scenario also makes.
      if (rep === 0) continue
      const recorder = new LatencyRecorder()
      const run = commitUntil(store, source, measureSeconds, recorder)
      const result = {
        records: run.records,
        seconds: run.seconds,
        recordsPerSecond: run.records / run.seconds,
        transaction: recorder.summary(),
      }
      measured.push(result)
      context.log(
        `  rep ${rep}/${repetitions}, ${sqliteBatchName}: ${Math.round(result.recordsPerSecond).toLocaleString("en-US")} records/s, ` +
          `transaction p50 ${result.transaction.p50Ms.toFixed(2)} ms`,
      )
    } finally {
      store.close()
      await scratch.release()
    }
  }
  return {
    name: sqliteBatchName,
    note:
      "better-sqlite3, WAL, synchronous=FULL, 1,000 inserts per transaction (one WAL fsync per commit), " +
      "one producer, from an empty table every repetition. Record generation is inside the timed loop, as in the " +
      "closed loop. Latency is per 1,000-record transaction.",
    recordsPerTransaction,
    repetitions: measured,
    median: {
      recordsPerSecond: median(measured.map((rep) => rep.recordsPerSecond)),
      transactionP50Ms: median(measured.map((rep) => rep.transaction.p50Ms)),
      transactionP99Ms: median(measured.map((rep) => rep.transaction.p99Ms)),
    },
  }
}
