/**
 * What only the PostgreSQL backend can get wrong: a schema migrated by a newer release, one writer per schema, and
 * a writer whose lock was lost and taken over, which must stop before it writes beside the new one.
 */

import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { layerPostgres } from "../../src/storage/PostgresStorage.ts"
import { failureOf } from "../../src/testing/exits.ts"
import { collect, plain, records, withPorts } from "./harness.ts"
import { dropSchema, freshSchema, layerTestClient } from "./postgres.ts"

const open = (schema: string) => layerPostgres({ schema }).pipe(Layer.provide(layerTestClient))

const withSchema = <A, E>(f: (schema: string) => Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.gen(function* () {
    const schema = freshSchema()
    yield* Effect.addFinalizer(() => dropSchema(schema))
    return yield* f(schema)
  }).pipe(Effect.provide(layerTestClient), Effect.scoped)

describe("PostgreSQL storage", () => {
  it.effect("refuses a schema a newer release migrated, changing nothing", () =>
    withSchema((schema) =>
      Effect.gen(function* () {
        yield* withPorts(open(schema), ({ wal }) => wal.append(records(1, 3)))
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe(`insert into ${schema}_migrations (migration_id, name) values (2, 'from_the_future')`)
        const exit = yield* Effect.exit(withPorts(open(schema), () => Effect.void))
        expect(failureOf(exit)).toMatchObject({ _tag: "StorageFailed", reason: "BadArgument" })
        expect(String((failureOf(exit) as { message: string }).message)).toMatch(/newer release/)
        const [count] = yield* sql.unsafe<{ readonly n: string }>(`select count(*) as n from ${schema}.records`)
        expect(Number(count?.n)).toBe(3)
      }),
    ),
  )

  it.effect("refuses a schema name that is not a plain identifier, before any statement", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        withPorts(layerPostgres({ schema: "x; drop table y" }).pipe(Layer.provide(layerTestClient)), () => Effect.void),
      )
      expect(failureOf(exit)).toMatchObject({ _tag: "InvalidInput", field: "schema" })
    }),
  )

  it.effect("a writer whose lock was taken over fails its next append and latches; the new writer's log is whole", () =>
    withSchema((schema) =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* withPorts(open(schema), ({ wal: first }) =>
          Effect.gen(function* () {
            yield* first.append(records(1, 2))
            // The lock's connection dies (a network cut, pg_terminate_backend): the lock goes with it.
            yield* sql.unsafe(
              `select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and classid = ${0x5654_524d} and granted and pid <> pg_backend_pid()`,
            )
            yield* withPorts(open(schema), ({ wal: second }) =>
              Effect.gen(function* () {
                expect(yield* second.lastSeq).toBe(2)
                yield* second.append(records(3, 2))
                const stale = yield* Effect.exit(first.append(records(3, 1)))
                expect(Exit.isFailure(stale)).toBe(true)
                expect(failureOf(stale)).toMatchObject({ _tag: "StorageFailed", reason: "LockLost" })
                // Latched: it never writes again until reopened.
                expect(failureOf(yield* Effect.exit(first.append(records(5, 1))))).toMatchObject({
                  reason: "PortFailed",
                })
                expect(plain(yield* collect(second.read(1)))).toEqual(plain(records(1, 4)))
              }),
            )
          }),
        )
      }),
    ),
  )
})
