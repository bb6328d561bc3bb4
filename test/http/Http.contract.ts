/**
 * The HTTP contract: what every server of the registry's API answers, whatever carries it. It runs against the Node
 * server (test/http/server.node.test.ts), the Worker in workerd (test/cloudflare) and `Deno.serve` (test/deno):
 * every endpoint, every error status, the body limit (declared and chunked), 200 concurrent clients, 50 concurrent
 * promotes of one model, SSE resume with Last-Event-ID across a restart, the token, aliases, annotations and history,
 * and path limits equal to the domain's. A target starts a server over a fresh registry; every request here carries
 * the target's token, since a registry reachable beyond its machine needs one.
 */
import { request as httpRequest } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { modelNameLengthMax, semVerLengthMax } from "../../src/domain/index.ts"
import { json } from "./serverProcess.ts"

export interface TargetOptions {
  /** The admin token every request of the contract carries. */
  readonly token: string
  readonly bodyBytesMax?: number
  /** SSE keep-alive comments' interval. */
  readonly keepAliveMs?: number
}

export interface RunningTarget {
  /** The base URL (`http://host:port`); read it again after `restart`. */
  readonly url: string
  /** Stops the server (as a deploy or an eviction would) and starts it again on the same storage. */
  readonly restart: () => Promise<void>
  /** Stops the server and removes its storage. */
  readonly close: () => Promise<void>
}

export interface HttpTarget {
  readonly name: string
  /** A server over a fresh, empty registry. */
  readonly start: (options: TargetOptions) => Promise<RunningTarget>
}

const token = "contract-token"

export interface SseEvent {
  readonly id: string
  readonly event: string
  readonly data: unknown
}

/** Reads `count` events from `url` (an /events URL), then disconnects. */
export const readEvents = async (
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

/** One server of the target for a describe block, and requests to it that carry the token. */
const client = (target: HttpTarget, options: TargetOptions) => {
  let server: RunningTarget | undefined
  beforeAll(async () => {
    server = await target.start(options)
  })
  afterAll(async () => {
    await server?.close()
  })
  const running = () => {
    if (server === undefined) throw new Error(`${target.name}: the server did not start`)
    return server
  }
  const auth = { authorization: `Bearer ${options.token}` }
  const call = (path: string, init: RequestInit = {}) =>
    fetch(`${running().url}${path}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } })
  const send = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    call(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
  /** A POST of a JSON write whose body is exactly `body`, as no `JSON.stringify` would make it. */
  const sendRaw = (path: string, body: BodyInit) =>
    call(path, { method: "POST", headers: { "content-type": "application/json" }, body })
  const events = (path: string, count: number, headers: Record<string, string> = {}) =>
    readEvents(`${running().url}${path}`, count, { ...auth, ...headers })
  return { call, send, sendRaw, events, running }
}

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

export const httpContract = (target: HttpTarget) =>
  describe(`HTTP contract: ${target.name}`, () => {
    describe("the API", () => {
      const { call, send, sendRaw, events, running } = client(target, { token, bodyBytesMax: 4096, keepAliveMs: 200 })

      it("registers (201), repeats idempotently (200), conflicts (409), and reads back", async () => {
        const body = { version: "1.2.0", metrics: { accuracy: 0.91 }, tags: { team: "vision" } }
        const created = await send(`/models/resnet/versions`, body)
        expect(created.status).toBe(201)
        const version = (await json(created)) as Record<string, unknown>
        expect(version).toMatchObject({
          name: "resnet",
          version: "1.2.0",
          state: "registered",
          metrics: { accuracy: 0.91 },
        })

        const repeat = await send(`/models/resnet/versions`, {
          ...body,
          id: version.id,
          createdAt: version.createdAt,
        })
        expect(repeat.status).toBe(200)
        expect(await json(repeat)).toEqual(version)

        const conflict = await send(`/models/resnet/versions`, { ...body, metrics: { accuracy: 0.5 } })
        expect(conflict.status).toBe(409)
        expect((await errorOf(conflict)).error).toMatchObject({
          tag: "VersionConflict",
          name: "resnet",
          version: "1.2.0",
        })

        for (const v of ["1.10.0", "1.9.0", "2.0.0-rc.1"])
          expect((await send(`/models/resnet/versions`, { version: v })).status).toBe(201)
        const versions = (await json(await call(`/models/resnet/versions`))) as Array<{ version: string }>
        expect(versions.map((v) => v.version)).toEqual(["1.2.0", "1.9.0", "1.10.0", "2.0.0-rc.1"])

        const one = await call(`/models/resnet/versions/1.2.0`)
        expect(one.status).toBe(200)
        expect(await json(one)).toEqual(version)
      })

      it("promotes and deprecates, answering with the recorded event", async () => {
        const first = await send(`/models/resnet/versions/1.9.0/promote`)
        expect(first.status).toBe(200)
        expect(await json(first)).toMatchObject({ event: { _tag: "Promoted", version: "1.9.0", supersedes: null } })
        const second = await send(`/models/resnet/versions/1.10.0/promote`)
        expect(await json(second)).toMatchObject({
          version: { version: "1.10.0", state: "production" },
          event: { _tag: "Promoted", supersedes: "1.9.0" },
        })
        const again = await send(`/models/resnet/versions/1.10.0/promote`)
        expect(again.status).toBe(200)
        expect(await json(again)).toMatchObject({ event: null })
        const deprecated = (await json(await send(`/models/resnet/versions/1.2.0/deprecate`))) as {
          event: { seq: number }
        }
        expect(deprecated).toMatchObject({ event: { _tag: "Deprecated", version: "1.2.0" } })
        const deprecatedSeq = deprecated.event.seq

        const model = (await json(await call(`/models/resnet`))) as Record<string, unknown>
        expect(model).toMatchObject({ name: "resnet", production: { version: "1.10.0" } })
        const models = (await json(await call(`/models`))) as Array<Record<string, unknown>>
        expect(models).toContainEqual({
          name: "resnet",
          production: "1.10.0",
          versionCount: 4,
          latest: "2.0.0-rc.1",
          holders: { production: "1.10.0" },
          aliases: {},
          tags: {},
          archived: false,
          // The deprecation of 1.2.0 just above was the model's newest event.
          lastChange: { seq: deprecatedSeq, at: expect.any(String), actor: "default" },
        })
      })

      it("answers every client error with the error body and the right status, never a 500", async () => {
        const cases: Array<[string, Promise<Response>, number, string]> = [
          ["malformed JSON", sendRaw(`/models/m/versions`, "{"), 400, "InvalidInput"],
          ["body not an object", send(`/models/m/versions`, [1, 2]), 400, "InvalidInput"],
          ["invalid UTF-8", sendRaw(`/models/m/versions`, new Uint8Array([0x7b, 0xff, 0x7d])), 400, "InvalidInput"],
          ["bad semver", send(`/models/m/versions`, { version: "1.0" }), 400, "InvalidInput"],
          ["unknown field", send(`/models/m/versions`, { version: "1.0.0", metric: {} }), 400, "InvalidInput"],
          [
            "__proto__ key",
            sendRaw(`/models/m/versions`, '{"version":"1.0.0","__proto__":{"x":1}}'),
            400,
            "InvalidInput",
          ],
          ["encoded slash in name", send(`/models/a%2Fb/versions`, { version: "1.0.0" }), 400, "InvalidInput"],
          ["bad version in path", call(`/models/resnet/versions/not-semver`), 400, "InvalidInput"],
          ["bad from", call(`/events?from=-3`), 400, "InvalidInput"],
          ["bad Last-Event-ID", call(`/events`, { headers: { "last-event-id": "x" } }), 400, "InvalidInput"],
          [
            "wrong content type",
            call(`/models/m/versions`, {
              method: "POST",
              headers: { "content-type": "text/plain" },
              body: '{"version":"1.0.0"}',
            }),
            415,
            "UnsupportedMediaType",
          ],
          ["slash in name", send(`/models/a/b/versions`, { version: "1.0.0" }), 404, "RouteNotFound"],
          ["unknown route", call(`/nothing`), 404, "RouteNotFound"],
          ["unknown model", call(`/models/ghost`), 404, "ModelNotFound"],
          ["unknown model versions", call(`/models/ghost/versions`), 404, "ModelNotFound"],
          ["unknown version", call(`/models/resnet/versions/9.9.9`), 404, "VersionNotFound"],
          ["promote unknown", send(`/models/resnet/versions/9.9.9/promote`), 404, "VersionNotFound"],
          ["deprecate unknown model", send(`/models/ghost/versions/1.0.0/deprecate`), 404, "ModelNotFound"],
          ["promote deprecated", send(`/models/resnet/versions/1.2.0/promote`), 409, "InvalidTransition"],
          [
            "body over limit (content-length)",
            send(`/models/m/versions`, { version: "1.0.0", metrics: { pad: "x".repeat(5000) } }),
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
        const response = await call(`/models/chunked/versions`, {
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
          const { hostname, port } = new URL(running().url)
          const request = httpRequest({
            host: hostname,
            port,
            method: "POST",
            path: "/models/huge/versions",
            headers: {
              "content-type": "application/json",
              "transfer-encoding": "chunked",
              authorization: `Bearer ${token}`,
            },
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
        expect(await json(await call(`/healthz`))).toMatchObject({ status: "ok" })
        const metrics = await (await call(`/metrics`)).text()
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
        const openapi = (await json(await call(`/openapi.json`))) as {
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
        const docs = await call(`/docs`)
        expect(docs.status).toBe(200)
        expect(await docs.text()).toContain("swagger")
      })

      it("handles 200 concurrent clients registering and promoting", async () => {
        const clients = Array.from({ length: 200 }, (_, i) => i)
        const registered = await Promise.all(
          clients.map((i) => send(`/models/fleet-${i % 10}/versions`, { version: `1.0.${i}` })),
        )
        expect(registered.map((r) => r.status)).toEqual(clients.map(() => 201))
        const promoted = await Promise.all(
          clients.map((i) => send(`/models/fleet-${i % 10}/versions/1.0.${i}/promote`)),
        )
        expect(promoted.map((r) => r.status)).toEqual(clients.map(() => 200))
        for (let m = 0; m < 10; m++) {
          const versions = (await json(await call(`/models/fleet-${m}/versions`))) as Array<{ state: string }>
          expect(versions).toHaveLength(20)
          expect(versions.filter((v) => v.state === "production")).toHaveLength(1)
        }
        console.log(
          `concurrency: 200 registrations → 201, 200 promotions → 200, 10 models with exactly one production version`,
        )
      })

      it("answers 50 concurrent promotes of one model each with its own version in production", async () => {
        const model = "/models/contested"
        const versions = Array.from({ length: 50 }, (_, i) => `1.0.${i}`)
        for (const version of versions) expect((await send(`${model}/versions`, { version })).status).toBe(201)
        const responses = await Promise.all(versions.map((version) => send(`${model}/versions/${version}/promote`)))
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
        const final = (await json(await call(`${model}/versions`))) as Array<{ version: string; state: string }>
        expect(final.filter((v) => v.state === "production").map((v) => v.version)).toEqual([
          inOrder.at(-1)!.version.version,
        ])
      })

      it("streams events as SSE and resumes with Last-Event-ID across a restart", async () => {
        const all = await events(`/events?from=1`, 3)
        expect(all.map((e) => e.id)).toEqual(["1", "2", "3"])
        expect(all[0]).toMatchObject({ event: "Registered", data: { _tag: "Registered", seq: 1 } })

        // A live subscriber sees a write made after it connected.
        const live = events(`/events`, 1)
        await new Promise((r) => setTimeout(r, 300))
        await send(`/models/live/versions`, { version: "1.0.0" })
        expect((await live)[0]).toMatchObject({ event: "Registered", data: { metadata: { name: "live" } } })

        const health = (await json(await call(`/healthz`))) as { lastSeq: number }
        const lastSeen = health.lastSeq
        await running().restart()
        expect((await send(`/models/after-restart/versions`, { version: "1.0.0" })).status).toBe(201)
        const resumed = await events(`/events?from=1`, 1, { "last-event-id": String(lastSeen) })
        expect(resumed[0]).toMatchObject({
          id: String(lastSeen + 1),
          event: "Registered",
          data: { metadata: { name: "after-restart" } },
        })
        console.log(`SSE: resumed after Last-Event-ID ${lastSeen} on a restarted server at seq ${resumed[0]!.id}`)
      })
    })

    describe("every route accepts exactly what the domain accepts", () => {
      const { call, send } = client(target, { token })

      /** Each route, as a request made when called, so that the order of requests is the test's. */
      const everyRoute = (name: string, version: string) => {
        const model = `/models/${name}`
        const versionPath = `${model}/versions/${encodeURIComponent(version)}`
        return {
          register: () => send(`${model}/versions`, { version }),
          getModel: () => call(model),
          listVersions: () => call(`${model}/versions`),
          getVersion: () => call(versionPath),
          promote: () => send(`${versionPath}/promote`),
          deprecate: () => send(`${versionPath}/deprecate`),
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
          const path = `/models/long-versions/versions/${encodeURIComponent(version)}`
          expect((await send(`/models/long-versions/versions`, { version })).status).toBe(201)
          const got = await call(path)
          expect({ version, status: got.status }).toEqual({ version, status: 200 })
          expect(await json(got)).toMatchObject({ version, state: "registered" })
          const promoted = await send(`${path}/promote`)
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
          model: call(`/models/a%zz`),
          register: send(`/models/a%zz/versions`, { version: "1.0.0" }),
          version: call(`/models/m/versions/1.0.0%`),
          promote: send(`/models/m/versions/1.0.0%E0%A4%A/promote`),
          elsewhere: call(`/nothing%zz`),
        }
        for (const [label, pending] of Object.entries(cases))
          expect({ label, ...(await refusal(await pending)) }).toEqual({ label, ...typedError(400, "InvalidInput") })
      })
    })

    describe("the token", () => {
      const { running, send, call } = client(target, { token })

      it("is required on every route but the public probe and docs, and only the exact secret passes", async () => {
        const url = running().url
        const none = await fetch(`${url}/models`)
        expect(none.status).toBe(401)
        expect(none.headers.get("www-authenticate")).toContain("Bearer")
        expect((await errorOf(none)).error.tag).toBe("Unauthorized")
        for (const open of ["/healthz", "/docs", "/openapi.json"])
          expect((await fetch(`${url}${open}`)).status).toBe(200)
        expect((await fetch(`${url}/metrics`)).status).toBe(401)
        expect((await fetch(`${url}/healthz/../models`)).status).toBe(401)
        for (const wrong of [`Bearer ${token}X`, "Bearer contract", `Bearer ${token}-longer`, `Basic ${token}`])
          expect((await fetch(`${url}/models`, { headers: { authorization: wrong } })).status).toBe(401)
        const write = await fetch(`${url}/models/m/versions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ version: "1.0.0" }),
        })
        expect(write.status).toBe(401)
        expect((await fetch(`${url}/events?from=1`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401)
        expect(await json(await call("/whoami"))).toEqual({ name: "default", role: "admin" })
        const written = await send("/models/m/versions", { version: "1.0.0" })
        expect(written.status).toBe(201)
        const promoted = await send("/models/m/versions/1.0.0/promote")
        expect(((await json(promoted)) as { event: unknown }).event).toMatchObject({ actor: "default" })
      })
    })

    describe("aliases, annotations and history", () => {
      const { call, send } = client(target, { token })

      it("sets, resolves and removes an alias, annotates a version, and tells its history", async () => {
        for (const version of ["1.0.0", "1.1.0"])
          expect((await send("/models/ranker/versions", { version, metrics: { ndcg: 0.5 } })).status).toBe(201)
        const write = (path: string, body: unknown, method: string) =>
          call(path, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
        expect((await write("/models/ranker/aliases/champion", { version: "1.0.0" }, "PUT")).status).toBe(200)
        expect(await json(await call("/models/ranker/aliases/champion"))).toMatchObject({ version: "1.0.0" })
        expect((await write("/models/ranker/aliases/champion", { version: "1.1.0" }, "PUT")).status).toBe(200)
        expect(await json(await call("/models/ranker/aliases/champion"))).toMatchObject({ version: "1.1.0" })
        const annotated = await write("/models/ranker/versions/1.1.0", { description: "weekly retrain" }, "PATCH")
        expect(annotated.status).toBe(200)
        expect(await json(await call("/models/ranker/versions/1.1.0"))).toMatchObject({ description: "weekly retrain" })
        expect((await call("/models/ranker/aliases/champion", { method: "DELETE" })).status).toBe(200)
        expect((await errorOf(await call("/models/ranker/aliases/champion"))).error.tag).toBe("AliasNotFound")
        const history = (await json(await call("/models/ranker/versions/1.1.0/history"))) as {
          events: Array<{ _tag: string }>
        }
        expect(history.events.map((event) => event._tag)).toEqual([
          "Registered",
          "AliasSet",
          "VersionAnnotated",
          "AliasRemoved",
        ])
        const transitioned = await send("/models/ranker/versions/1.0.0/transitions/promote")
        expect(await json(transitioned)).toMatchObject({ version: { state: "production" } })
      })
    })
  })
