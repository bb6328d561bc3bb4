/**
 * The HTTP contract against `Deno.serve`: the Deno entry (src/deno/main.ts) in a `deno run` subprocess, with only
 * the permissions its README command grants, over a temp data directory and over a Deno KV database file. Spawned
 * from Node because vitest's workers under Deno cannot run the contract's `node:http` client against a child.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { expect } from "vitest"
import { type HttpTarget, httpContract, type TargetOptions } from "../http/Http.contract.ts"

const root = fileURLToPath(new URL("../..", import.meta.url))
const denoBin = join(root, "node_modules", ".bin", "deno")

interface DenoProcess {
  readonly url: string
  readonly stop: (signal: NodeJS.Signals) => Promise<number | null>
}

/** Starts the entry and resolves once it printed the address it bound. */
const startDeno = (directory: string, storage: "file" | "kv", options: TargetOptions): Promise<DenoProcess> => {
  const args = [
    "run",
    "--allow-net",
    `--allow-read=${directory}`,
    `--allow-write=${directory}`,
    ...(storage === "kv" ? ["--unstable-kv"] : []),
    "src/deno/main.ts",
    storage === "kv" ? `--kv=${join(directory, "registry.kv")}` : `--data=${directory}`,
    "--port=0",
    // A test's fetch keeps idle keep-alive sockets open, as for the Node server's suite (test/http/serverProcess.ts).
    "--drain-ms=500",
    `--token=${options.token}`,
    ...(options.bodyBytesMax === undefined ? [] : [`--body-bytes-max=${options.bodyBytesMax}`]),
    ...(options.keepAliveMs === undefined ? [] : [`--keep-alive-ms=${options.keepAliveMs}`]),
  ]
  const child: ChildProcess = spawn(denoBin, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  let output = ""
  return new Promise((resolve, reject) => {
    const onData = (data: Buffer) => {
      output += data.toString()
      const match = /\{"url":"([^"]+)"\}/.exec(output)
      if (match !== null)
        resolve({
          url: match[1]!,
          stop: (signal) => {
            child.kill(signal)
            return exited
          },
        })
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    void exited.then((code) => reject(new Error(`deno exited (${code}) before listening:\n${output}`)))
  })
}

const denoTarget = (storage: "file" | "kv"): HttpTarget => ({
  name: `Deno.serve on ${storage === "kv" ? "Deno KV" : "a data directory"}`,
  start: async (options) => {
    const directory = mkdtempSync(join(tmpdir(), "mr-deno-serve-"))
    let server = await startDeno(directory, storage, options)
    return {
      get url() {
        return server.url
      },
      restart: async () => {
        expect(await server.stop("SIGTERM")).toBe(0)
        if (storage === "file") expect(existsSync(join(directory, "LOCK"))).toBe(false)
        server = await startDeno(directory, storage, options)
      },
      close: async () => {
        await server.stop("SIGKILL")
        rmSync(directory, { recursive: true, force: true })
      },
    }
  },
})

httpContract(denoTarget("file"))
httpContract(denoTarget("kv"))
