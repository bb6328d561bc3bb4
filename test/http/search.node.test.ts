/**
 * Search and model pages over HTTP: the query string's language, the cursor, the refusal of what a route does not
 * read, and the OpenAPI declaration of both.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type InProcessServer, serveMemory } from "./inProcessServer.ts"
import { post } from "./serverProcess.ts"

let server: InProcessServer
let base: string

const register = (name: string, version: string, body: object) =>
  post(`${base}/models/${name}/versions`, { version, ...body })

beforeAll(async () => {
  server = await serveMemory()
  base = server.url
  for (let i = 0; i < 6; i++)
    expect(
      (
        await register(i < 4 ? "resnet" : "bert", `1.${i}.0`, {
          createdAt: `2026-01-0${i + 1}T00:00:00.000Z`,
          metrics: { accuracy: 0.8 + i * 0.03 },
          tags: { team: i % 2 === 0 ? "vision" : "nlp" },
        })
      ).status,
    ).toBe(201)
  expect((await post(`${base}/models/resnet/versions/1.2.0/promote`)).status).toBe(200)
})

afterAll(() => server.close())

interface Refusal {
  readonly error: { readonly tag: string; readonly field?: string; readonly message: string }
}
interface VersionsAnswer extends Partial<Refusal> {
  readonly versions: ReadonlyArray<{ readonly name: string; readonly version: string; readonly createdAt: string }>
  readonly nextCursor: string | null
}
type ModelsAnswer = ReadonlyArray<{ readonly name: string }> & Partial<Refusal>
interface OpenApiAnswer {
  readonly paths: Record<string, { readonly get: { readonly parameters: ReadonlyArray<{ readonly name: string }> } }>
}

/** A route's answer, read as the shape the caller expects; each test asserts the parts it relies on. */
const get = async <Body = VersionsAnswer>(path: string) => {
  const response = await fetch(`${base}${path}`)
  return { status: response.status, headers: response.headers, body: (await response.json()) as Body }
}

describe("GET /versions", () => {
  it("filters by tags, metrics, state and prefix, in the order asked", async () => {
    const vision = await get("/versions?tag=team=vision&metric=accuracy>=0.85&orderBy=metric.accuracy&order=desc")
    expect(vision.status).toBe(200)
    expect(vision.body.versions.map((v: { name: string; version: string }) => `${v.name}@${v.version}`)).toEqual([
      "bert@1.4.0",
      "resnet@1.2.0",
    ])
    expect(vision.body.nextCursor).toBeNull()
    const production = await get("/versions?state=production")
    expect(production.body.versions.map((v: { version: string }) => v.version)).toEqual(["1.2.0"])
    const prefix = await get(`/versions?namePrefix=be&metric=${encodeURIComponent("accuracy < 0.94")}`)
    expect(prefix.body.versions.map((v: { version: string }) => v.version)).toEqual(["1.4.0"])
  })

  it("pages with the cursor until it is null", async () => {
    const seen: Array<string> = []
    let path = "/versions?orderBy=createdAt&limit=4"
    for (;;) {
      const page = await get(path)
      expect(page.status).toBe(200)
      seen.push(...page.body.versions.map((v: { createdAt: string }) => v.createdAt))
      if (page.body.nextCursor === null) break
      path = `/versions?orderBy=createdAt&limit=4&cursor=${encodeURIComponent(page.body.nextCursor)}`
    }
    expect(seen).toEqual(Array.from({ length: 6 }, (_, i) => `2026-01-0${i + 1}T00:00:00.000Z`))
  })

  it("refuses an unknown parameter, a bad comparison and a foreign cursor with 400 naming the field", async () => {
    const cases: Array<[string, string]> = [
      ["/versions?filter=x", "filter"],
      ["/versions?metric=accuracy>>1", "metric"],
      ["/versions?limit=0", "limit"],
      ["/versions?limit=ten", "limit"],
      ["/versions?order=up", "order"],
      ["/versions?tag=team", "tag"],
      ["/versions?tag=team=a&tag=team=b", "tag"],
      ["/versions?cursor=nonsense", "cursor"],
      // A single parameter given twice is the table's InvalidInput, not the framework's decode error.
      ["/versions?state=registered&state=production", "state"],
      ["/versions?limit=1&limit=2", "limit"],
      ["/models?namePrefix=a&namePrefix=b", "namePrefix"],
    ]
    for (const [path, field] of cases) {
      const refused = await get(path)
      expect({ path, status: refused.status, tag: refused.body.error?.tag }).toEqual({
        path,
        status: 400,
        tag: "InvalidInput",
      })
      expect(refused.body.error?.field ?? refused.body.error?.message).toContain(field)
    }
    const page = await get("/versions?limit=1")
    const other = await get(
      `/versions?limit=1&state=registered&cursor=${encodeURIComponent(page.body.nextCursor ?? "")}`,
    )
    expect(other.status).toBe(400)
  })
})

describe("GET /models", () => {
  it("still lists every model as an array, and pages by prefix with the cursor in a header", async () => {
    const all = await get<ModelsAnswer>("/models")
    expect(all.body.map((m: { name: string }) => m.name)).toEqual(["bert", "resnet"])
    expect(all.headers.get("x-next-cursor")).toBeNull()
    const first = await get<ModelsAnswer>("/models?limit=1")
    expect(first.body.map((m: { name: string }) => m.name)).toEqual(["bert"])
    const cursor = first.headers.get("x-next-cursor")
    expect(cursor).not.toBeNull()
    const second = await get<ModelsAnswer>(`/models?limit=1&cursor=${encodeURIComponent(cursor!)}`)
    expect(second.body.map((m: { name: string }) => m.name)).toEqual(["resnet"])
    expect(second.headers.get("x-next-cursor")).toBeNull()
    expect((await get<ModelsAnswer>("/models?namePrefix=res")).body.map((m: { name: string }) => m.name)).toEqual([
      "resnet",
    ])
    const refused = await get<ModelsAnswer>("/models?filter=name%3Dx&max_results=1")
    expect(refused.status).toBe(400)
    expect(refused.body.error?.tag).toBe("InvalidInput")
  })

  it("declares both routes' parameters in the OpenAPI document", async () => {
    const openapi = (await get<OpenApiAnswer>("/openapi.json")).body
    const parameters = (path: string) =>
      (openapi.paths[path]?.get.parameters ?? []).map((parameter) => parameter.name).sort()
    expect(parameters("/versions")).toEqual(
      [
        "alias",
        "asOf",
        "cursor",
        "includeArchived",
        "limit",
        "metric",
        "namePrefix",
        "order",
        "orderBy",
        "state",
        "tag",
      ].sort(),
    )
    expect(parameters("/models")).toEqual(["cursor", "includeArchived", "limit", "namePrefix"])
  })
})
