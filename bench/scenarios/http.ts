/**
 * HTTP: the registry server against a bare `node:http` reference on three paths, as ratios measured in the same
 * run (issue 15's targets: throughput ≥ 0.6× the reference's, p99 ≤ 2×). Three kinds of process: each server
 * in its own, the load generator (autocannon, children/httpLoad.ts) in a fresh one per run, and this one, which
 * only orchestrates.
 *
 * Each repetition starts both servers on fresh directories and stores the same first versions of the record
 * stream in each; then, per connection count and path, runs the load against one server and then the other,
 * which goes first alternating between repetitions. Every load run warms its server up on the same path first.
 * Registers carry new (name, version) pairs only; afterwards each server must hold at least what it
 * acknowledged.
 */
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { runChild } from "../harness/child.ts"
import type { RunContext, Scratch } from "../harness/context.ts"
import {
  type HttpPath,
  httpPaths,
  type LoadRequest,
  type LoadResult,
  recordsFrom,
  registerRequests,
  runAutocannon,
} from "../harness/httpLoad.ts"
import type { RecordSource } from "../harness/records.ts"
import { bundleBareServer, ensureFreshDist, type Server, startBareServer, startServer } from "../harness/servers.ts"
import { median } from "../harness/stats.ts"

/** The SSE scenario's connections, and the HTTP scenario's when `--http-connections` is not given. */
export const httpConnections = 64

/** Registers from the SSE scenario's own process (it counts the load's CPU as the harness's). */
export const load = (url: string, source: RecordSource, seconds: number) =>
  runAutocannon(url, httpConnections, seconds, registerRequests(source))

export type HttpServerKind = "bare" | "registry"

const kinds: ReadonlyArray<HttpServerKind> = ["bare", "registry"]

export interface HttpRepetition {
  readonly seconds: number
  readonly requestsPerSecond: number
  readonly ok: number
  readonly non2xx: number
  /** Socket errors and timeouts. */
  readonly errors: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** Server CPU time per 2xx answer over the measured run. */
  readonly serverCpuMicros: number
}

/** The medians of a cell's repetitions. */
export const medianOfRepetitions = (repetitions: ReadonlyArray<HttpRepetition>): HttpMedian => ({
  requestsPerSecond: median(repetitions.map((rep) => rep.requestsPerSecond)),
  p50Ms: median(repetitions.map((rep) => rep.p50Ms)),
  p99Ms: median(repetitions.map((rep) => rep.p99Ms)),
  serverCpuMicros: median(repetitions.map((rep) => rep.serverCpuMicros)),
})

/** One load run's answer as a repetition of a cell. */
export const repetitionOf = (result: LoadResult): HttpRepetition => ({
  seconds: result.seconds,
  requestsPerSecond: result.ok / result.seconds,
  ok: result.ok,
  non2xx: result.non2xx,
  errors: result.errors + result.timeouts,
  // NaN went through JSON as null when nothing answered.
  p50Ms: result.latency.p50Ms ?? Number.NaN,
  p99Ms: result.latency.p99Ms ?? Number.NaN,
  serverCpuMicros: (result.serverCpuSeconds / result.ok) * 1e6,
})

export interface HttpCell {
  readonly server: HttpServerKind
  readonly path: HttpPath
  readonly connections: number
  readonly repetitions: ReadonlyArray<HttpRepetition>
  readonly median: HttpMedian
}

/** The medians of a cell's repetitions. */
export interface HttpMedian {
  readonly requestsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly serverCpuMicros: number
}

export interface HttpRatio {
  readonly path: HttpPath
  readonly connections: number
  /** Registry over bare, of the medians. */
  readonly throughput: number
  readonly p99: number
  readonly serverCpu: number
}

export interface StoredCheck {
  readonly server: HttpServerKind
  readonly repetition: number
  /** Versions stored before measuring plus registers acknowledged with a 2xx, warm-ups not counted. */
  readonly atLeast: number
  readonly stored: number
}

export interface HttpResult {
  /** What ran as the registry server, and whether this run had to build it. */
  readonly registryEntry: string
  readonly built: boolean
  readonly connections: ReadonlyArray<number>
  readonly seconds: number
  readonly warmupSeconds: number
  readonly storedVersions: number
  readonly cells: ReadonlyArray<HttpCell>
  readonly ratios: ReadonlyArray<HttpRatio>
  readonly storedChecks: ReadonlyArray<StoredCheck>
}

const loadScript = fileURLToPath(new URL("../children/httpLoad.ts", import.meta.url))

/** Runs `run` on every item, from `count` loops in parallel. */
const forEachParallel = async <A>(items: ReadonlyArray<A>, count: number, run: (item: A) => Promise<void>) => {
  let next = 0
  await Promise.all(
    Array.from({ length: count }, async () => {
      while (next < items.length) await run(items[next++]!)
    }),
  )
}

/** Stores the stream's first `count` records, as the GET path expects to find them. */
const populate = async (url: string, count: number): Promise<void> => {
  const source = recordsFrom(0)
  const records = Array.from({ length: count }, () => source.next())
  await forEachParallel(records, 16, async ({ name, ...body }) => {
    const response = await fetch(`${url}/models/${name}/versions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    })
    await response.arrayBuffer()
    if (!response.ok) throw new Error(`storing ${name}@${body.version} answered ${response.status}`)
  })
}

const storedVersions = async (url: string): Promise<number> => {
  const response = await fetch(`${url}/models`)
  const models = (await response.json()) as ReadonlyArray<{ readonly versionCount: number }>
  return models.reduce((total, model) => total + model.versionCount, 0)
}

interface Running {
  readonly kind: HttpServerKind
  readonly server: Server
  readonly scratch: Scratch
  /** Records of the stream this server has been sent so far; the next register run starts after them. */
  offset: number
  acknowledged: number
}

const start = async (context: RunContext, kind: HttpServerKind, bareBundle: string): Promise<Running> => {
  const scratch = await context.scratch(`http-${kind}`)
  const server = kind === "bare" ? await startBareServer(bareBundle, scratch.path) : await startServer(scratch.path)
  return { kind, server, scratch, offset: 0, acknowledged: 0 }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US")

export const runHttp = async (context: RunContext, connectionCounts: ReadonlyArray<number>): Promise<HttpResult> => {
  const { coldRepetitions, httpSeconds, smoke } = context.options
  // autocannon ends a run on its 1 s tick, so a smoke run's warm-up would cost a second per run: none.
  const warmupSeconds = smoke ? 0 : 2
  const stored = smoke ? 200 : 5000
  const built = ensureFreshDist(context.log)
  const bundleDirectory = await context.scratch("bare-bundle")
  const bareBundle = await bundleBareServer(bundleDirectory.path)
  const measured = new Map<string, Array<HttpRepetition>>()
  const key = (kind: HttpServerKind, path: HttpPath, connections: number) => `${kind} ${path} ${connections}`
  const storedChecks: Array<StoredCheck> = []
  try {
    for (let rep = 1; rep <= coldRepetitions; rep++) {
      // Which server goes first alternates, so neither always runs right after the other's load.
      const order = rep % 2 === 1 ? kinds : [...kinds].reverse()
      const running: Array<Running> = []
      try {
        for (const kind of order) {
          const server = await start(context, kind, bareBundle)
          running.push(server)
          await populate(server.server.url, stored)
          server.offset = stored
        }
        for (const connections of connectionCounts)
          for (const path of httpPaths)
            for (const server of running) {
              const request: LoadRequest = {
                url: server.server.url,
                path,
                connections,
                warmupSeconds,
                seconds: httpSeconds,
                offset: server.offset,
                stored,
                serverPid: server.server.pid,
              }
              const result = await runChild<LoadResult>(loadScript, [JSON.stringify(request)])
              server.offset += result.consumed
              if (path === "register") server.acknowledged += result.ok
              const repetition = repetitionOf(result)
              const cell = key(server.kind, path, connections)
              measured.set(cell, [...(measured.get(cell) ?? []), repetition])
              context.log(
                `  rep ${rep}/${coldRepetitions}, ${connections} connections, ${path}, ${server.kind}: ` +
                  `${fmt(repetition.requestsPerSecond)} req/s, p50 ${repetition.p50Ms.toFixed(2)} ms, ` +
                  `p99 ${repetition.p99Ms.toFixed(2)} ms, server CPU ${Math.round(repetition.serverCpuMicros)} µs/req, non-2xx ${repetition.non2xx}, errors ${repetition.errors}`,
              )
            }
        for (const server of running) {
          const check: StoredCheck = {
            server: server.kind,
            repetition: rep,
            atLeast: stored + server.acknowledged,
            stored: await storedVersions(server.server.url),
          }
          storedChecks.push(check)
          if (check.stored < check.atLeast)
            throw new Error(
              `${server.kind} holds ${check.stored} versions, fewer than the ${check.atLeast} it acknowledged`,
            )
        }
      } finally {
        for (const server of running) {
          await server.server.stop()
          await server.scratch.release()
        }
      }
    }
  } finally {
    await bundleDirectory.release()
  }
  const cells: Array<HttpCell> = connectionCounts.flatMap((connections) =>
    httpPaths.flatMap((path) =>
      kinds.map((server) => {
        const repetitions = measured.get(key(server, path, connections)) ?? []
        return {
          server,
          path,
          connections,
          repetitions,
          median: medianOfRepetitions(repetitions),
        }
      }),
    ),
  )
  const medianOf = (server: HttpServerKind, path: HttpPath, connections: number) =>
    cells.find((cell) => cell.server === server && cell.path === path && cell.connections === connections)!.median
  const ratios = connectionCounts.flatMap((connections) =>
    httpPaths.map((path) => {
      const ours = medianOf("registry", path, connections)
      const bare = medianOf("bare", path, connections)
      return {
        path,
        connections,
        throughput: ours.requestsPerSecond / bare.requestsPerSecond,
        p99: ours.p99Ms / bare.p99Ms,
        serverCpu: ours.serverCpuMicros / bare.serverCpuMicros,
      }
    }),
  )
  return {
    registryEntry: join("dist", "bin", "model-registry.js"),
    built,
    connections: connectionCounts,
    seconds: httpSeconds,
    warmupSeconds,
    storedVersions: stored,
    cells,
    ratios,
    storedChecks,
  }
}
