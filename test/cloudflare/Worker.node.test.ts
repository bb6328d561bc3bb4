/**
 * The Worker entry (src/cloudflare.ts) in workerd, through Miniflare with persisted SQLite Durable Objects: the
 * HTTP contract every server of the API meets (test/http/Http.contract.ts), where a restart disposes workerd and
 * starts a new one on the same persisted storage; a registry that survives its object being evicted with every
 * acknowledged write; and the environment's configuration.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { type HttpTarget, httpContract } from "../http/Http.contract.ts"
import { baseUrl, startWorker } from "./support/miniflare.ts"

const entry = "src/cloudflare.ts"

const start = (persist: string, bindings: Record<string, string>, from = entry) =>
  startWorker({ entry: from, durableObjects: { REGISTRY: "RegistryObject" }, persist, bindings })

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

describe("a registry in a Durable Object", () => {
  const token = "worker-token"
  const auth = { authorization: `Bearer ${token}` }
  const request = (url: string, path: string, method = "GET", body?: unknown) =>
    fetch(`${url}${path}`, {
      method,
      // Every write is JSON, body or not (the edge refuses another content type on a write).
      headers: { ...auth, ...(method === "GET" ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })

  it("keeps every acknowledged write, its lifecycle and its aliases when its object is evicted", async () => {
    const persist = mkdtempSync(join(tmpdir(), "worker-eviction-"))
    // Snapshots every 40 records or so, so the reopened registry recovers from a snapshot plus the log after it.
    const bindings = {
      MODEL_REGISTRY_TOKEN: token,
      MODEL_REGISTRY_LIFECYCLE: "mlflow-stages",
      MODEL_REGISTRY_SNAPSHOT_THRESHOLD_RECORDS: "40",
    }
    try {
      let worker = await start(persist, bindings)
      let url = await baseUrl(worker)
      // Concurrent writes, each counted only once its 201 (or 200) came back.
      const models = ["ranker", "tagger", "scorer", "parser"]
      const versionsPerModel = 40
      const acknowledged = new Map<string, string>()
      await Promise.all(
        models.flatMap((model) =>
          Array.from({ length: versionsPerModel }, async (_, i) => {
            const response = await request(url, `/models/${model}/versions`, "POST", { version: `1.${i}.0` })
            expect(response.status).toBe(201)
            const body = (await response.json()) as { id: string }
            acknowledged.set(`${model}@1.${i}.0`, body.id)
          }),
        ),
      )
      for (const model of models) {
        expect((await request(url, `/models/${model}/versions/1.3.0/transitions/stage`, "POST")).status).toBe(200)
        expect((await request(url, `/models/${model}/versions/1.7.0/transitions/promote`, "POST")).status).toBe(200)
        expect((await request(url, `/models/${model}/aliases/champion`, "PUT", { version: "1.3.0" })).status).toBe(200)
      }
      expect(acknowledged.size).toBe(models.length * versionsPerModel)
      const compactions = (text: string) => Number(/^registry_compactions_total (\d+)$/m.exec(text)?.[1])
      expect(compactions(await (await request(url, "/metrics")).text())).toBeGreaterThan(0)

      // Eviction: workerd goes away with the object's instance and its memory; only the persisted storage stays.
      await worker.dispose()
      worker = await start(persist, bindings)
      url = await baseUrl(worker)
      for (const model of models) {
        const listed = (await (await request(url, `/models/${model}/versions`)).json()) as Array<{
          version: string
          id: string
          state: string
        }>
        expect(listed).toHaveLength(versionsPerModel)
        for (const v of listed) expect(v.id).toBe(acknowledged.get(`${model}@${v.version}`))
        const states = Object.fromEntries(listed.map((v) => [v.version, v.state]))
        expect(states["1.3.0"]).toBe("staging")
        expect(states["1.7.0"]).toBe("production")
        expect(states["1.0.0"]).toBe("none")
        const champion = (await (await request(url, `/models/${model}/aliases/champion`)).json()) as { version: string }
        expect(champion.version).toBe("1.3.0")
      }
      const lifecycle = (await (await request(url, "/lifecycle")).json()) as { name: string }
      expect(lifecycle.name).toBe("mlflow-stages")

      // The log recorded its lifecycle: an instance configured with another refuses to open it.
      await worker.dispose()
      worker = await start(persist, { MODEL_REGISTRY_TOKEN: token })
      url = await baseUrl(worker)
      const refused = await request(url, "/models")
      expect(refused.status).toBe(500)
      expect(((await refused.json()) as { error: { tag: string } }).error.tag).toBe("LifecycleMismatch")
      await worker.dispose()
    } finally {
      rmSync(persist, { recursive: true, force: true })
    }
  })

  it("routes each REGISTRY_NAME to its own object, and answers every request with the error when its environment is refused", async () => {
    const persist = mkdtempSync(join(tmpdir(), "worker-names-"))
    try {
      let worker = await start(persist, { MODEL_REGISTRY_TOKEN: token, REGISTRY_NAME: "a" })
      expect(
        (await request(await baseUrl(worker), "/models/only-in-a/versions", "POST", { version: "1.0.0" })).status,
      ).toBe(201)
      await worker.dispose()
      worker = await start(persist, { MODEL_REGISTRY_TOKEN: token, REGISTRY_NAME: "b" })
      expect((await request(await baseUrl(worker), "/models/only-in-a")).status).toBe(404)
      await worker.dispose()
      worker = await start(persist, { MODEL_REGISTRY_TOKEN: token, REGISTRY_NAME: "a" })
      expect((await request(await baseUrl(worker), "/models/only-in-a")).status).toBe(200)
      await worker.dispose()

      // The environment's every refusal is test/cloudflare/RegistryEnv.test.ts; here, that the object answers it.
      worker = await start(persist, { MODEL_REGISTRY_LIFECYCLE: "mlflow-stages" })
      const refused = await request(await baseUrl(worker), "/healthz")
      expect(refused.status).toBe(400)
      expect(((await refused.json()) as { error: Record<string, unknown> }).error).toMatchObject({
        tag: "InvalidInput",
        field: "token",
      })
      await worker.dispose()
    } finally {
      rmSync(persist, { recursive: true, force: true })
    }
  })

  // The package's `./cloudflare` export: tsc's output (built by the suite's global setup), `cloudflare:workers` left
  // to the runtime, bundled as wrangler bundles an app that imports it.
  it("runs from the build (dist/cloudflare.js) as from the source", async () => {
    const persist = mkdtempSync(join(tmpdir(), "worker-dist-"))
    try {
      const worker = await start(persist, { MODEL_REGISTRY_TOKEN: token }, "dist/cloudflare.js")
      const url = await baseUrl(worker)
      expect((await request(url, "/models/built/versions", "POST", { version: "1.0.0" })).status).toBe(201)
      expect(((await (await request(url, "/models/built/versions/1.0.0")).json()) as { version: string }).version).toBe(
        "1.0.0",
      )
      await worker.dispose()
    } finally {
      rmSync(persist, { recursive: true, force: true })
    }
  })
})
