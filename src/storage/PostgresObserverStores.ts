/**
 * The observers' two ports in the registry's PostgreSQL schema (PostgresStorage.ts creates the tables): durable
 * cursors, one row per observer, and append-only sinks (the audit log, dead letters), one row per append. Each call
 * is one statement, durable once it returns. The sinks' rows keep their order by a sequence, and `readAll` joins
 * them as the file backend's bytes.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer, Option } from "effect"
import type { StorageFailed } from "../domain/errors.ts"
import { AppendSink } from "./AppendSink.ts"
import { concatBytes } from "./ByteParts.ts"
import { CursorStore } from "./CursorStore.ts"
import { failed, schemaPattern } from "./PostgresSchema.ts"

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
        Number.isSafeInteger(seq) && seq >= 0
          ? Effect.mapError(
              Effect.asVoid(
                sql.unsafe(
                  `insert into ${table} (name, seq) values ($1, $2) on conflict (name) do update set seq = excluded.seq`,
                  [name, seq],
                ),
              ),
              (error) => failed("save cursor", schema, error),
            )
          : Effect.die(new Error(`cursor seq must be a non-negative integer, got ${seq}`)),
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
