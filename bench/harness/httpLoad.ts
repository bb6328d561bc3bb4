/**
 * HTTP load with autocannon over keep-alive connections, for one of the three paths the HTTP scenario measures.
 * Latency is recorded from autocannon's per-response events (fractional milliseconds): its own histogram keeps
 * whole milliseconds, too coarse for a `/healthz` p50 well under one.
 */
import autocannon from "autocannon"
import { cpuSeconds } from "./procStat.ts"
import { makeRecordSource, type RecordSource } from "./records.ts"
import { LatencyRecorder, type LatencySummary } from "./stats.ts"

export type HttpPath = "healthz" | "get" | "register"

export const httpPaths: ReadonlyArray<HttpPath> = ["healthz", "get", "register"]

export interface LoadRequest {
  readonly url: string
  readonly path: HttpPath
  readonly connections: number
  readonly warmupSeconds: number
  readonly seconds: number
  /** register: records of the shared stream already sent to this server, skipped so every request is new. */
  readonly offset: number
  /** get: the stream's first `stored` records are on the server; requests cycle through them. */
  readonly stored: number
  /** The server's process, whose CPU time over the measured run is read from /proc. */
  readonly serverPid: number
}

export interface LoadResult {
  readonly seconds: number
  readonly ok: number
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
  readonly latency: LatencySummary
  /** The server's CPU seconds over the measured run: the measure other work on the machine disturbs least. */
  readonly serverCpuSeconds: number
  /** register: records taken from the stream, warm-up included (sent or not), for the next run's offset. */
  readonly consumed: number
}

/** The stream of records, starting `offset` records in. */
export const recordsFrom = (offset: number): RecordSource => {
  const source = makeRecordSource()
  for (let i = 0; i < offset; i++) source.next()
  return source
}

/** The GET paths of the stream's first `count` records, which the scenario stores before measuring. */
export const versionPaths = (count: number): ReadonlyArray<string> => {
  const source = makeRecordSource()
  return Array.from({ length: count }, () => {
    const { name, version } = source.next()
    return `/models/${name}/versions/${version}`
  })
}

type Request = autocannon.Request

const requestsFor = (path: HttpPath, source: RecordSource, getPaths: ReadonlyArray<string>): Array<Request> => {
  if (path === "healthz") return [{ method: "GET", path: "/healthz" }]
  if (path === "get") {
    let next = 0
    return [
      {
        method: "GET",
        setupRequest: (request) => ({ ...request, path: getPaths[next++ % getPaths.length]! }),
      },
    ]
  }
  return registerRequests(source)
}

/** Registers, each request the stream's next record: a new (name, version) every time, never an idempotent repeat. */
export const registerRequests = (source: RecordSource): Array<Request> => [
  {
    method: "POST",
    // Called for every request: each one carries the next unique record.
    setupRequest: (request) => {
      const { name, ...body } = source.next()
      return {
        ...request,
        path: `/models/${name}/versions`,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }
    },
  },
]

/** One autocannon run; `recorder`, when given, receives every response's latency. */
export const runAutocannon = (
  url: string,
  connections: number,
  seconds: number,
  requests: Array<Request>,
  recorder?: LatencyRecorder,
): Promise<autocannon.Result> =>
  new Promise((resolve, reject) => {
    const instance = autocannon({ url, connections, duration: seconds, requests }, (error, result) =>
      error ? reject(error) : resolve(result),
    )
    if (recorder)
      instance.on("response", (_client, _status, _bytes, responseTime) => {
        recorder.record(responseTime)
      })
  })

/** Warms the server up on the same path, then measures; what the HTTP scenario's load process runs. */
export const runLoad = async (request: LoadRequest): Promise<LoadResult> => {
  let consumed = 0
  const stream = recordsFrom(request.offset)
  const source: RecordSource = {
    next: () => {
      consumed++
      return stream.next()
    },
  }
  const getPaths = request.path === "get" ? versionPaths(request.stored) : []
  const requests = requestsFor(request.path, source, getPaths)
  if (request.warmupSeconds > 0) await runAutocannon(request.url, request.connections, request.warmupSeconds, requests)
  globalThis.gc?.()
  const recorder = new LatencyRecorder()
  const cpuBefore = cpuSeconds(request.serverPid)
  const result = await runAutocannon(request.url, request.connections, request.seconds, requests, recorder)
  const serverCpuSeconds = cpuSeconds(request.serverPid) - cpuBefore
  return {
    seconds: result.duration,
    ok: result["2xx"],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    latency: recorder.summary(),
    serverCpuSeconds,
    consumed,
  }
}

/** One load spread over several servers of one registry (the postgres-http scenario). */
export interface SpreadLoadRequest {
  readonly servers: ReadonlyArray<{ readonly url: string; readonly pid: number }>
  /** In all: split as evenly as possible over the servers. */
  readonly connections: number
  readonly warmupSeconds: number
  readonly seconds: number
  /** Records of the shared stream already sent to these servers, skipped so every register is new. */
  readonly offset: number
}

/** How many of `connections` each of `servers` servers gets: differing by one at most, the first ones more. */
export const splitConnections = (connections: number, servers: number): ReadonlyArray<number> =>
  Array.from(
    { length: servers },
    (_, index) => Math.floor(connections / servers) + (index < connections % servers ? 1 : 0),
  )

/**
 * Registers on every server at once, one autocannon instance each, all drawing from one record stream: servers
 * that share a schema must never be sent the same version twice, or a register would race its twin on the other
 * server. Latency is every answer's, whichever server gave it; server CPU is the servers' sum (not PostgreSQL's).
 */
export const runSpreadLoad = async (request: SpreadLoadRequest): Promise<LoadResult> => {
  if (request.connections < request.servers.length)
    throw new Error(`${request.connections} connections cannot load ${request.servers.length} servers`)
  let consumed = 0
  const stream = recordsFrom(request.offset)
  const source: RecordSource = {
    next: () => {
      consumed++
      return stream.next()
    },
  }
  const split = splitConnections(request.connections, request.servers.length)
  const all = (seconds: number, recorder?: LatencyRecorder) =>
    Promise.all(
      request.servers.map((server, index) =>
        runAutocannon(server.url, split[index]!, seconds, registerRequests(source), recorder),
      ),
    )
  if (request.warmupSeconds > 0) await all(request.warmupSeconds)
  globalThis.gc?.()
  const serversCpu = () => request.servers.reduce((total, server) => total + cpuSeconds(server.pid), 0)
  const recorder = new LatencyRecorder()
  const cpuBefore = serversCpu()
  const results = await all(request.seconds, recorder)
  const serverCpuSeconds = serversCpu() - cpuBefore
  const sum = (pick: (result: autocannon.Result) => number) =>
    results.reduce((total, result) => total + pick(result), 0)
  return {
    // The instances started together; the last to stop bounds the window every answer fell in.
    seconds: Math.max(...results.map((result) => result.duration)),
    ok: sum((result) => result["2xx"]),
    non2xx: sum((result) => result.non2xx),
    errors: sum((result) => result.errors),
    timeouts: sum((result) => result.timeouts),
    latency: recorder.summary(),
    serverCpuSeconds,
    consumed,
  }
}
