/**
 * The observers' ports in the registry's PostgreSQL schema (PostgresSchema.ts creates the tables): durable
 * cursors, one row per observer; append-only sinks (the audit log, dead letters), one row per append; and the
 * leases that keep each durable observer running in one of the servers sharing the schema. Each call
 * is one statement, durable once it returns. The sinks' rows keep their order by a sequence, and `readAll` joins
 * them as the file backend's bytes.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Duration, Effect, ExecutionStrategy, Exit, Layer, Option, Schedule, Scope } from "effect"
import type { StorageFailed } from "../domain/errors.ts"
import { AppendSink } from "./AppendSink.ts"
import { concatBytes } from "./ByteParts.ts"
import { assertSeq, CursorStore } from "./CursorStore.ts"
import { ObserverLease } from "./ObserverLease.ts"
import { failed, lockClass, lockKey, schemaPattern } from "./PostgresSchema.ts"

const checked = (schema: string): string => {
  if (!schemaPattern.test(schema)) throw new Error(`not a schema name: ${schema}`)
  return schema
}

export const makeCursorStore = (schema: string): Effect.Effect<CursorStore, never, SqlClient.SqlClient> =>
  Effect.map(SqlClient.SqlClient, (sql) => {
    const table = `${checked(schema)}.cursors`
    return {
      get: (name) =>
        Effect.mapError(
          Effect.map(
            sql.unsafe<{ readonly seq: string }>(`select seq from ${table} where name = $1`, [name]),
            ([row]) => Option.map(Option.fromNullable(row), (r) => Number(r.seq)),
          ),
          (error) => failed("read cursor", schema, error),
        ),
      set: (name, seq) =>
        Effect.suspend(() => {
          assertSeq(seq)
          return Effect.mapError(
            Effect.asVoid(
              sql.unsafe(
                `insert into ${table} (name, seq) values ($1, $2) on conflict (name) do update set seq = excluded.seq`,
                [name, seq],
              ),
            ),
            (error) => failed("save cursor", schema, error),
          )
        }),
    }
  })

export const makeAppendSink = (schema: string): Effect.Effect<AppendSink, never, SqlClient.SqlClient> =>
  Effect.map(SqlClient.SqlClient, (sql) => {
    const table = `${checked(schema)}.sink_lines`
    return {
      append: (name, bytes) =>
        Effect.mapError(
          Effect.asVoid(
            sql.unsafe(`insert into ${table} (name, bytes) values ($1, $2)`, [name, new Uint8Array(bytes)]),
          ),
          (error): StorageFailed => failed("append", schema, error),
        ),
      readAll: (name) =>
        Effect.mapError(
          Effect.map(
            sql.unsafe<{ readonly bytes: Uint8Array }>(`select bytes from ${table} where name = $1 order by n`, [name]),
            (rows) => concatBytes(rows.map((row) => new Uint8Array(row.bytes))),
          ),
          (error) => failed("read", schema, error),
        ),
    }
  })

export const layerCursorStore = (schema: string): Layer.Layer<CursorStore, never, SqlClient.SqlClient> =>
  Layer.effect(CursorStore, makeCursorStore(schema))

export const layerAppendSink = (schema: string): Layer.Layer<AppendSink, never, SqlClient.SqlClient> =>
  Layer.effect(AppendSink, makeAppendSink(schema))

/**
 * Observer leases as session advisory locks, one per observer name, each on a connection its holder keeps: the lock
 * goes with the connection, so a holder that died or lost the database frees it for the next. A holder checks its
 * connection every `pollMillis`, and a waiter tries again as often.
 */
export const makeObserverLease = (
  schema: string,
  pollMillis: number,
): Effect.Effect<ObserverLease, never, SqlClient.SqlClient> =>
  Effect.map(SqlClient.SqlClient, (sql) => {
    const every = Schedule.spaced(Duration.millis(pollMillis))
    /** One attempt, in a scope of its own that is closed (the connection returned) unless the lock was taken. */
    const attempt = (name: string, outer: Scope.Scope) =>
      Effect.gen(function* () {
        const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
        const taken = yield* Effect.exit(
          Effect.gen(function* () {
            const connection = yield* Scope.extend(sql.reserve, scope)
            const key = [observerLockClass, lockKey(`${checked(schema)}.${name}`)]
            const [row] = yield* connection.execute("select pg_try_advisory_lock($1, $2) as taken", key, undefined)
            if (row?.taken !== true) return yield* Effect.fail("held elsewhere" as const)
            yield* Scope.addFinalizer(
              scope,
              Effect.ignore(connection.execute("select pg_advisory_unlock($1, $2)", key, undefined)),
            )
            return connection
          }),
        )
        if (Exit.isFailure(taken)) yield* Scope.close(scope, taken)
        return yield* taken
      })
    return {
      hold: (name) =>
        Effect.gen(function* () {
          const connection = yield* Effect.retry(
            Effect.flatMap(Effect.scope, (outer) => attempt(name, outer)),
            every,
          ).pipe(Effect.orDie)
          // Lost once the connection that holds the lock fails a statement.
          return Effect.retry(
            Effect.flatMap(connection.execute("select 1", [], undefined), () => Effect.fail("held" as const)),
            { schedule: every, while: (reason) => reason === "held" },
          ).pipe(Effect.ignore)
        }),
    } satisfies ObserverLease
  })

/** Distinct from the append lock's class, so an observer's lease never waits on appends. */
const observerLockClass = lockClass + 1

export const layerObserverLease = (
  schema: string,
  pollMillis: number,
): Layer.Layer<ObserverLease, never, SqlClient.SqlClient> =>
  Layer.effect(ObserverLease, makeObserverLease(schema, pollMillis))
