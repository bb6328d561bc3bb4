/**
 * The fast lane answers exactly as the platform's router does. Two servers over fresh memory registries, one with the
 * lane and one without, get the same generated request sequences (hot routes and their near misses: queries,
 * percent-encoding, trailing and doubled slashes, other methods, foreign hosts and origins, tokens, bad bodies); every
 * answer's status, headers and body must match, and so must the request metrics they record.
 */
import { request as httpRequest } from "node:http"
import { Option } from "effect"
import * as fc from "fast-check"
import { afterEach, describe, expect, it } from "vitest"
import { declaredMethods } from "../../src/http/Api.ts"
import { hotRoutes, routeOf } from "../../src/http/fastLane.ts"
import type { HotAnswers } from "../../src/http/handlers.ts"
import { type InProcessServer, serveMemory } from "./inProcessServer.ts"

interface Sent {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body?: string
}

interface Answer {
  readonly status: number
  readonly headers: Record<string, string | ReadonlyArray<string> | undefined>
  readonly body: string
}

const send = (base: string, sent: Sent): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const url = new URL(base)
    const request = httpRequest(
      { host: url.hostname, port: url.port, method: sent.method, path: sent.path, headers: sent.headers, agent: false },
      (response) => {
        const chunks: Array<Buffer> = []
        response.on("data", (chunk: Buffer) => chunks.push(chunk))
        response.on("end", () => {
          const { date: _, ...headers } = response.headers
          resolve({ status: response.statusCode!, headers, body: Buffer.concat(chunks).toString("utf8") })
        })
      },
    )
    request.on("error", reject)
    request.setTimeout(5_000, () => request.destroy(new Error(`no answer to ${sent.method} ${sent.path} at ${base}`)))
    request.end(sent.body)
  })

/**
 * Ids and timestamps a register without them is given are the registry's random choice, so they are compared by
 * shape: in a register's answer (unless the body gave them), and in every version record a read answers with (a
 * model's versions, its production version), since the two servers chose their own.
 */
const comparable = (answer: Answer, sent: Sent): Answer => {
  if (!answer.headers["content-type"]?.includes("json") || answer.status >= 300) return answer
  const given = sent.body === undefined ? {} : (JSON.parse(sent.body) as Record<string, unknown>)
  const body = JSON.parse(answer.body) as unknown
  const shaped = (value: unknown, top: boolean): unknown => {
    if (Array.isArray(value)) return value.map((item) => shaped(item, false))
    if (typeof value !== "object" || value === null) return value
    const record = Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shaped(inner, false)]))
    if (!("id" in record && "createdAt" in record)) return record
    const keep = (key: string) => top && sent.method === "POST" && key in given
    return {
      ...record,
      id: keep("id") ? record.id : typeof record.id,
      createdAt: keep("createdAt") ? record.createdAt : typeof record.createdAt,
    }
  }
  const normalized = JSON.stringify(shaped(body, true))
  if (normalized === answer.body) return answer
  return { ...answer, headers: { ...answer.headers, "content-length": "(compared by body)" }, body: normalized }
}

const requestMetrics = async (base: string): Promise<ReadonlyArray<string>> => {
  const { body } = await send(base, { method: "GET", path: "/metrics", headers: {} })
  return body
    .split("\n")
    .filter((line) => line.startsWith("http_requests_total{") && !line.includes('route="/metrics"'))
    .sort()
}

const names = fc.oneof(
  fc.constantFrom("m", "fraud-detector", "a.b_c-d"),
  fc
    .array(fc.constantFrom("a", "Z", "0", "-", ".", "_", ":", "~", "+", "é", "%20", "%zz", "?", "#", ";", "/"), {
      maxLength: 6,
    })
    .map((parts) => parts.join("")),
)
const versions = fc.oneof(
  fc.constantFrom("1.0.0", "1.0.0", "2.1.0-rc.1", "0.0.1+build.5"),
  fc.array(fc.constantFrom("1", ".", "0", "-", "x", "%2E", "?"), { maxLength: 6 }).map((parts) => parts.join("")),
)

const paths = fc.oneof(
  fc.constantFrom("/healthz", "/healthz/", "/healthz?probe=1", "//healthz", "/Healthz", "/healthz;x", "/nowhere"),
  fc.tuple(names, versions).map(([name, version]) => `/models/${name}/versions/${version}`),
  fc.tuple(names, versions).map(([name, version]) => `/models/${name}/versions/${version}/`),
  names.map((name) => `/models/${name}/versions`),
  names.map((name) => `/models/${name}/versions?x=1`),
  names.map((name) => `/models/${name}/versions/`),
  fc.tuple(names, versions).map(([name, version]) => `/models/${name}//versions/${version}`),
  fc.constantFrom("/models", "/models/", "/models?x=1"),
  names.map((name) => `/models/${name}`),
  fc
    .tuple(names, versions, fc.constantFrom("promote", "deprecate", "transitions/promote", "transitions/nope"))
    .map(([name, version, action]) => `/models/${name}/versions/${version}/${action}`),
  fc
    .tuple(names, fc.constantFrom("champion", "Bad!Alias", "x", ""))
    .map(([name, alias]) => `/models/${name}/aliases/${alias}`),
)

const bodies = fc.oneof(
  fc
    .record(
      {
        version: versions,
        metrics: fc.dictionary(fc.constantFrom("auc", "f1"), fc.oneof(fc.double({ noNaN: true }), fc.string())),
        tags: fc.dictionary(fc.constantFrom("team", "env"), fc.oneof(fc.string(), fc.integer())),
        id: fc.uuid({ version: 4 }),
        createdAt: fc.constantFrom("2026-01-02T03:04:05.000Z", "yesterday"),
        name: fc.constantFrom("m", "other"),
      },
      { requiredKeys: ["version"] },
    )
    .map((body) => JSON.stringify(body)),
  versions.map((version) => JSON.stringify({ version })),
  fc.constantFrom("", "{", "[]", "null", '{"version": 1}', '{"version":"1.0.0","extra":true}', "\u00ff"),
)

const requests = (token: string | undefined): fc.Arbitrary<Sent> =>
  fc
    .record({
      method: fc.constantFrom("GET", "GET", "POST", "POST", "HEAD", "PUT", "PUT", "DELETE", "OPTIONS"),
      path: paths,
      contentType: fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", undefined),
      host: fc.constantFrom(undefined, undefined, "evil.example"),
      origin: fc.constantFrom(undefined, undefined, "http://evil.example", "http://allowed.example"),
      authorization: fc.constantFrom(undefined, `Bearer ${token ?? "x"}`, "Bearer wrong"),
      body: bodies,
    })
    .map(({ method, path, contentType, host, origin, authorization, body }) => {
      const headers: Record<string, string> = {}
      if (contentType !== undefined) headers["content-type"] = contentType
      if (host !== undefined) headers.host = host
      if (origin !== undefined) headers.origin = origin
      if (authorization !== undefined) headers.authorization = authorization
      return method === "POST" || method === "PUT" ? { method, path, headers, body } : { method, path, headers }
    })

describe("the fast lane", () => {
  const servers: Array<InProcessServer> = []
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()))
  })

  it("takes only the exact paths of its routes, each as the route the API declares for it", () => {
    const routes = hotRoutes({} as HotAnswers)
    const taken = (method: string, url: string) => routeOf(routes, method, url)?.params
    expect(taken("GET", "/healthz")).toEqual([])
    expect(taken("GET", "/models/m/versions/1.0.0")).toEqual(["m", "1.0.0"])
    expect(taken("POST", "/models/m/versions")).toEqual(["m"])
    expect(taken("GET", "/models/m/versions")).toEqual(["m"])
    expect(taken("POST", "/models/m/versions/1.0.0/transitions/promote")).toEqual(["m", "1.0.0", "promote"])
    expect(taken("DELETE", "/models/m/aliases/champion")).toEqual(["m", "champion"])
    for (const [method, url] of [
      ["HEAD", "/healthz"],
      ["GET", "/healthz?x=1"],
      ["GET", "/healthz/"],
      ["GET", "/models/m%20/versions/1.0.0"],
      ["GET", "/models//versions/1.0.0"],
      ["GET", "/models/m/versions/1.0.0/"],
      ["POST", "/models/m/versions/1.0.0"],
      ["PUT", "/models/m/versions"],
      ["GET", "/lifecycle"],
      ["GET", "/events"],
      ["GET", "/metrics"],
    ] as const)
      expect(taken(method, url), `${method} ${url}`).toBeUndefined()
    fc.assert(
      fc.property(fc.constantFrom("GET", "POST", "PUT", "DELETE", "HEAD"), paths, (method, path) => {
        const found = routeOf(routes, method, path)
        if (found !== undefined) expect(declaredMethods(path)).toContain(method)
      }),
    )
  })

  for (const token of [undefined, "s3cret"]) {
    it(`answers every request as the platform does${token === undefined ? "" : ", with a token set"}`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(requests(token), { minLength: 1, maxLength: 25 }), async (sequence) => {
          const options = {
            token: Option.fromNullable(token),
            allowOrigins: ["http://allowed.example"],
            bodyBytesMax: 256,
          }
          const fast = await serveMemory({}, options)
          const platform = await serveMemory({}, { ...options, fastLane: false })
          servers.push(fast, platform)
          for (const sent of sequence) {
            const [viaLane, viaPlatform] = await Promise.all([send(fast.url, sent), send(platform.url, sent)])
            expect(comparable(viaLane, sent), `${sent.method} ${sent.path}`).toEqual(comparable(viaPlatform, sent))
          }
          if (token === undefined) expect(await requestMetrics(fast.url)).toEqual(await requestMetrics(platform.url))
          await Promise.all(servers.splice(0).map((server) => server.close()))
        }),
        { numRuns: 40 },
      )
    })
  }
})
