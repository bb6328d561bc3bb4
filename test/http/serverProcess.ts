/**
 * Runs `model-registry` as a real child process (the built CLI, as `npm start` and the package's bin run it; the
 * global setup builds it when a source is newer) and talks to it over HTTP. Shared by the HTTP, crash and CLI suites.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const binPath = fileURLToPath(new URL("../../dist/bin/model-registry.js", import.meta.url))

export const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), `mr-${prefix}-`))

export interface RunResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Starts the CLI: what it has printed so far, and its outcome once it has exited. */
export const spawnCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const child = spawn(process.execPath, [binPath, ...args], { env: { ...process.env, ...env } })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString()
  })
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString()
  })
  const closed = new Promise<RunResult>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return { child, stdout: () => stdout, stderr: () => stderr, closed }
}

/** Runs the CLI to completion. */
export const runCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<RunResult> =>
  spawnCli(args, env).closed

export interface ServerProcess {
  readonly url: string
  readonly directory: string
  readonly child: ChildProcess
  readonly output: () => string
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly stop: (signal?: NodeJS.Signals) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export interface StartOptions {
  readonly args?: ReadonlyArray<string>
  readonly env?: Record<string, string>
  /** A shell prefix such as `ulimit -f 256;` run before exec'ing the server. */
  readonly shellPrefix?: string
}

/** Starts `serve --json` (on a free port unless `--port` is given) and resolves once it printed the address it bound. */
export const startServer = (directory: string, options: StartOptions = {}): Promise<ServerProcess> => {
  const given = options.args ?? []
  // A test's fetch keeps idle keep-alive sockets open, which a stopping server waits for up to its drain time (5 s by default).
  const drain = given.includes("--drain-ms") ? [] : ["--drain-ms", "500"]
  const port = given.includes("--port") ? [] : ["--port", "0"]
  const args = ["serve", "--data", directory, ...port, "--json", ...drain, ...given]
  const env = { ...process.env, ...options.env }
  const child = options.shellPrefix
    ? spawn("bash", ["-c", `${options.shellPrefix} exec "$0" "$@"`, process.execPath, binPath, ...args], { env })
    : spawn(process.execPath, [binPath, ...args], { env })
  let output = ""
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  )
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString()
      const match = /\{"event":"listening","url":"([^"]+)"/.exec(output)
      if (match)
        resolve({
          url: match[1]!,
          directory,
          child,
          output: () => output,
          exited,
          stop: (signal = "SIGTERM") => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal)
            return exited
          },
        })
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", (d: Buffer) => {
      output += d.toString()
    })
    void exited.then(({ code, signal }) =>
      reject(new Error(`server exited (${code ?? signal}) before listening:\n${output}`)),
    )
  })
}

export const json = async (response: Response): Promise<unknown> => JSON.parse(await response.text())

export const post = (url: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })

/** mulberry32: a seeded PRNG, so a failing crash run can be replayed from its printed seed. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
