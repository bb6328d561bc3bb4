/**
 * The real server in a child process, driven over HTTP: every endpoint, every error status, SSE resume with
 * Last-Event-ID across a restart, the token rules, the body limit, 200 concurrent clients, 50 concurrent promotes
 * of one model, path limits equal to the domain's, undecodable paths, and a clean SIGTERM.
 */
import { chmodSync, existsSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { HttpServer } from "@effect/platform"
import { SystemError } from "@effect/platform/Error"
import { NodePath } from "@effect/platform-node"
import { Context, Deferred, Effect, Exit, Layer, Option, Scope } from "effect"
import { describe, expect, it } from "vitest"
import * as Registry from "../../src/effects/ModelRegistry.ts"
import * as Server from "../../src/http/Server.ts"
import { layerChecksum, layerIds, layerProcessInfo } from "../../src/node.ts"
import { type FileHooks, layerWrapped } from "../support/wrapFileSystem.ts"
import { type HttpTarget, httpContract } from "./Http.contract.ts"
import { json, post, startServer, tempDir } from "./serverProcess.ts"

const errorOf = async (response: Response) => (await json(response)) as { error: Record<string, unknown> }

/** The CLI's server in a child process on a data directory; a restart is a SIGTERM, which must exit 0 and unlock. */
const nodeTarget: HttpTarget = {
  name: "Node server (model-registry serve)",
  start: async (options) => {
    const directory = tempDir("contract")
    const args = [
      "--token",
      options.token,
      ...(options.bodyBytesMax === undefined ? [] : ["--body-bytes-max", String(options.bodyBytesMax)]),
      ...(options.keepAliveMs === undefined ? [] : ["--keep-alive-ms", String(options.keepAliveMs)]),
    ]
    let server = await startServer(directory, { args })
    return {
      get url() {
        return server.url
      },
      restart: async () => {
        const stopped = await server.stop("SIGTERM")
        expect(stopped.code).toBe(0)
        expect(existsSync(join(directory, "LOCK"))).toBe(false)
        server = await startServer(directory, { args })
      },
      close: async () => {
        await server.stop("SIGKILL")
        rmSync(directory, { recursive: true, force: true })
      },
    }
  },
}

httpContract(nodeTarget)

describe("overload and storage failure statuses", () => {
  it("answers 429 Overloaded when the mailbox is full", async () => {
    const server = await startServer(tempDir("overload"), {
      args: ["--mailbox-commands-max", "1", "--batch-commands-max", "1"],
    })
    try {
      const responses = await Promise.all(
        Array.from({ length: 200 }, (_, i) => post(`${server.url}/models/busy/versions`, { version: `1.0.${i}` })),
      )
      const statuses = responses.map((r) => r.status)
      const overloaded = responses.filter((r) => r.status === 429)
      expect(overloaded.length).toBeGreaterThan(0)
      expect(statuses.every((s) => s === 201 || s === 429)).toBe(true)
      expect((await errorOf(overloaded[0]!)).error).toMatchObject({ tag: "Overloaded", capacity: 1 })
      console.log(`overload: ${statuses.filter((s) => s === 201).length} × 201, ${overloaded.length} × 429`)
      // SIGINT shuts down as cleanly as SIGTERM: exit 0, lock released.
      expect((await server.stop("SIGINT")).code).toBe(0)
      expect(existsSync(join(server.directory, "LOCK"))).toBe(false)
    } finally {
      await server.stop("SIGKILL")
    }
  })

  it("answers 503 StorageFailed when the disk refuses a write (RLIMIT_FSIZE → EFBIG)", async () => {
    const server = await startServer(tempDir("efbig"), { shellPrefix: "ulimit -f 192;" })
    try {
      const big = { pad: "x".repeat(60_000) }
      let failed: Response | undefined
      for (let i = 0; i < 10 && !failed; i++) {
        const response = await post(`${server.url}/models/big/versions`, { version: `1.0.${i}`, metrics: big })
        if (response.status !== 201) failed = response
      }
      expect(failed?.status).toBe(503)
      expect((await errorOf(failed!)).error.tag).toBe("StorageFailed")
    } finally {
      await server.stop("SIGKILL")
    }
  })
})

describe("a data directory removed under the running server", () => {
  it("fails stop with 503 StorageFailed (Removed) once noticed, and /healthz says so, instead of 201 into the void", async () => {
    const server = await startServer(tempDir("removed"))
    try {
      expect((await post(`${server.url}/models/gone/versions`, { version: "1.0.0" })).status).toBe(201)
      // Moved away in one step, then deleted: a recursive delete races the server's own writes into the directory
      // (ENOTEMPTY), while to the server a directory renamed away is as gone as a deleted one.
      const removed = `${server.directory}.removed`
      renameSync(server.directory, removed)
      rmSync(removed, { recursive: true, force: true, maxRetries: 20, retryDelay: 10 })
      // Registers taken before the watch notices are lost with the directory; the watch bounds that window, and
      // none may follow it. The attempts are bounded so that a server that never notices fails here, not by timeout.
      let first: Response | undefined
      let lost = 0
      for (let i = 1; i <= 200 && first === undefined; i++) {
        const response = await post(`${server.url}/models/gone/versions`, { version: `1.0.${i}` })
        if (response.status !== 201) first = response
        else {
          lost++
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }
      console.log(`removed data directory: ${lost} × 201 before the watch noticed, then 503`)
      expect(first?.status).toBe(503)
      expect((await errorOf(first!)).error.tag).toBe("StorageFailed")
      for (let i = 0; i < 5; i++) {
        const later = await post(`${server.url}/models/gone/versions`, { version: `2.0.${i}` })
        expect(later.status).toBe(503)
        expect((await errorOf(later)).error.tag).toBe("StorageFailed")
      }
      const health = await fetch(`${server.url}/healthz`)
      expect(health.status).toBe(503)
      expect((await errorOf(health)).error).toMatchObject({ tag: "StorageFailed", reason: "Removed" })
    } finally {
      await server.stop("SIGKILL")
    }
  })
})

/**
 * The server in this process over a registry whose file system fails on demand: a child process cannot be made to
 * fail an fsync, and only a failed fsync (or cut-back) fails the registry for good.
 */
const serveInProcess = async (directory: string, hooks: FileHooks) => {
  const scope = Effect.runSync(Scope.make())
  const registry = Registry.layerFileSystem({ directory }).pipe(
    Layer.provide(Layer.mergeAll(layerWrapped(hooks), NodePath.layer, layerChecksum, layerProcessInfo, layerIds)),
  )
  const settings = Layer.effect(
    Server.ServerSettings,
    Effect.map(Deferred.make<void>(), (stopping) => ({ bodyBytesMax: 1024 * 1024, keepAliveMs: 15_000, stopping })),
  )
  const options = { host: "127.0.0.1", port: 0, token: Option.none(), bodyBytesMax: 1024 * 1024, keepAliveMs: 15_000 }
  const context = await Effect.runPromise(
    Layer.buildWithScope(Server.layer(options).pipe(Layer.provide(settings), Layer.provide(registry)), scope),
  )
  return {
    url: Server.addressOf(Context.get(context, HttpServer.HttpServer).address),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
  }
}

describe("a failed registry", () => {
  it("answers /healthz with 503 and the reason, ends event streams with stream-error, and names no server path", async () => {
    const directory = tempDir("failed")
    let failSyncs = false
    const server = await serveInProcess(directory, {
      beforeSync: (path) =>
        failSyncs && path.endsWith(".seg")
          ? Effect.fail(
              new SystemError({
                module: "FileSystem",
                method: "sync",
                reason: "Unknown",
                description: `EIO: i/o error, fsync '${path}'`,
                pathOrDescriptor: path,
              }),
            )
          : Effect.void,
    })
    try {
      expect((await post(`${server.url}/models/m/versions`, { version: "1.0.0" })).status).toBe(201)
      const healthy = await fetch(`${server.url}/healthz`)
      expect(healthy.status).toBe(200)
      expect(await json(healthy)).toMatchObject({ status: "ok", lastSeq: 1 })

      failSyncs = true
      const failed = await post(`${server.url}/models/m/versions`, { version: "2.0.0" })
      expect(failed.status).toBe(503)
      const failedText = await failed.text()
      expect(JSON.parse(failedText).error).toMatchObject({
        tag: "StorageFailed",
        operation: "fsync",
        reason: "Unknown",
      })
      expect(failedText).not.toContain(directory)
      failSyncs = false // the disk "recovers"; the registry, rightly, does not until reopened

      const health = await fetch(`${server.url}/healthz`)
      expect(health.status).toBe(503)
      const healthText = await health.text()
      expect(JSON.parse(healthText).error).toMatchObject({ tag: "StorageFailed", reason: "Unknown" })
      expect(healthText).not.toContain(directory)
      const later = await post(`${server.url}/models/m/versions`, { version: "3.0.0" })
      expect(later.status).toBe(503)
      const laterText = await later.text()
      expect(JSON.parse(laterText).error).toMatchObject({ tag: "StorageFailed", operation: "fsync" })
      expect(laterText).not.toContain(directory)

      // An event stream ends with the failure under its own event name, never EventSource's `error`, and no path.
      const events = await fetch(`${server.url}/events?from=1`)
      expect(events.status).toBe(200)
      const eventsText = await events.text()
      expect(eventsText).toMatch(/^retry: \d+\n/)
      expect(eventsText).toContain('event: stream-error\ndata: {"error":{"tag":"StorageFailed"')
      expect(eventsText).not.toContain("event: error")
      expect(eventsText).not.toContain(directory)
    } finally {
      await server.close()
    }
  })
})

describe("token rules", () => {
  it("refuses to bind beyond loopback without a token", async () => {
    await expect(startServer(tempDir("open"), { args: ["--host", "0.0.0.0"] })).rejects.toThrow(
      /exited \(1\)[\s\S]*--token/,
    )
  })

  // What a token guards is the HTTP contract's (test/http/Http.contract.ts); this is how the CLI takes it.
  it("takes the token from MODEL_REGISTRY_TOKEN, which lets it bind beyond loopback", async () => {
    const server = await startServer(tempDir("token"), {
      args: ["--host", "0.0.0.0"],
      env: { MODEL_REGISTRY_TOKEN: "s3cret-token" },
    })
    try {
      const url = server.url.replace("0.0.0.0", "127.0.0.1")
      expect((await post(`${url}/models/m/versions`, { version: "1.0.0" })).status).toBe(401)
      const ok = await post(`${url}/models/m/versions`, { version: "1.0.0" }, { authorization: "Bearer s3cret-token" })
      expect(ok.status).toBe(201)
    } finally {
      await server.stop("SIGKILL")
    }
  })

  it("keeps the single-secret --token an admin named default, whose writes name it", async () => {
    const server = await startServer(tempDir("token-legacy"), { args: ["--token", "s3cret-token"] })
    try {
      const auth = { authorization: "Bearer s3cret-token" }
      expect((await post(`${server.url}/models/m/versions`, { version: "1.0.0" }, auth)).status).toBe(201)
      const promoted = await post(`${server.url}/models/m/versions/1.0.0/promote`, undefined, auth)
      expect(((await json(promoted)) as { event: unknown }).event).toMatchObject({ actor: "default" })
    } finally {
      await server.stop("SIGKILL")
    }
  })

  it("serves named tokens from flags and a tokens file, each with its role", async () => {
    const directory = tempDir("token-file")
    const file = join(directory, "..", `tokens-${Date.now()}`)
    writeFileSync(file, "# who may\n\nops:admin:ops-secret:with-colon\nreader:reader:r-secret\n", { mode: 0o600 })
    const server = await startServer(directory, {
      args: ["--host", "0.0.0.0", "--token", "ci:writer:ci-secret", "--tokens-file", file],
    })
    try {
      const url = server.url.replace("0.0.0.0", "127.0.0.1")
      const as = (secret: string) => ({ authorization: `Bearer ${secret}` })
      expect((await post(`${url}/models/m/versions`, { version: "1.0.0" }, as("r-secret"))).status).toBe(403)
      expect((await post(`${url}/models/m/versions`, { version: "1.0.0" }, as("ci-secret"))).status).toBe(201)
      const refused = await post(`${url}/models/m/versions/1.0.0/promote`, undefined, as("ci-secret"))
      expect(refused.status).toBe(403)
      expect((await errorOf(refused)).error).toMatchObject({ tag: "Forbidden", required: "admin", role: "writer" })
      const promoted = await post(`${url}/models/m/versions/1.0.0/promote`, undefined, as("ops-secret:with-colon"))
      expect(((await json(promoted)) as { event: unknown }).event).toMatchObject({ actor: "ops" })
      expect((await fetch(`${url}/models/m`, { headers: as("r-secret") })).status).toBe(200)
    } finally {
      await server.stop("SIGKILL")
    }
    chmodSync(file, 0o644)
    await expect(startServer(tempDir("token-file-open"), { args: ["--tokens-file", file] })).rejects.toThrow(
      /exited \(1\)[\s\S]*open to other users/,
    )
  })

  it("refuses a bad --token at startup, saying what is wrong", async () => {
    for (const [spec, said] of [
      ["ci:writr:secret", /roles are reader, writer, admin/],
      ["ci:writer", /NAME:ROLE:SECRET/],
      ["(unknown):admin:secret", /token name/],
      ["ci:writer:", /secret/],
    ] as const)
      await expect(startServer(tempDir("token-bad"), { args: ["--token", spec] })).rejects.toThrow(said)
    await expect(
      startServer(tempDir("token-twice"), { args: ["--token", "ci:writer:a", "--token", "ci:admin:b"] }),
    ).rejects.toThrow(/given twice/)
  })

  it("serves exactly the routes given with --public without the token", async () => {
    const closed = await startServer(tempDir("token-closed"), { args: ["--token", "s3cret-token", "--public", "none"] })
    const metrics = await startServer(tempDir("token-metrics"), {
      args: ["--token", "s3cret-token", "--public", "metrics"],
    })
    try {
      for (const path of ["/healthz", "/docs", "/openapi.json", "/metrics"])
        expect((await fetch(`${closed.url}${path}`)).status).toBe(401)
      expect((await fetch(`${metrics.url}/metrics`)).status).toBe(200)
      expect((await fetch(`${metrics.url}/healthz`)).status).toBe(401)
    } finally {
      await Promise.all([closed.stop("SIGKILL"), metrics.stop("SIGKILL")])
    }
  })
})
