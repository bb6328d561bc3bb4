/**
 * What only the PostgreSQL backend can get wrong: a schema migrated by a newer release, and connections lost at the
 * worst moments: before a COMMIT reached the server, after it committed but before the client heard, and while idle.
 */

import * as SqlClient from "@effect/sql/SqlClient"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted } from "effect"
import { layerPostgres } from "../../src/storage/PostgresStorage.ts"
import type { Wal } from "../../src/storage/Wal.ts"
import { failureOf } from "../../src/testing/exits.ts"
import { type PgProxy, startPgProxy } from "../support/pgProxy.ts"
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
        yield* sql.unsafe(`insert into ${schema}_migrations (migration_id, name) values (3, 'from_the_future')`)
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

  it.effect(
    "a connection lost before COMMIT fails that append with Unavailable, writes nothing, and the next append reconnects",
    () =>
      withProxy(({ wal, proxy }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 2))
          proxy.loseNextCommit("before-commit")
          const lost = yield* Effect.exit(wal.append(records(3, 1)))
          expect(proxy.lost()).toBe(true)
          expect(failureOf(lost)).toMatchObject({ _tag: "StorageFailed", reason: "Unavailable" })
          expect(String((failureOf(lost) as { message: string }).message)).toMatch(/did not happen/)
          // Not latched: the port goes on, on a new connection, from the same seq.
          yield* wal.health
          yield* wal.append(records(3, 2))
          expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, 4)))
        }),
      ),
  )

  it.effect(
    "a connection lost during the migration's commit fails the open with a typed error, and a retry opens",
    () =>
      withSchema((schema) =>
        Effect.scoped(
          Effect.gen(function* () {
            const { proxy, opening } = yield* proxied(schema)
            proxy.loseNextCommit("before-commit")
            const exit = yield* Effect.exit(withPorts(opening, () => Effect.void))
            expect(proxy.lost()).toBe(true)
            // A failure, typed, not a defect: the server that starts while the database restarts says why it stopped.
            expect(failureOf(exit)).toMatchObject({ _tag: "StorageFailed", operation: "migrate" })
            expect(yield* withPorts(opening, ({ wal }) => wal.lastSeq)).toBe(0)
          }),
        ),
      ),
  )

  it.effect("a connection lost after the server committed is looked up: the append succeeds, once", () =>
    withProxy(({ wal, proxy }) =>
      Effect.gen(function* () {
        yield* wal.append(records(1, 2))
        proxy.loseNextCommit("after-commit")
        yield* wal.append(records(3, 1))
        expect(proxy.lost()).toBe(true)
        expect(yield* wal.lastSeq).toBe(3)
        yield* wal.append(records(4, 1))
        expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, 4)))
      }),
    ),
  )

  it.effect("terminated connections fail no more than the call they carried, and reads and appends resume", () =>
    withProxy(({ wal, sql }) =>
      Effect.gen(function* () {
        yield* wal.append(records(1, 2))
        yield* sql.unsafe(
          `select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'proxied' and pid <> pg_backend_pid()`,
        )
        // The pool's idle connections died; the next statements get new ones (or fail once, typed, writing nothing).
        const first = yield* Effect.exit(wal.append(records(3, 1)))
        if (Exit.isFailure(first))
          expect(failureOf(first)).toMatchObject({ _tag: "StorageFailed", reason: "Unavailable" })
        const next = Exit.isSuccess(first) ? 4 : 3
        yield* wal.append(records(next, 1))
        expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, next)))
      }),
    ),
  )
})

/**
 * A port whose connections go through a proxy that can lose one of them at a COMMIT, with a client of its own
 * (named `proxied`, so that terminating its connections spares every other test's).
 */
const withProxy = <A, E>(
  body: (ports: {
    readonly wal: Wal
    readonly proxy: PgProxy
    readonly sql: SqlClient.SqlClient
  }) => Effect.Effect<A, E>,
) =>
  withSchema((schema) =>
    Effect.scoped(
      Effect.gen(function* () {
        const { proxy, opening } = yield* proxied(schema)
        const sql = yield* SqlClient.SqlClient
        return yield* withPorts(opening, ({ wal }) => body({ wal, proxy, sql }))
      }),
    ),
  )

/** The schema's ports through a proxy of this scope, on a client of their own named `proxied`. */
const proxied = (schema: string) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.promise(() => startPgProxy()),
      (proxy) => Effect.promise(() => proxy.close()),
    ),
    (proxy) => {
      const client = PgClient.layer({
        url: Redacted.make(`postgres://postgres@127.0.0.1:${proxy.port}/test`),
        applicationName: "proxied",
        maxConnections: 2,
      }).pipe(Layer.orDie)
      return { proxy, opening: layerPostgres({ schema }).pipe(Layer.provide(client)) }
    },
  )
