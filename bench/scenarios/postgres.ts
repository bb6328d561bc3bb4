/**
 * The registry on PostgreSQL against the registry on the file WAL (issue 16), in this process through the
 * embedded Effect API, in the same run: the durable-registers closed loop (same driver, same record stream, same
 * alternation within each repetition, a fresh instance per repetition) with exactly these two designs, at 1, 64
 * and 512 in flight unless `--concurrency` says otherwise. Reported: registers/s, p50 and p99 of each, and
 * PostgreSQL ÷ file of the medians.
 *
 * PostgreSQL is whatever `--postgres-url` names (default: database `test` on 127.0.0.1:5432); each instance gets
 * a fresh schema, dropped on close. When the server cannot be reached the scenario is skipped with the reason,
 * unless it was asked for by name (`--only=postgres`), which then fails.
 */
import type { RunContext } from "../harness/context.ts"
import { connectAdmin, describeUnreachable, redactUrl } from "../harness/postgres.ts"
import { registryEffect } from "../targets/registry.ts"
import { registryPostgres, registryPostgresName } from "../targets/registryPostgres.ts"
import { type DurableRegistersResult, runDurableRegisters } from "./durableRegisters.ts"

/** The levels issue 16 asks for. */
export const postgresLevels: ReadonlyArray<number> = [1, 64, 512]

export interface PostgresRatio {
  readonly concurrency: number
  /** PostgreSQL over file, of the medians. */
  readonly throughput: number
  readonly p50: number
  readonly p99: number
}

/** A PostgreSQL scenario that did not run, and why (the database could not be reached). */
export interface PostgresSkipped {
  readonly status: "skipped"
  readonly url: string
  readonly reason: string
}

export type PostgresResult =
  | PostgresSkipped
  | {
      readonly status: "measured"
      readonly url: string
      readonly file: string
      readonly postgres: string
      readonly registers: DurableRegistersResult
      readonly ratios: ReadonlyArray<PostgresRatio>
    }

/** Connects, or answers why the scenario is skipped; throws instead when `required`. */
export const reachPostgres = async (context: RunContext, url: string, required: boolean) => {
  try {
    return await connectAdmin(url)
  } catch (error) {
    const reason = `PostgreSQL at ${redactUrl(url)} is unreachable: ${describeUnreachable(error)}`
    if (required) throw new Error(`${reason} (asked for by --only; start it, or pass --postgres-url)`)
    context.log(`  skipped: ${reason}`)
    return reason
  }
}

export const runPostgres = async (
  context: RunContext,
  url: string,
  levels: ReadonlyArray<number>,
  required: boolean,
): Promise<PostgresResult> => {
  const admin = await reachPostgres(context, url, required)
  if (typeof admin === "string") return { status: "skipped", url: redactUrl(url), reason: admin }
  try {
    const postgres = registryPostgres(url, admin)
    const registers = await runDurableRegisters({ ...context, options: { ...context.options, levels } }, [
      registryEffect,
      postgres,
    ])
    const medianOf = (target: string, concurrency: number) =>
      registers.cells.find((cell) => cell.target === target && cell.concurrency === concurrency)!.median
    const ratios = levels.map((concurrency) => {
      const file = medianOf(registryEffect.name, concurrency)
      const pg = medianOf(registryPostgresName, concurrency)
      return {
        concurrency,
        throughput: pg.opsPerSecond / file.opsPerSecond,
        p50: pg.p50Ms / file.p50Ms,
        p99: pg.p99Ms / file.p99Ms,
      }
    })
    return {
      status: "measured",
      url: redactUrl(url),
      file: registryEffect.name,
      postgres: registryPostgresName,
      registers,
      ratios,
    }
  } finally {
    try {
      await admin.dropLeftovers()
    } finally {
      await admin.close()
    }
  }
}
