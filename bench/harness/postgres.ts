/**
 * The PostgreSQL the postgres scenarios measure against: the server every development and CI machine runs
 * (127.0.0.1:5432, trust authentication, database `test`; `.ci/run` starts it), or `--postgres-url`. Each
 * registry gets a schema of its own, named after this process so that concurrent runs never meet, and dropped
 * with its migrations table afterwards; whatever a failed run left behind under this process's prefix is
 * dropped at the end too.
 */
import { PgClient } from "@effect/sql-pg"
import { Cause, Duration, Effect, Exit, ManagedRuntime, Redacted } from "effect"

export const defaultPostgresUrl = process.env.MODEL_REGISTRY_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test"

/** The URL as the report may show it: any password replaced. */
export const redactUrl = (url: string): string => url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@")

const prefix = `bench_${process.pid}_`
let schemas = 0

/** A schema name no other registry in this or any concurrent run uses. */
export const freshSchema = (): string => `${prefix}${Date.now().toString(36)}_${(schemas++).toString(36)}`

export interface PostgresAdmin {
  /** Drops one registry's schema and its migrations table. */
  drop(schema: string): Promise<void>
  /** Drops every schema (and migrations table) this process created and did not drop yet. */
  dropLeftovers(): Promise<void>
  close(): Promise<void>
}

/**
 * Connects once, to prove the server is there before any registry opens, and keeps that connection for the
 * drops. Rejects with the driver's reason when the server cannot be reached within five seconds.
 */
export const connectAdmin = async (url: string): Promise<PostgresAdmin> => {
  const runtime = ManagedRuntime.make(
    PgClient.layer({ url: Redacted.make(url), maxConnections: 1, connectTimeout: Duration.seconds(5) }),
  )
  const run = <A>(effect: Effect.Effect<A, unknown, PgClient.PgClient>) => runtime.runPromise(effect)
  const probe = await runtime.runPromiseExit(
    Effect.flatMap(PgClient.PgClient, (sql) => sql`select 1`).pipe(
      Effect.timeoutFail({ duration: Duration.seconds(5), onTimeout: () => new Error("no answer within 5 s") }),
    ),
  )
  if (Exit.isFailure(probe)) {
    await runtime.dispose()
    // The error itself rather than runPromise's FiberFailure, so its cause (the driver's reason) survives.
    throw Cause.squash(probe.cause)
  }
  const drop = (schema: string) =>
    run(
      Effect.gen(function* () {
        const sql = yield* PgClient.PgClient
        yield* sql.unsafe(`drop schema if exists ${schema} cascade`)
        yield* sql.unsafe(`drop table if exists ${schema}_migrations`)
      }),
    )
  return {
    drop,
    dropLeftovers: async () => {
      const rows = await run(
        Effect.flatMap(
          PgClient.PgClient,
          (sql) =>
            sql<{ readonly name: string }>`select schema_name as name from information_schema.schemata
              where starts_with(schema_name, ${prefix})
              union select table_name as name from information_schema.tables
              where table_schema = 'public' and starts_with(table_name, ${prefix})`,
        ),
      )
      for (const name of new Set(rows.map((row) => row.name.replace(/_migrations$/, "")))) await drop(name)
    },
    close: () => runtime.dispose(),
  }
}

/** The first line of why PostgreSQL could not be reached, for the report of a skipped scenario. */
export const describeUnreachable = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  // The driver's own error (ECONNREFUSED, an unknown database…) is the cause of the SqlError's generic message.
  const cause = error.cause instanceof Error ? `: ${error.cause.message.split("\n")[0]}` : ""
  return `${error.message.split("\n")[0]}${cause}`
}
