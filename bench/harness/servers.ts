/**
 * The two HTTP servers the HTTP, SSE and cold-start scenarios start, each in its own process: the registry as
 * users run it (`npm start`, i.e. the built `dist/bin/model-registry.js serve`) and the bare `node:http`
 * reference (children/bareHttpServer.ts, bundled). Both print `{"event":"listening","url":…}` once bound.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"

const repository = fileURLToPath(new URL("../../", import.meta.url))
export const registryBin = join(repository, "dist", "bin", "model-registry.js")

const newestSourceMs = (): number => {
  let newest = statSync(join(repository, "package.json")).mtimeMs
  for (const entry of readdirSync(join(repository, "src"), { recursive: true, withFileTypes: true }))
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs)
  return newest
}

let built: boolean | undefined

/**
 * Runs the package build when dist/ is missing or older than any file in src/, so the server measured is the
 * code in this tree. Once per run; answers whether it had to build. The build (tsc + esbuild) takes ~20 s here,
 * which a fresh `npm ci` (its `prepare` builds) or an earlier run saves.
 */
export const ensureFreshDist = (log: (message: string) => void): boolean => {
  if (built !== undefined) return built
  built = !existsSync(registryBin) || statSync(registryBin).mtimeMs < newestSourceMs()
  if (built) {
    log("  dist/ is older than src/: node scripts/build.mjs")
    execFileSync(process.execPath, [join(repository, "scripts", "build.mjs")], { stdio: ["ignore", 2, 2] })
  }
  return built
}

/** Bundles the bare reference server into `directory` as one plain-JavaScript file and returns its path. */
export const bundleBareServer = async (directory: string): Promise<string> => {
  const outfile = join(directory, "bare-http-server.mjs")
  await esbuild.build({
    entryPoints: [fileURLToPath(new URL("../children/bareHttpServer.ts", import.meta.url))],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
  })
  return outfile
}

export interface Server {
  readonly url: string
  readonly pid: number
  stop(): Promise<void>
}

/** Spawns `node ...argv` and resolves once it prints its `listening` line. */
export const startListening = (argv: ReadonlyArray<string>): Promise<Server> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"] })
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

/**
 * Starts `model-registry serve --json` from dist/ on a free port. `nodeFlags` go to the server's node (e.g.
 * `--cpu-prof`), `args` to `serve`. Call `ensureFreshDist` first.
 */
export const startServer = (
  directory: string,
  options: { readonly nodeFlags?: ReadonlyArray<string>; readonly args?: ReadonlyArray<string> } = {},
): Promise<Server> =>
  startListening([
    ...(options.nodeFlags ?? []),
    registryBin,
    "serve",
    "--data",
    directory,
    "--port",
    "0",
    "--json",
    ...(options.args ?? []),
  ])

export const startBareServer = (bundle: string, directory: string): Promise<Server> =>
  startListening([bundle, directory])

/**
 * Starts `model-registry serve --postgres URL --schema SCHEMA --json` from dist/ on a free port. Call
 * `ensureFreshDist` first.
 */
export const startPostgresServer = (url: string, schema: string): Promise<Server> =>
  startListening([registryBin, "serve", "--postgres", url, "--schema", schema, "--port", "0", "--json"])
