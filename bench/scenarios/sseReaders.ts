/**
 * SSE readers (issue 19): registers per second over HTTP while N clients hold `GET /events` open, against the
 * same server with none. Three quarters of the readers read everything; the other quarter send the request and
 * then never read, so their socket buffers fill and the server has to hold (or drop) what it owes them. During the
 * measured window a prober asks `/healthz` every 20 ms, and the server's resident memory is sampled from /proc.
 *
 * Each repetition runs every reader count once, each on a fresh server and directory, the counts in turn
 * (0, 200, 0, 200, …), so the ratio compares runs made under the same machine load.
 */
import { mkdir } from "node:fs/promises"
import { connect, type Socket } from "node:net"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type RunContext, settle } from "../harness/context.ts"
import { cpuSeconds, rssMiB } from "../harness/procStat.ts"
import { makeRecordSource } from "../harness/records.ts"
import { ensureFreshDist, type Server, startServer } from "../harness/servers.ts"
import { LatencyRecorder, median } from "../harness/stats.ts"
import { httpConnections, load } from "./http.ts"

export interface SseReadersRepetition {
  readonly readers: number
  readonly stalled: number
  readonly registersPerSecond: number
  readonly registerP99Ms: number
  readonly healthzP50Ms: number
  readonly healthzP99Ms: number
  readonly healthzSamples: number
  /** Largest resident set of the server process seen while loaded, and its resident set before any load. */
  readonly rssPeakMiB: number
  readonly rssIdleMiB: number
  /** CPU time over the measured window, as a share of one core: the server's, and this harness's (load + readers). */
  readonly serverCpu: number
  readonly harnessCpu: number
  /** Socket reads per reading reader per second: how many writes the server made to each. */
  readonly readsPerReaderPerSecond: number
  /** The reading readers' bytes and the lowest last event id among them at the end (how far behind the slowest is). */
  readonly readBytes: number
  readonly slowestReaderLastId: number
  readonly lastSeq: number
  /** Readers whose stream the server ended or cut (a never-reading one is expected to be cut once it lags). */
  readonly readersClosed: number
  readonly stalledClosed: number
  readonly non2xx: number
  readonly errors: number
}

export interface SseReadersLevel {
  readonly readers: number
  readonly repetitions: ReadonlyArray<SseReadersRepetition>
  readonly median: {
    readonly registersPerSecond: number
    readonly healthzP99Ms: number
    readonly rssPeakMiB: number
  }
}

export interface SseReadersResult {
  readonly connections: number
  readonly seconds: number
  readonly warmupSeconds: number
  readonly stalledShare: number
  readonly levels: ReadonlyArray<SseReadersLevel>
  /** Median registers/s at the largest reader count over the median with none. */
  readonly ratio: number
}

/** A quarter of the readers never read, as in the issue (50 of 200). */
const stalledShare = 0.25

interface Reader {
  readonly socket: Socket
  bytes: number
  reads: number
  lastId: number
  closed: boolean
}

const idPattern = /(?:^|\n)id: (\d+)\n/g

/** A raw-socket SSE client: cheaper than fetch, so the load generator spends its CPU on the registers. */
const openReader = (url: URL, reading: boolean): Promise<Reader> =>
  new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname)
    const reader: Reader = { socket, bytes: 0, reads: 0, lastId: 0, closed: false }
    socket.once("error", reject)
    socket.once("connect", () => {
      socket.write(`GET /events HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`)
    })
    socket.on("close", () => {
      reader.closed = true
    })
    socket.once("data", (first: Buffer) => {
      socket.off("error", reject)
      socket.on("error", () => {})
      if (!first.toString("latin1").startsWith("HTTP/1.1 200")) {
        reject(new Error(`GET /events answered ${first.toString("latin1").split("\r\n")[0]}`))
        return
      }
      if (reading)
        socket.on("data", (chunk: Buffer) => {
          reader.bytes += chunk.length
          reader.reads++
          // Only the chunk's last id matters; a frame split across chunks is counted with the next one.
          const text = chunk.toString("latin1")
          let match: RegExpExecArray | null = null
          idPattern.lastIndex = 0
          for (let next = idPattern.exec(text); next !== null; next = idPattern.exec(text)) match = next
          if (match) reader.lastId = Number(match[1])
        })
      else socket.pause()
      resolve(reader)
    })
  })

/** Asks /healthz one request at a time, every `intervalMs`, until stopped. */
const probeHealth = (url: string, intervalMs: number) => {
  const latencies = new LatencyRecorder(1024)
  let running = true
  const done = (async () => {
    while (running) {
      const started = performance.now()
      const response = await fetch(`${url}/healthz`)
      await response.arrayBuffer()
      latencies.record(performance.now() - started)
      const wait = intervalMs - (performance.now() - started)
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    }
  })()
  return {
    stop: async () => {
      running = false
      await done
      return latencies.summary()
    },
  }
}

const sampleRss = (pid: number, intervalMs: number) => {
  let peak = rssMiB(pid)
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMiB(pid))
  }, intervalMs)
  return {
    stop: () => {
      clearInterval(timer)
      return Math.max(peak, rssMiB(pid))
    },
  }
}

const lastSeqOf = async (url: string): Promise<number> => {
  const response = await fetch(`${url}/healthz`)
  return ((await response.json()) as { readonly lastSeq: number }).lastSeq
}

const runOnce = async (
  context: RunContext,
  readers: number,
  serverProfile: string | undefined,
): Promise<SseReadersRepetition> => {
  const { httpSeconds, smoke } = context.options
  const warmupSeconds = smoke ? 0.2 : 2
  const scratch = await context.scratch(`sse-${readers}`)
  const server: Server = await startServer(scratch.path, {
    nodeFlags: serverProfile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${serverProfile}`],
  })
  const clients: Array<Reader> = []
  try {
    const rssIdleMiB = rssMiB(server.pid)
    const url = new URL(server.url)
    const stalled = Math.round(readers * stalledShare)
    for (let i = 0; i < readers; i++) clients.push(await openReader(url, i >= stalled))
    const source = makeRecordSource()
    await load(server.url, source, warmupSeconds)
    settle()
    const health = probeHealth(server.url, 20)
    const rss = sampleRss(server.pid, 250)
    const reading = clients.slice(stalled)
    const readsBefore = reading.reduce((total, reader) => total + reader.reads, 0)
    const serverCpuBefore = cpuSeconds(server.pid)
    const harnessCpuBefore = process.cpuUsage()
    const started = performance.now()
    const result = await load(server.url, source, httpSeconds)
    const elapsedSeconds = (performance.now() - started) / 1000
    const serverCpu = (cpuSeconds(server.pid) - serverCpuBefore) / elapsedSeconds
    const harnessCpuUsed = process.cpuUsage(harnessCpuBefore)
    const harnessCpu = (harnessCpuUsed.user + harnessCpuUsed.system) / 1e6 / elapsedSeconds
    const reads = reading.reduce((total, reader) => total + reader.reads, 0) - readsBefore
    const healthz = await health.stop()
    const rssPeakMiB = rss.stop()
    // Let the reading readers receive what was committed last before looking at how far behind they are.
    await new Promise((resolve) => setTimeout(resolve, 500))
    const lastSeq = await lastSeqOf(server.url)
    return {
      readers,
      stalled,
      registersPerSecond: result["2xx"] / result.duration,
      registerP99Ms: result.latency.p99,
      healthzP50Ms: healthz.p50Ms,
      healthzP99Ms: healthz.p99Ms,
      healthzSamples: healthz.count,
      rssPeakMiB,
      rssIdleMiB,
      serverCpu,
      harnessCpu,
      readsPerReaderPerSecond: reading.length === 0 ? 0 : reads / reading.length / elapsedSeconds,
      readBytes: reading.reduce((total, reader) => total + reader.bytes, 0),
      slowestReaderLastId: reading.length === 0 ? lastSeq : Math.min(...reading.map((reader) => reader.lastId)),
      lastSeq,
      readersClosed: reading.filter((reader) => reader.closed).length,
      stalledClosed: clients.slice(0, stalled).filter((reader) => reader.closed).length,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
    }
  } finally {
    // Stalled sockets are closed first, so the server's shutdown does not wait on streams nobody reads.
    for (const client of clients) client.socket.destroy()
    await server.stop()
    await scratch.release()
  }
}

export const runSseReaders = async (context: RunContext, counts: ReadonlyArray<number>, profile: boolean) => {
  const { coldRepetitions, httpSeconds, smoke } = context.options
  ensureFreshDist(context.log)
  const serverProfile = profile
    ? join(fileURLToPath(new URL("../results/profiles", import.meta.url)), `sse-server-${Date.now()}`)
    : undefined
  if (serverProfile !== undefined) await mkdir(serverProfile, { recursive: true })
  const measured = new Map<number, Array<SseReadersRepetition>>(counts.map((count) => [count, []]))
  for (let rep = 1; rep <= coldRepetitions; rep++)
    for (const readers of counts) {
      const repetition = await runOnce(context, readers, serverProfile)
      measured.get(readers)!.push(repetition)
      context.log(
        `  rep ${rep}/${coldRepetitions}, ${readers} readers (${repetition.stalled} never reading): ` +
          `${Math.round(repetition.registersPerSecond).toLocaleString("en-US")} registers/s, ` +
          `/healthz p99 ${repetition.healthzP99Ms.toFixed(1)} ms, RSS ${Math.round(repetition.rssIdleMiB)} → ` +
          `${Math.round(repetition.rssPeakMiB)} MiB, CPU server ${Math.round(repetition.serverCpu * 100)} % ` +
          `harness ${Math.round(repetition.harnessCpu * 100)} %, ${Math.round(repetition.readsPerReaderPerSecond)} ` +
          `reads/reader/s, slowest reader at ${repetition.slowestReaderLastId}/` +
          `${repetition.lastSeq}, closed ${repetition.readersClosed} reading + ${repetition.stalledClosed} stalled`,
      )
    }
  if (serverProfile !== undefined) context.log(`  server profiles in ${serverProfile}`)
  const levels: Array<SseReadersLevel> = counts.map((readers) => {
    const repetitions = measured.get(readers)!
    return {
      readers,
      repetitions,
      median: {
        registersPerSecond: median(repetitions.map((rep) => rep.registersPerSecond)),
        healthzP99Ms: median(repetitions.map((rep) => rep.healthzP99Ms)),
        rssPeakMiB: median(repetitions.map((rep) => rep.rssPeakMiB)),
      },
    }
  })
  const none = levels.find((level) => level.readers === 0)
  const most = levels.reduce((a, b) => (b.readers > a.readers ? b : a), levels[0]!)
  return {
    connections: httpConnections,
    seconds: httpSeconds,
    warmupSeconds: smoke ? 0.2 : 2,
    stalledShare,
    levels,
    ratio:
      none === undefined || most === none
        ? Number.NaN
        : most.median.registersPerSecond / none.median.registersPerSecond,
  } satisfies SseReadersResult
}
