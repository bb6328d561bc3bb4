/**
 * Cold start: how long a user waits for the CLI, beside what Node alone costs on the same machine in the same
 * run. Four measures, each a fresh process, in turn within every repetition after one discarded pass (which
 * brings the files into the page cache, as on any machine that ran them before):
 *
 * - `node dist/bin/model-registry.js --version`, spawn to exit, against `node -e 0`;
 * - `model-registry serve` on an empty fresh directory, spawn to the first 200 from `GET /healthz`, against the
 *   bare `node:http` reference server (children/bareHttpServer.ts, bundled) to its first answer.
 */
import { spawn } from "node:child_process"
import { get } from "node:http"
import type { RunContext } from "../harness/context.ts"
import { bundleBareServer, ensureFreshDist, registryBin, startBareServer, startServer } from "../harness/servers.ts"
import { median } from "../harness/stats.ts"

export type ColdStartMeasure = "node -e 0" | "model-registry --version" | "bare server" | "model-registry serve"

const measures: ReadonlyArray<ColdStartMeasure> = [
  "node -e 0",
  "model-registry --version",
  "bare server",
  "model-registry serve",
]

export interface ColdStartCell {
  readonly measure: ColdStartMeasure
  readonly repetitionsMs: ReadonlyArray<number>
  readonly medianMs: number
}

export interface ColdStartResult {
  readonly cells: ReadonlyArray<ColdStartCell>
  /** `--version` over `node -e 0`, and `serve` over the bare server, of the medians. */
  readonly versionRatio: number
  readonly serveRatio: number
}

const exitMs = (argv: ReadonlyArray<string>): Promise<number> =>
  new Promise((resolve, reject) => {
    const spawnedAt = performance.now()
    const child = spawn(process.execPath, argv, { stdio: "ignore" })
    child.once("error", reject)
    child.once("exit", (code, signal) => {
      if (code === 0) resolve(performance.now() - spawnedAt)
      else reject(new Error(`node ${argv.join(" ")} exited with ${code ?? signal}`))
    })
  })

const healthzStatus = (url: string): Promise<number> =>
  new Promise((resolve) => {
    // A fresh connection, as a supervisor's probe would make; node:http rather than fetch, whose first call
    // loads undici and would bill that to whichever measure probes first.
    get(`${url}/healthz`, { agent: false }, (response) => {
      response.resume()
      response.once("end", () => resolve(response.statusCode ?? 0))
    }).once("error", () => resolve(0))
  })

const pollIntervalMs = 2

/** From spawn to the first 200 from `/healthz`: the `listening` line, then probes until one succeeds. */
const firstAnswerMs = async (launch: () => ReturnType<typeof startServer>): Promise<number> => {
  const spawnedAt = performance.now()
  const server = await launch()
  try {
    while ((await healthzStatus(server.url)) !== 200)
      await new Promise((resolve) => setTimeout(resolve, pollIntervalMs))
    return performance.now() - spawnedAt
  } finally {
    await server.stop()
  }
}

export const runColdStart = async (context: RunContext, repetitions: number): Promise<ColdStartResult> => {
  ensureFreshDist(context.log)
  const bundleDirectory = await context.scratch("bare-bundle")
  const bareBundle = await bundleBareServer(bundleDirectory.path)
  const inFreshDirectory = async (label: string, measure: (directory: string) => Promise<number>) => {
    const scratch = await context.scratch(label)
    try {
      return await measure(scratch.path)
    } finally {
      await scratch.release()
    }
  }
  const once = (measure: ColdStartMeasure): Promise<number> => {
    switch (measure) {
      case "node -e 0":
        return exitMs(["-e", "0"])
      case "model-registry --version":
        return exitMs([registryBin, "--version"])
      case "bare server":
        return inFreshDirectory("cold-bare", (directory) => firstAnswerMs(() => startBareServer(bareBundle, directory)))
      case "model-registry serve":
        return inFreshDirectory("cold-serve", (directory) => firstAnswerMs(() => startServer(directory)))
    }
  }
  const samples = new Map<ColdStartMeasure, Array<number>>(measures.map((measure) => [measure, []]))
  try {
    for (const measure of measures) await once(measure)
    for (let rep = 1; rep <= repetitions; rep++) {
      const line: Array<string> = []
      for (const measure of measures) {
        const ms = await once(measure)
        samples.get(measure)!.push(ms)
        line.push(`${measure} ${Math.round(ms)} ms`)
      }
      context.log(`  rep ${rep}/${repetitions}: ${line.join(", ")}`)
    }
  } finally {
    await bundleDirectory.release()
  }
  const cells = measures.map((measure) => {
    const repetitionsMs = samples.get(measure)!
    return { measure, repetitionsMs, medianMs: median(repetitionsMs) }
  })
  const medianOf = (measure: ColdStartMeasure) => cells.find((cell) => cell.measure === measure)!.medianMs
  return {
    cells,
    versionRatio: medianOf("model-registry --version") / medianOf("node -e 0"),
    serveRatio: medianOf("model-registry serve") / medianOf("bare server"),
  }
}
