/**
 * The real server in a child process, driven over HTTP: every endpoint, every error status, SSE resume with
 * Last-Event-ID across a restart, the token rules, the body limit, 200 concurrent clients, 50 concurrent promotes
 * of one model, path limits equal to the domain's, undecodable paths, and a clean SIGTERM.
 */
import { chmodSync, existsSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { request as httpRequest } from "node:http"
import { join } from "node:path"
import { HttpServer } from "@effect/platform"
import { SystemError } from "@effect/platform/Error"
import { NodePath } from "@effect/platform-node"
import { Context, Deferred, Effect, Exit, Layer, Option, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { modelNameLengthMax, semVerLengthMax } from "../../src/domain/index.ts"
import * as Registry from "../../src/effects/ModelRegistry.ts"
import * as Server from "../../src/http/Server.ts"
import { layerChecksum, layerIds, layerProcessInfo } from "../../src/node.ts"
import { type FileHooks, layerWrapped } from "../support/wrapFileSystem.ts"
import { json, post, type ServerProcess, startServer, tempDir } from "./serverProcess.ts"

interface SseEvent {
  readonly id: string
  readonly event: string
  readonly data: unknown
}

/** Reads `count` events from /events, then disconnects. */
const readEvents = async (
  url: string,
  count: number,
  headers: Record<string, string> = {},
): Promise<Array<SseEvent>> => {
  const controller = new AbortController()
  const response = await fetch(url, { headers, signal: controller.signal })
  expect(response.status).toBe(200)
  expect(response.headers.get("content-type")).toContain("text/event-stream")
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  const events: Array<SseEvent> = []
  let buffer = ""
  while (events.length < count) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += value
    let end = buffer.indexOf("\n\n")
    while (end !== -1) {
      const frame = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const fields = Object.fromEntries(
        frame
          .split("\n")
          .filter((line) => !line.startsWith(":") && line.includes(":"))
          .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim()]),
      )
      if (fields.data !== undefined)
        events.push({ id: fields.id ?? "", event: fields.event ?? "message", data: JSON.parse(fields.data) })
      end = buffer.indexOf("\n\n")
    }
  }
  controller.abort()
  return events.slice(0, count)
}

const errorOf = async (response: Response) => (await json(response)) as { error: Record<string, unknown> }

describe("HTTP API against the real server", () => {
  const directory = tempDir("http")
  let server: ServerProcess
  let base: string

  beforeAll(async () => {
    server = await startServer(directory, { args: ["--body-bytes-max", "4096", "--keep-alive-ms", "200"] })
    base = server.url
  })
  afterAll(async () => {
    await server?.stop("SIGKILL")
  })

  it("registers (201), repeats idempotently (200), conflicts (409), and reads back", async () => {
    const body = { version: "1.2.0", metrics: { accuracy: 0.91 }, tags: { team: "vision" } }
    const created = await post(`${base}/models/resnet/versions`, body)
    expect(created.status).toBe(201)
    const version = (await json(created)) as Record<string, unknown>
    expect(version).toMatchObject({
      name: "resnet",
      version: "1.2.0",
      state: "registered",
      metrics: { accuracy: 0.91 },
    })

    const repeat = await post(`${base}/models/resnet/versions`, {
      ...body,
      id: version.id,
      createdAt: version.createdAt,
    })
    expect(repeat.status).toBe(200)
    expect(await json(repeat)).toEqual(version)

    const conflict = await post(`${base}/models/resnet/versions`, { ...body, metrics: { accuracy: 0.5 } })
    expect(conflict.status).toBe(409)
    expect((await errorOf(conflict)).error).toMatchObject({ tag: "VersionConflict", name: "resnet", version: "1.2.0" })

    for (const v of ["1.10.0", "1.9.0", "2.0.0-rc.1"])
      expect((await post(`${base}/models/resnet/versions`, { version: v })).status).toBe(201)
    const versions = (await json(await fetch(`${base}/models/resnet/versions`))) as Array<{ version: string }>
    expect(versions.map((v) => v.version)).toEqual(["1.2.0", "1.9.0", "1.10.0", "2.0.0-rc.1"])

    const one = await fetch(`${base}/models/resnet/versions/1.2.0`)
    expect(one.status).toBe(200)
    expect(await json(one)).toEqual(version)
  })

  it("promotes and deprecates, answering with the recorded event", async () => {
    const first = await post(`${base}/models/resnet/versions/1.9.0/promote`)
    expect(first.status).toBe(200)
    expect(await json(first)).toMatchObject({ event: { _tag: "Promoted", version: "1.9.0", supersedes: null } })
    const second = await post(`${base}/models/resnet/versions/1.10.0/promote`)
    expect(await json(second)).toMatchObject({
      version: { version: "1.10.0", state: "production" },
      event: { _tag: "Promoted", supersedes: "1.9.0" },
    })
    const again = await post(`${base}/models/resnet/versions/1.10.0/promote`)
    expect(again.status).toBe(200)
    expect(await json(again)).toMatchObject({ event: null })
    const deprecated = await post(`${base}/models/resnet/versions/1.2.0/deprecate`)
    expect(await json(deprecated)).toMatchObject({ event: { _tag: "Deprecated", version: "1.2.0" } })

    const model = (await json(await fetch(`${base}/models/resnet`))) as Record<string, unknown>
    expect(model).toMatchObject({ name: "resnet", production: { version: "1.10.0" } })
    const models = (await json(await fetch(`${base}/models`))) as Array<Record<string, unknown>>
    expect(models).toContainEqual({
      name: "resnet",
      production: "1.10.0",
      versionCount: 4,
      latest: "2.0.0-rc.1",
      holders: { production: "1.10.0" },
      aliases: {},
      tags: {},
      archived: false,
    })
  })

  it("answers every client error with the error body and the right status, never a 500", async () => {
    const cases: Array<[string, Promise<Response>, number, string]> = [
      [
        "malformed JSON",
        fetch(`${base}/models/m/versions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{",
        }),
        400,
        "InvalidInput",
      ],
      ["body not an object", post(`${base}/models/m/versions`, [1, 2]), 400, "InvalidInput"],
      [
        "invalid UTF-8",
        fetch(`${base}/models/m/versions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: new Uint8Array([0x7b, 0xff, 0x7d]),
        }),
        400,
        "InvalidInput",
      ],
      ["bad semver", post(`${base}/models/m/versions`, { version: "1.0" }), 400, "InvalidInput"],
      ["unknown field", post(`${base}/models/m/versions`, { version: "1.0.0", metric: {} }), 400, "InvalidInput"],
      [
        "__proto__ key",
        fetch(`${base}/models/m/versions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: '{"version":"1.0.0","__proto__":{"x":1}}',
        }),
        400,
        "InvalidInput",
      ],
      ["encoded slash in name", post(`${base}/models/a%2Fb/versions`, { version: "1.0.0" }), 400, "InvalidInput"],
      ["bad version in path", fetch(`${base}/models/resnet/versions/not-semver`), 400, "InvalidInput"],
      ["bad from", fetch(`${base}/events?from=-3`), 400, "InvalidInput"],
      ["bad Last-Event-ID", fetch(`${base}/events`, { headers: { "last-event-id": "x" } }), 400, "InvalidInput"],
      [
        "wrong content type",
        fetch(`${base}/models/m/versions`, {
          method: "POST",
          headers: { "content-type": "text/plain" },
          body: '{"version":"1.0.0"}',
        }),
        415,
        "UnsupportedMediaType",
      ],
      ["slash in name", post(`${base}/models/a/b/versions`, { version: "1.0.0" }), 404, "RouteNotFound"],
      ["unknown route", fetch(`${base}/nothing`), 404, "RouteNotFound"],
      ["unknown model", fetch(`${base}/models/ghost`), 404, "ModelNotFound"],
      ["unknown model versions", fetch(`${base}/models/ghost/versions`), 404, "ModelNotFound"],
      ["unknown version", fetch(`${base}/models/resnet/versions/9.9.9`), 404, "VersionNotFound"],
      ["promote unknown", post(`${base}/models/resnet/versions/9.9.9/promote`), 404, "VersionNotFound"],
      ["deprecate unknown model", post(`${base}/models/ghost/versions/1.0.0/deprecate`), 404, "ModelNotFound"],
      ["promote deprecated", post(`${base}/models/resnet/versions/1.2.0/promote`), 409, "InvalidTransition"],
      [
        "body over limit (content-length)",
        post(`${base}/models/m/versions`, { version: "1.0.0", metrics: { pad: "x".repeat(5000) } }),
        413,
        "PayloadTooLarge",
      ],
    ]
    for (const [label, pending, status, tag] of cases) {
      const response = await pending
      const text = await response.text()
      expect({ label, status: response.status }).toEqual({ label, status })
      const body = JSON.parse(text) as { error: { tag: string; message: string } }
      expect({ label, tag: body.error.tag }).toEqual({ label, tag })
      expect(typeof body.error.message).toBe("string")
      expect(text).not.toMatch(/\bat .*\.ts:\d+/)
    }
  })

  it("refuses a chunked body over the limit with 413", async () => {
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        const piece = new TextEncoder().encode(" ".repeat(1024))
        controller.enqueue(new TextEncoder().encode('{"version":"3.0.0",'))
        for (let i = 0; i < 8; i++) controller.enqueue(piece)
        controller.enqueue(new TextEncoder().encode("}"))
        controller.close()
      },
    })
    const response = await fetch(`${base}/models/chunked/versions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chunks,
      duplex: "half",
    } as RequestInit)
    expect(response.status).toBe(413)
    expect((await errorOf(response)).error.tag).toBe("PayloadTooLarge")
  })

  it("answers a 50 MB chunked body with 413 and the error body, not a connection reset", async () => {
    const outcome = await new Promise<{ status: number; body: string } | Error>((resolve) => {
      const { hostname, port } = new URL(base)
      const request = httpRequest({
        host: hostname,
        port,
        method: "POST",
        path: "/models/huge/versions",
        headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
      })
      request.on("error", resolve)
      request.on("response", (response) => {
        let body = ""
        response.setEncoding("utf8")
        response.on("data", (d: string) => {
          body += d
        })
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }))
        response.on("error", resolve)
      })
      const piece = new Uint8Array(1024 * 1024).fill(0x20)
      let sent = 0
      const pump = () => {
        while (sent < 50) {
          sent++
          if (!request.write(piece)) return void request.once("drain", pump)
        }
        request.end()
      }
      request.write('{"version":"1.0.0","metrics":{"pad":"')
      pump()
    })
    expect(outcome).not.toBeInstanceOf(Error)
    const { status, body } = outcome as { status: number; body: string }
    expect(status).toBe(413)
    expect((JSON.parse(body) as { error: { tag: string } }).error.tag).toBe("PayloadTooLarge")
  })

  it("serves health, Prometheus metrics, OpenAPI and Swagger UI", async () => {
    expect(await json(await fetch(`${base}/healthz`))).toMatchObject({ status: "ok" })
    const metrics = await (await fetch(`${base}/metrics`)).text()
    for (const series of [
      "registry_mailbox_depth",
      "registry_last_seq",
      'http_requests_total{method="POST",route="/models/{name}/versions",status="201"}',
      'http_requests_total{method="POST",route="/models/{name}/versions/{version}/promote",status="200"}',
      'http_requests_total{method="GET",route="/models/{name}/versions/{version}",status="404"}',
      'http_requests_total{method="GET",route="other",status="404"}',
      "http_request_duration_seconds_bucket",
      'registry_events_total{type="Registered"}',
      'registry_observer_lag{observer="metrics"}',
      "registry_wal_append_seconds_bucket",
    ])
      expect(metrics).toContain(series)
    const openapi = (await json(await fetch(`${base}/openapi.json`))) as {
      openapi: string
      paths: Record<string, unknown>
    }
    expect(openapi.openapi).toMatch(/^3\./)
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining([
        "/models",
        "/models/{name}",
        "/models/{name}/versions",
        "/models/{name}/versions/{version}",
        "/models/{name}/versions/{version}/promote",
        "/models/{name}/versions/{version}/deprecate",
        "/events",
        "/healthz",
        "/metrics",
      ]),
    )
    const docs = await fetch(`${base}/docs`)
    expect(docs.status).toBe(200)
    expect(await docs.text()).toContain("swagger")
  })

  it("handles 200 concurrent clients registering and promoting", async () => {
    const clients = Array.from({ length: 200 }, (_, i) => i)
    const registered = await Promise.all(
      clients.map((i) => post(`${base}/models/fleet-${i % 10}/versions`, { version: `1.0.${i}` })),
    )
    expect(registered.map((r) => r.status)).toEqual(clients.map(() => 201))
    const promoted = await Promise.all(
      clients.map((i) => post(`${base}/models/fleet-${i % 10}/versions/1.0.${i}/promote`)),
    )
    expect(promoted.map((r) => r.status)).toEqual(clients.map(() => 200))
    for (let m = 0; m < 10; m++) {
      const versions = (await json(await fetch(`${base}/models/fleet-${m}/versions`))) as Array<{ state: string }>
      expect(versions).toHaveLength(20)
      expect(versions.filter((v) => v.state === "production")).toHaveLength(1)
    }
    console.log(
      `concurrency: 200 registrations → 201, 200 promotions → 200, 10 models with exactly one production version`,
    )
  })

  it("answers 50 concurrent promotes of one model each with its own version in production", async () => {
    const model = `${base}/models/contested`
    const versions = Array.from({ length: 50 }, (_, i) => `1.0.${i}`)
    for (const version of versions) expect((await post(`${model}/versions`, { version })).status).toBe(201)
    const responses = await Promise.all(versions.map((version) => post(`${model}/versions/${version}/promote`)))
    interface Promoted {
      readonly version: { readonly version: string; readonly state: string }
      readonly event: { readonly _tag: string; readonly seq: number; readonly supersedes: string | null }
    }
    const answers = await Promise.all(
      responses.map(async (response, i) => ({
        asked: versions[i]!,
        status: response.status,
        body: await json(response),
      })),
    )
    for (const { asked, status, body } of answers)
      expect({ asked, status, body }).toEqual({
        asked,
        status: 200,
        body: {
          version: expect.objectContaining({ version: asked, state: "production" }),
          event: expect.objectContaining({ _tag: "Promoted", version: asked }),
        },
      })
    // In commit order each promotion supersedes the one before it, and the last one is what stays in production.
    const inOrder = answers.map(({ body }) => body as Promoted).sort((a, b) => a.event.seq - b.event.seq)
    expect(inOrder.map((answer) => answer.event.supersedes)).toEqual([
      null,
      ...inOrder.slice(0, -1).map((answer) => answer.version.version),
    ])
    const final = (await json(await fetch(`${model}/versions`))) as Array<{ version: string; state: string }>
    expect(final.filter((v) => v.state === "production").map((v) => v.version)).toEqual([
      inOrder.at(-1)!.version.version,
    ])
  })

  it("streams events as SSE and resumes with Last-Event-ID across a restart", async () => {
    const all = await readEvents(`${base}/events?from=1`, 3)
    expect(all.map((e) => e.id)).toEqual(["1", "2", "3"])
    expect(all[0]).toMatchObject({ event: "Registered", data: { _tag: "Registered", seq: 1 } })

    // A live subscriber sees a write made after it connected.
    const live = readEvents(`${base}/events`, 1)
    await new Promise((r) => setTimeout(r, 300))
    await post(`${base}/models/live/versions`, { version: "1.0.0" })
    expect((await live)[0]).toMatchObject({ event: "Registered", data: { metadata: { name: "live" } } })

    const health = (await json(await fetch(`${base}/healthz`))) as { lastSeq: number }
    const lastSeen = health.lastSeq
    const stopped = await server.stop("SIGTERM")
    expect(stopped.code).toBe(0)
    expect(existsSync(join(directory, "LOCK"))).toBe(false)

    server = await startServer(directory, { args: ["--body-bytes-max", "4096", "--keep-alive-ms", "200"] })
    base = server.url
    expect((await post(`${base}/models/after-restart/versions`, { version: "1.0.0" })).status).toBe(201)
    const resumed = await readEvents(`${base}/events?from=1`, 1, { "last-event-id": String(lastSeen) })
    expect(resumed[0]).toMatchObject({
      id: String(lastSeen + 1),
      event: "Registered",
      data: { metadata: { name: "after-restart" } },
    })
    console.log(`SSE: resumed after Last-Event-ID ${lastSeen} on a restarted server at seq ${resumed[0]!.id}`)
  })
})

/** Reads a refusal: the status and the typed error body, whatever the route or the reason. */
const refusal = async (response: Response) => {
  const text = await response.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = text
  }
  return { status: response.status, body }
}
const typedError = (status: number, tag: string) => ({
  status,
  body: { error: expect.objectContaining({ tag, message: expect.any(String) }) },
})

describe("every route accepts exactly what the domain accepts", () => {
  let server: ServerProcess
  let base: string

  beforeAll(async () => {
    server = await startServer(tempDir("limits"))
    base = server.url
  })
  afterAll(async () => {
    await server?.stop("SIGKILL")
  })

  /** Each route, as a request made when called, so that the order of requests is the test's. */
  const everyRoute = (name: string, version: string) => {
    const model = `${base}/models/${name}`
    const versionPath = `${model}/versions/${encodeURIComponent(version)}`
    return {
      register: () => post(`${model}/versions`, { version }),
      getModel: () => fetch(model),
      listVersions: () => fetch(`${model}/versions`),
      getVersion: () => fetch(versionPath),
      promote: () => post(`${versionPath}/promote`),
      deprecate: () => post(`${versionPath}/deprecate`),
    }
  }

  it(`serves a name of the full ${modelNameLengthMax} characters on every route`, async () => {
    const statuses: Record<string, number> = {}
    for (const [route, request] of Object.entries(everyRoute(`n${"a".repeat(modelNameLengthMax - 1)}`, "1.0.0")))
      statuses[route] = (await request()).status
    expect(statuses).toEqual({
      register: 201,
      getModel: 200,
      listVersions: 200,
      getVersion: 200,
      promote: 200,
      deprecate: 200,
    })
  })

  it(`serves versions of up to ${semVerLengthMax} characters on register, get and promote`, async () => {
    const versions = [
      `1.0.0-${"r".repeat(150)}`,
      `1.0.0-rc.${"9".repeat(100)}+build.${"b".repeat(semVerLengthMax - 116)}`,
      `1.0.0-${"x".repeat(semVerLengthMax - 6)}`,
    ]
    expect(versions.map((v) => v.length)).toEqual([156, semVerLengthMax, semVerLengthMax])
    for (const version of versions) {
      const path = `${base}/models/long-versions/versions/${encodeURIComponent(version)}`
      expect((await post(`${base}/models/long-versions/versions`, { version })).status).toBe(201)
      const got = await fetch(path)
      expect({ version, status: got.status }).toEqual({ version, status: 200 })
      expect(await json(got)).toMatchObject({ version, state: "registered" })
      const promoted = await post(`${path}/promote`)
      expect({ version, status: promoted.status }).toEqual({ version, status: 200 })
      expect(await json(promoted)).toMatchObject({ version: { version, state: "production" } })
    }
  })

  it("refuses a name or version beyond the domain's limits with InvalidInput on every route", async () => {
    const { register, getVersion, promote, deprecate } = everyRoute("m", `1.0.0-${"x".repeat(semVerLengthMax)}`)
    const routes = {
      longName: everyRoute(`n${"a".repeat(modelNameLengthMax)}`, "1.0.0"),
      hugeName: everyRoute(`n${"a".repeat(4000)}`, "1.0.0"),
      longVersion: { register, getVersion, promote, deprecate },
    }
    for (const [input, requests] of Object.entries(routes))
      for (const [route, request] of Object.entries(requests))
        expect({ input, route, ...(await refusal(await request())) }).toEqual({
          input,
          route,
          ...typedError(400, "InvalidInput"),
        })
  })

  it("answers an undecodable path with the typed error body, never an empty 404", async () => {
    const cases = {
      model: fetch(`${base}/models/a%zz`),
      register: post(`${base}/models/a%zz/versions`, { version: "1.0.0" }),
      version: fetch(`${base}/models/m/versions/1.0.0%`),
      promote: post(`${base}/models/m/versions/1.0.0%E0%A4%A/promote`),
      elsewhere: fetch(`${base}/nothing%zz`),
    }
    for (const [label, pending] of Object.entries(cases))
      expect({ label, ...(await refusal(await pending)) }).toEqual({ label, ...typedError(400, "InvalidInput") })
  })
})

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

  it("requires the bearer token on every request when one is set (MODEL_REGISTRY_TOKEN)", async () => {
    const server = await startServer(tempDir("token"), {
      args: ["--host", "0.0.0.0"],
      env: { MODEL_REGISTRY_TOKEN: "s3cret-token" },
    })
    try {
      const url = server.url.replace("0.0.0.0", "127.0.0.1")
      const none = await fetch(`${url}/models`)
      expect(none.status).toBe(401)
      expect((await errorOf(none)).error.tag).toBe("Unauthorized")
      // Probes and docs are public by default, the metrics are not.
      for (const open of ["/healthz", "/docs", "/openapi.json"]) expect((await fetch(`${url}${open}`)).status).toBe(200)
      expect((await fetch(`${url}/metrics`)).status).toBe(401)
      expect((await fetch(`${url}/healthz/../models`)).status).toBe(401)
      for (const wrong of ["Bearer s3cret-tokeN", "Bearer s3cret", "Bearer s3cret-token-longer", "Basic s3cret-token"])
        expect((await fetch(`${url}/models`, { headers: { authorization: wrong } })).status).toBe(401)
      const unauthorizedWrite = await post(`${url}/models/m/versions`, { version: "1.0.0" })
      expect(unauthorizedWrite.status).toBe(401)
      const ok = await post(`${url}/models/m/versions`, { version: "1.0.0" }, { authorization: "Bearer s3cret-token" })
      expect(ok.status).toBe(201)
      const events = await fetch(`${url}/events?from=1`, { headers: { authorization: "Bearer wrong" } })
      expect(events.status).toBe(401)
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
