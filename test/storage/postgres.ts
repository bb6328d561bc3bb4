/**
 * A PostgreSQL "data directory" for the storage suites: a fresh schema in the `test` database of the server every
 * development and CI machine runs (127.0.0.1:5432, trust authentication; `.ci/run` starts it if it is down), dropped
 * with its migrations table when the scope closes. One client (a small pool) serves every open of a test file: a
 * pool per open made a property test of a hundred reopen cycles outlast its timeout.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { PgClient } from "@effect/sql-pg"
import { type Context, Effect, Layer, Redacted, Scope } from "effect"
import { layerPostgres } from "../../src/storage/PostgresStorage.ts"
import type { Backend } from "./harness.ts"

export const postgresUrl = process.env.MODEL_REGISTRY_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test"

let client: Promise<Context.Context<PgClient.PgClient | SqlClient.SqlClient>> | undefined

/** The test file's client, built on first use and closed with the process. */
export const layerTestClient: Layer.Layer<PgClient.PgClient | SqlClient.SqlClient> = Layer.unwrapEffect(
  Effect.promise(() => {
    client ??= Effect.runPromise(
      Layer.buildWithScope(
        PgClient.layer({ url: Redacted.make(postgresUrl), maxConnections: 8 }),
        Effect.runSync(Scope.make()),
      ),
    )
    return client
  }).pipe(Effect.map((context) => Layer.succeedContext(context))),
)

let schemas = 0

/** A schema name no other test (or concurrent test process) uses. */
export const freshSchema = (): string =>
  `t${process.pid}_${Date.now().toString(36)}_${(schemas++).toString(36)}`.toLowerCase()

/** Drops a test schema and its migrations table. */
export const dropSchema = (schema: string) =>
  Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    // One statement, so that a test process ending while it runs leaves neither behind.
    yield* sql.unsafe(`drop schema if exists ${schema} cascade; drop table if exists ${schema}_migrations`)
  }).pipe(Effect.provide(layerTestClient), Effect.orDie)

export const postgresBackend: Backend = {
  name: "postgres",
  shared: true,
  fresh: Effect.gen(function* () {
    const schema = freshSchema()
    yield* Effect.addFinalizer(() => dropSchema(schema))
    return { open: (limits = {}) => layerPostgres({ schema, ...limits }).pipe(Layer.provide(layerTestClient)) }
  }),
}
