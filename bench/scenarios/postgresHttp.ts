/**
 * HTTP registers through several servers on one PostgreSQL schema (issue 16), against one server on the file WAL
 * with the same load in the same run. Processes: every server (dist, as `npm start` runs it), the load generator
 * (children/spreadLoad.ts, a fresh process per run: one autocannon instance per server, the connections split
 * evenly, all drawing from one record stream so no version is sent twice), PostgreSQL, and this one, which
 * orchestrates. On 2 cores they all share the CPU.
 *
 * Each repetition starts the file server on a fresh directory and, for each count in `--postgres-servers` (default
 * 2; `1,2` adds one server on PostgreSQL as a second reference, which tells what sharing costs), that many servers
 * on a fresh schema of their own; then per connection count loads every setup in turn, the order reversed every
 * other repetition; each run warms up with registers first. Afterwards every server must list at least the
 * registers its setup acknowledged: a PostgreSQL server also the ones its peers took, which it may need a moment to
 * see (waited for up to ten seconds, and how long it took is reported).
 */

import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { runChild } from "../harness/child.ts"
import type { RunContext, Scratch } from "../harness/context.ts"
import type { LoadResult, SpreadLoadRequest } from "../harness/httpLoad.ts"
import { freshSchema, redactUrl } from "../harness/postgres.ts"
import { ensureFreshDist, type Server, startPostgresServer, startServer } from "../harness/servers.ts"
import { type HttpMedian, type HttpRepetition, medianOfRepetitions, repetitionOf } from "./http.ts"
import { type PostgresSkipped, reachPostgres } from "./postgres.ts"

export interface PostgresHttpSetup {
  readonly storage: "file" | "postgres"
  /** Servers the load is spread over: always 1 on the file WAL. */
  readonly servers: number
}

const label = (setup: PostgresHttpSetup) => `${setup.storage} ×${setup.servers}`

export interface PostgresHttpCell extends PostgresHttpSetup {
  readonly connections: number
  readonly repetitions: ReadonlyArray<HttpRepetition>
  readonly median: HttpMedian
}

export interface PostgresHttpRatio {
  readonly connections: number
  /** The PostgreSQL setup's servers. */
  readonly servers: number
  /** PostgreSQL setup over file setup, of the medians. */
  readonly throughput: number
  readonly p50: number
  readonly p99: number
  /** Of the registry servers' CPU per register; PostgreSQL's own CPU is not in it. */
  readonly serverCpu: number
}

export interface PostgresHttpCheck extends PostgresHttpSetup {
  /** Which of the setup's servers, from 1. */
  readonly server: number
  readonly repetition: number
  /** Registers the setup acknowledged with a 2xx, warm-ups not counted. */
  readonly atLeast: number
  readonly stored: number
  /** How long after the first ask this server was asked the time it listed them all: 0 when it did at once. */
  readonly waitedMs: number
}

export type PostgresHttpResult =
  | PostgresSkipped
  | {
      readonly status: "measured"
      readonly url: string
      readonly registryEntry: string
      readonly built: boolean
      readonly postgresServers: ReadonlyArray<number>
      readonly connections: ReadonlyArray<number>
      readonly seconds: number
      readonly warmupSeconds: number
      readonly cells: ReadonlyArray<PostgresHttpCell>
      readonly ratios: ReadonlyArray<PostgresHttpRatio>
      readonly storedChecks: ReadonlyArray<PostgresHttpCheck>
    }

const loadScript = fileURLToPath(new URL("../children/spreadLoad.ts", import.meta.url))

interface Running {
  readonly setup: PostgresHttpSetup
  readonly running: Array<Server>
  /** Records of the stream this setup has been sent so far; the next run starts after them. */
  offset: number
  acknowledged: number
}

const storedVersions = async (url: string): Promise<number> => {
  const response = await fetch(`${url}/models`)
  const models = (await response.json()) as ReadonlyArray<{ readonly versionCount: number }>
  return models.reduce((total, model) => total + model.versionCount, 0)
}

/** Polls until `url` lists at least `atLeast` versions or ten seconds pass; answers what it listed last. */
const waitForStored = async (url: string, atLeast: number): Promise<{ stored: number; waitedMs: number }> => {
  const started = performance.now()
  for (;;) {
    // Measured to when the answer was asked for, so a server that lists everything at once waited 0 ms.
    const waitedMs = performance.now() - started
    const stored = await storedVersions(url)
    if (stored >= atLeast || waitedMs > 10_000) return { stored, waitedMs }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US")

export const runPostgresHttp = async (
  context: RunContext,
  options: {
    readonly url: string
    readonly servers: ReadonlyArray<number>
    readonly connections: ReadonlyArray<number>
    readonly required: boolean
  },
): Promise<PostgresHttpResult> => {
  const { coldRepetitions, httpSeconds, smoke } = context.options
  const admin = await reachPostgres(context, options.url, options.required)
  if (typeof admin === "string") return { status: "skipped", url: redactUrl(options.url), reason: admin }
  const most = Math.max(...options.servers)
  const tooFew = options.connections.filter((count) => count < most)
  if (tooFew.length > 0) throw new Error(`postgres-http: ${tooFew.join(", ")} connections cannot load ${most} servers`)
  const setups: ReadonlyArray<PostgresHttpSetup> = [
    { storage: "file", servers: 1 },
    ...options.servers.map((servers) => ({ storage: "postgres" as const, servers })),
  ]
  // As in the HTTP scenario: autocannon ends a run on its 1 s tick, so a smoke warm-up would cost a second a run.
  const warmupSeconds = smoke ? 0 : 2
  const built = ensureFreshDist(context.log)
  const measured = new Map<string, Array<HttpRepetition>>()
  const key = (setup: PostgresHttpSetup, connections: number) => `${label(setup)} ${connections}`
  const storedChecks: Array<PostgresHttpCheck> = []
  try {
    for (let rep = 1; rep <= coldRepetitions; rep++) {
      const order = rep % 2 === 1 ? setups : [...setups].reverse()
      const schemas: Array<string> = []
      let scratch: Scratch | undefined
      const running: Array<Running> = []
      try {
        for (const setup of order) {
          const entry: Running = { setup, running: [], offset: 0, acknowledged: 0 }
          running.push(entry)
          if (setup.storage === "file") {
            scratch = await context.scratch("postgres-http-file")
            entry.running.push(await startServer(scratch.path))
          } else {
            const schema = freshSchema()
            schemas.push(schema)
            for (let server = 0; server < setup.servers; server++)
              entry.running.push(await startPostgresServer(options.url, schema))
          }
        }
        for (const connections of options.connections)
          for (const entry of running) {
            const request: SpreadLoadRequest = {
              servers: entry.running.map((server) => ({ url: server.url, pid: server.pid })),
              connections,
              warmupSeconds,
              seconds: httpSeconds,
              offset: entry.offset,
            }
            const result = await runChild<LoadResult>(loadScript, [JSON.stringify(request)])
            entry.offset += result.consumed
            entry.acknowledged += result.ok
            const repetition = repetitionOf(result)
            measured.set(key(entry.setup, connections), [
              ...(measured.get(key(entry.setup, connections)) ?? []),
              repetition,
            ])
            context.log(
              `  rep ${rep}/${coldRepetitions}, ${connections} connections, ${label(entry.setup)}: ` +
                `${fmt(repetition.requestsPerSecond)} registers/s, p50 ${repetition.p50Ms.toFixed(2)} ms, ` +
                `p99 ${repetition.p99Ms.toFixed(2)} ms, server CPU ${Math.round(repetition.serverCpuMicros)} µs/req, ` +
                `non-2xx ${repetition.non2xx}, errors ${repetition.errors}`,
            )
          }
        for (const entry of running)
          for (const [index, server] of entry.running.entries()) {
            const { stored, waitedMs } = await waitForStored(server.url, entry.acknowledged)
            const check = {
              ...entry.setup,
              server: index + 1,
              repetition: rep,
              atLeast: entry.acknowledged,
              stored,
              waitedMs,
            }
            storedChecks.push(check)
            if (stored < entry.acknowledged)
              throw new Error(
                `${label(entry.setup)} server ${index + 1} lists ${stored} versions after 10 s, fewer than the ${entry.acknowledged} its setup acknowledged`,
              )
          }
      } finally {
        for (const entry of running) for (const server of entry.running) await server.stop()
        await scratch?.release()
        for (const schema of schemas) await admin.drop(schema)
      }
    }
  } finally {
    try {
      await admin.dropLeftovers()
    } finally {
      await admin.close()
    }
  }
  const cells: Array<PostgresHttpCell> = options.connections.flatMap((connections) =>
    setups.map((setup) => {
      const repetitions = measured.get(key(setup, connections)) ?? []
      return {
        ...setup,
        connections,
        repetitions,
        median: medianOfRepetitions(repetitions),
      }
    }),
  )
  const medianOf = (setup: PostgresHttpSetup, connections: number) =>
    cells.find((cell) => label(cell) === label(setup) && cell.connections === connections)!.median
  const ratios = options.connections.flatMap((connections) =>
    options.servers.map((servers) => {
      const pg = medianOf({ storage: "postgres", servers }, connections)
      const file = medianOf({ storage: "file", servers: 1 }, connections)
      return {
        connections,
        servers,
        throughput: pg.requestsPerSecond / file.requestsPerSecond,
        p50: pg.p50Ms / file.p50Ms,
        p99: pg.p99Ms / file.p99Ms,
        serverCpu: pg.serverCpuMicros / file.serverCpuMicros,
      }
    }),
  )
  return {
    status: "measured",
    url: redactUrl(options.url),
    registryEntry: join("dist", "bin", "model-registry.js"),
    built,
    postgresServers: options.servers,
    connections: options.connections,
    seconds: httpSeconds,
    warmupSeconds,
    cells,
    ratios,
    storedChecks,
  }
}
