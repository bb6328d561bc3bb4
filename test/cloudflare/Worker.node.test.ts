/**
 * The Worker entry (src/cloudflare.ts) in workerd, through Miniflare with persisted SQLite Durable Objects: the
 * HTTP contract every server of the API meets (test/http/Http.contract.ts), where a restart disposes workerd and
 * starts a new one on the same persisted storage; a registry that survives its object being evicted with every
 * acknowledged write; and the environment's configuration.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type HttpTarget, httpContract } from "../http/Http.contract.ts"
import { baseUrl, startWorker } from "./support/miniflare.ts"

const entry = "src/cloudflare.ts"

const start = (persist: string, bindings: Record<string, string>) =>
  startWorker({ entry, durableObjects: { REGISTRY: "RegistryObject" }, persist, bindings })

const workerTarget: HttpTarget = {
  name: "Worker in workerd (Miniflare, SQLite Durable Object)",
  start: async (options) => {
    const persist = mkdtempSync(join(tmpdir(), "worker-contract-"))
    const bindings = {
      MODEL_REGISTRY_TOKEN: options.token,
      ...(options.bodyBytesMax === undefined ? {} : { MODEL_REGISTRY_BODY_BYTES_MAX: String(options.bodyBytesMax) }),
      ...(options.keepAliveMs === undefined ? {} : { MODEL_REGISTRY_KEEP_ALIVE_MS: String(options.keepAliveMs) }),
    }
    let worker = await start(persist, bindings)
    let url = await baseUrl(worker)
    return {
      get url() {
        return url
      },
      restart: async () => {
        await worker.dispose()
        worker = await start(persist, bindings)
        url = await baseUrl(worker)
      },
      close: async () => {
        await worker.dispose()
        rmSync(persist, { recursive: true, force: true })
      },
    }
  },
}

httpContract(workerTarget)
