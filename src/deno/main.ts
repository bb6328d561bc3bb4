/**
 * A runnable Deno server: the registry on a data directory (or Deno KV), served on `Deno.serve`. Prints one JSON
 * line, `{"url": "http://127.0.0.1:PORT"}`, once it listens, and stops cleanly on SIGINT or SIGTERM.
 *
 *   deno run --allow-net --allow-read=./data --allow-write=./data src/deno/main.ts --data=./data --port=8080
 *   deno run --allow-net --unstable-kv --allow-read=./data --allow-write=./data src/deno/main.ts --kv=./data/registry.kv
 *
 * `--allow-read=/proc` as well lets a restart after a crash take over the lock of a provably dead holder at once
 * instead of after the 5 s lease.
 *
 * Flags: `--data=DIR` (default `./data`), `--kv=FILE` (Deno KV instead of a data directory), `--port=N` (0: a free
 * one), `--hostname=H` (default 127.0.0.1), `--token=SECRET` (or MODEL_REGISTRY_TOKEN with `--allow-env`),
 * `--body-bytes-max=N`, `--keep-alive-ms=N`, `--drain-ms=N`. Read by hand: eight `--name=value` flags do not need
 * a parser, and Deno's own (`@std/cli`) is not an npm package this repository installs.
 */

import { layerFile, layerKv } from "../deno.ts"
import { type DenoNamespace, deno } from "./denoTypes.ts"
import { serve } from "./serve.ts"

const runtime: DenoNamespace = deno()

const flags = new Map<string, string>()
for (const argument of runtime.args) {
  const match = /^--([a-z-]+)=(.*)$/.exec(argument)
  if (match === null) {
    console.error(`unknown argument ${argument}: flags are --name=value`)
    runtime.exit(2)
  }
  flags.set(match[1]!, match[2]!)
}

const number = (name: string): number | undefined => {
  const text = flags.get(name)
  if (text === undefined) return undefined
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < 0) {
    console.error(`--${name} must be a non-negative integer, got ${text}`)
    runtime.exit(2)
  }
  return value
}

// Read only where granted: without `--allow-env`, Deno would otherwise prompt on a terminal.
const tokenFromEnvironment =
  runtime.permissions.querySync({ name: "env", variable: "MODEL_REGISTRY_TOKEN" }).state === "granted"
    ? runtime.env.get("MODEL_REGISTRY_TOKEN")
    : undefined
const token = flags.get("token") ?? tokenFromEnvironment
const bodyBytesMax = number("body-bytes-max")
const keepAliveMs = number("keep-alive-ms")
const drainMs = number("drain-ms")
const port = number("port")
const hostname = flags.get("hostname")
const kvPath = flags.get("kv")

const registry =
  kvPath === undefined ? layerFile({ directory: flags.get("data") ?? "./data" }) : layerKv({ path: kvPath })

const server = await serve(
  {
    ...(token === undefined ? {} : { token }),
    ...(bodyBytesMax === undefined ? {} : { bodyBytesMax }),
    ...(keepAliveMs === undefined ? {} : { keepAliveMs }),
    ...(drainMs === undefined ? {} : { drainMs }),
    ...(port === undefined ? {} : { port }),
    ...(hostname === undefined ? {} : { hostname }),
  },
  registry,
)
console.log(JSON.stringify({ url: server.url }))

let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  server.shutdown().then(
    () => runtime.exit(0),
    (error: unknown) => {
      console.error(error)
      runtime.exit(1)
    },
  )
}
runtime.addSignalListener("SIGINT", stop)
runtime.addSignalListener("SIGTERM", stop)
