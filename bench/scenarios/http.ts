/**
 * HTTP: registers per second over keep-alive connections against the real server (`model-registry serve`, in
 * its own process, on a fresh data directory per repetition), driven by autocannon from this process. Every
 * request registers a new (name, version) from the shared record stream, so nothing is an idempotent repeat.
 *
 * The machine has two cores: the server and autocannon share them, so this measures the pair, not the server
 * alone. Each repetition warms its server up before measuring.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import autocannon from "autocannon"
import { type RunContext, settle } from "../harness/context.ts"
import { makeRecordSource, type RecordSource } from "../harness/records.ts"
import { median } from "../harness/stats.ts"

export const httpConnections = 64

export interface HttpRepetition {
  readonly seconds: number
  readonly created: number
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
  readonly registersPerSecond: number
  readonly latencyP50Ms: number
  readonly latencyP99Ms: number
  /** Versions the server reports holding after the run: at least `created` (warm-up and unanswered ones add). */
  readonly storedVersions: number
}

export interface HttpResult {
  readonly connections: number
  readonly seconds: number
  readonly warmupSeconds: number
  readonly repetitions: ReadonlyArray<HttpRepetition>
  readonly median: { readonly registersPerSecond: number; readonly latencyP50Ms: number; readonly latencyP99Ms: number }
}

const bin = fileURLToPath(new URL("../../bin/model-registry.mjs", import.meta.url))

export interface Server {
  readonly url: string
  readonly pid: number
  stop(): Promise<void>
}

/**
 * Starts `serve --json` on a free port and resolves with the address it prints once listening. `nodeFlags` go to
 * the server's node (e.g. `--cpu-prof`), `args` to `serve`.
 */
export const startServer = (
  directory: string,
  options: { readonly nodeFlags?: ReadonlyArray<string>; readonly args?: ReadonlyArray<string> } = {},
): Promise<Server> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      [
        ...(options.nodeFlags ?? []),
        bin,
        "serve",
        "--data",
        directory,
        "--port",
        "0",
        "--json",
        ...(options.args ?? []),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    )
    let output = ""
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    void exited.then(() => reject(new Error(`server exited before listening:\n${output}`)))
    child.stderr!.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      const match = /\{"event":"listening","url":"([^"]+)"/.exec(output)
      if (match)
        resolve({
          url: match[1]!,
          pid: child.pid!,
          stop: () => {
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
            return exited
          },
        })
    })
  })

export const load = (url: string, source: RecordSource, seconds: number) =>
  autocannon({
    url,
    connections: httpConnections,
    duration: seconds,
    requests: [
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
    ],
  })

const storedVersions = async (url: string): Promise<number> => {
  const response = await fetch(`${url}/models`)
  const models = (await response.json()) as ReadonlyArray<{ readonly versionCount: number }>
  return models.reduce((total, model) => total + model.versionCount, 0)
}

export const runHttp = async (context: RunContext): Promise<HttpResult> => {
  const { coldRepetitions, httpSeconds, smoke } = context.options
  const warmupSeconds = smoke ? 0.2 : 2
  const measured: Array<HttpRepetition> = []
  for (let rep = 1; rep <= coldRepetitions; rep++) {
    const scratch = await context.scratch("http")
    const server = await startServer(scratch.path)
    const source = makeRecordSource()
    try {
      await load(server.url, source, warmupSeconds)
      settle()
      const result = await load(server.url, source, httpSeconds)
      const created = result["2xx"]
      const repetition: HttpRepetition = {
        seconds: result.duration,
        created,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        registersPerSecond: created / result.duration,
        latencyP50Ms: result.latency.p50,
        latencyP99Ms: result.latency.p99,
        storedVersions: await storedVersions(server.url),
      }
      measured.push(repetition)
      context.log(
        `  rep ${rep}/${coldRepetitions}: ${Math.round(repetition.registersPerSecond).toLocaleString("en-US")} registers/s, ` +
          `p50 ${repetition.latencyP50Ms} ms, p99 ${repetition.latencyP99Ms} ms, non-2xx ${repetition.non2xx}, errors ${repetition.errors}`,
      )
    } finally {
      await server.stop()
      await scratch.release()
    }
  }
  return {
    connections: httpConnections,
    seconds: httpSeconds,
    warmupSeconds,
    repetitions: measured,
    median: {
      registersPerSecond: median(measured.map((rep) => rep.registersPerSecond)),
      latencyP50Ms: median(measured.map((rep) => rep.latencyP50Ms)),
      latencyP99Ms: median(measured.map((rep) => rep.latencyP99Ms)),
    },
  }
}
