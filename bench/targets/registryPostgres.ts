/**
 * The registry on PostgreSQL, driven exactly as `registry (Effect API)` drives it on the file WAL: producers are
 * Effect fibers calling `ModelRegistry.register`. Every instance opens a fresh schema (the directory the harness
 * hands it is unused) and drops it on close, so repetitions never see each other's rows.
 */
import { layerPostgres } from "../../src/node.ts"
import { freshSchema, type PostgresAdmin } from "../harness/postgres.ts"
import type { DurableTarget, TargetDefinition } from "./DurableTarget.ts"
import { effectApiOn } from "./registry.ts"

export const registryPostgresName = "registry on PostgreSQL (Effect API)"

export const registryPostgres = (url: string, admin: PostgresAdmin): TargetDefinition => ({
  name: registryPostgresName,
  role: "ours",
  note:
    "ModelRegistry.register from Effect fibers on `layerPostgres({ url, schema })`: one transaction per group commit " +
    "(the append lock, the head and what other servers wrote, then the batch in one statement), acknowledged after " +
    "COMMIT; a fresh schema per instance, dropped after.",
  make: (): DurableTarget => {
    const schema = freshSchema()
    return effectApiOn(
      () => layerPostgres({ url, schema }),
      () => admin.drop(schema),
    )()
  },
})
