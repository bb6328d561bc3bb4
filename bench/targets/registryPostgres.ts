/**
 * The registry on PostgreSQL, driven exactly as `registry (Effect API)` drives it on the file WAL: producers are
 * Effect fibers calling `ModelRegistry.register`. Every instance opens a fresh schema (the directory the harness
 * hands it is unused) and drops it on close, so repetitions never see each other's rows.
 */
import type { Effect } from "effect"
import { ManagedRuntime } from "effect"
import { layerPostgres, ModelRegistry } from "../../src/node.ts"
import { freshSchema, type PostgresAdmin } from "../harness/postgres.ts"
import type { DurableTarget, TargetDefinition } from "./DurableTarget.ts"

type Registry = Effect.Effect.Success<typeof ModelRegistry.ModelRegistry>

export const registryPostgresName = "registry on PostgreSQL (Effect API)"

export const registryPostgres = (url: string, admin: PostgresAdmin): TargetDefinition => ({
  name: registryPostgresName,
  role: "ours",
  note:
    "ModelRegistry.register from Effect fibers on `layerPostgres({ url, schema })`: one transaction (the writer " +
    "token read FOR SHARE, then the batch's records) per group commit, acknowledged after COMMIT; a fresh schema per instance, dropped after.",
  make: (): DurableTarget => {
    const schema = freshSchema()
    let runtime: ManagedRuntime.ManagedRuntime<Registry, unknown> | undefined
    let registry: Registry | undefined
    return {
      open: async () => {
        runtime = ManagedRuntime.make(layerPostgres({ url, schema })) as ManagedRuntime.ManagedRuntime<
          Registry,
          unknown
        >
        registry = await runtime.runPromise(ModelRegistry.ModelRegistry)
      },
      register: (record) => runtime!.runPromise(registry!.register(record)),
      registerEffect: (record) => registry!.register(record),
      // One batch is one transaction, so transactions stand where the file WAL counts fdatasyncs.
      stats: async () => {
        const stats = await runtime!.runPromise(registry!.stats)
        return { fsyncs: stats.batches, batches: stats.batches }
      },
      close: async () => {
        try {
          await runtime?.dispose()
        } finally {
          await admin.drop(schema)
        }
      },
    }
  },
})
