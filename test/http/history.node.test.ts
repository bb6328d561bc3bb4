/**
 * Annotations, archiving, history and reads of the past over HTTP: what each route answers, the roles they need,
 * the `asOf` and `includeArchived` parameters, and their OpenAPI declaration. Both lanes serve these routes (a
 * query always goes to the platform), so each case runs on both.
 */
import { cpSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Token } from "../../src/http/tokens.ts"
import { layerFile } from "../../src/node.ts"
import { tempDirectory } from "../support/harness.ts"
import { type InProcessServer, serveMemory, serveRegistry } from "./inProcessServer.ts"

const tokens: ReadonlyArray<Token> = [
  { name: "reader-1", role: "reader", secret: "r" },
  { name: "ci", role: "writer", secret: "w" },
  { name: "alice", role: "admin", secret: "a" },
]
const secretOf = { reader: "r", writer: "w", admin: "a" } as const

// biome-ignore lint/suspicious/noExplicitAny: each test asserts the parts of an answer it relies on
type Body = any

describe.each([true, false])("history routes, fast lane %s", (fastLane) => {
  let server: InProcessServer
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    role: keyof typeof secretOf = "admin",
    contentType = "application/json",
  ): Promise<{ status: number; body: Body }> => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${secretOf[role]}`,
        ...(method === "GET" ? {} : { "content-type": contentType }),
      },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    })
    return { status: response.status, body: await response.json() }
  }
  const get = (path: string, role: keyof typeof secretOf = "reader") => call("GET", path, undefined, role)
  /** The seq and commit time of each event, by position (1-based). */
  const committed: Array<{ seq: number; at: string }> = []

  beforeAll(async () => {
    server = await serveMemory({}, { tokens, fastLane, drainMs: 0 })
    const made = await call("POST", "/models/resnet/versions", { version: "1.0.0", tags: { team: "vision" } }, "writer")
    expect(made.status).toBe(201)
    // A gap in time, so that a timestamp between two events names the first.
    await new Promise((resolve) => setTimeout(resolve, 20))
    for (const step of [
      () => call("POST", "/models/resnet/versions", { version: "1.1.0" }, "writer"),
      () => call("POST", "/models/resnet/versions/1.0.0/promote"),
      () => call("PUT", "/models/resnet/aliases/champion", { version: "1.0.0" }),
    ])
      expect((await step()).status).toBeLessThan(300)
    const events = await get("/models/resnet/history")
    for (const event of events.body.events) committed.push({ seq: event.seq, at: event.at })
  })
  afterAll(() => server.close())

  it("annotates a version and reads it back, with the change in its history", async () => {
    const annotated = await call(
      "PATCH",
      "/models/resnet/versions/1.1.0",
      { tags: { team: "nlp", stage: "qa" }, description: "retrained" },
      "writer",
    )
    expect(annotated.status).toBe(200)
    expect(annotated.body.version).toMatchObject({ tags: { team: "nlp", stage: "qa" }, description: "retrained" })
    expect(annotated.body.event).toMatchObject({
      _tag: "VersionAnnotated",
      actor: "ci",
      tags: { team: { from: null, to: "nlp" }, stage: { from: null, to: "qa" } },
      description: { from: null, to: "retrained" },
    })
    const removed = await call("PATCH", "/models/resnet/versions/1.1.0", { tags: { stage: null } }, "writer")
    expect(removed.body.version.tags).toEqual({ team: "nlp" })
    const again = await call("PATCH", "/models/resnet/versions/1.1.0", { tags: { stage: null } }, "writer")
    expect(again.body.event).toBeNull()
    expect((await get("/models/resnet/versions/1.1.0")).body).toMatchObject({ description: "retrained" })

    const history = await get("/models/resnet/versions/1.1.0/history")
    expect(history.status).toBe(200)
    expect(history.body).toMatchObject({ name: "resnet", version: "1.1.0", since: 0 })
    expect(history.body.events.map((event: Body) => event._tag)).toEqual([
      "Registered",
      "VersionAnnotated",
      "VersionAnnotated",
    ])
  })

  it("annotates a model, and refuses bodies it cannot read", async () => {
    const model = await call(
      "PATCH",
      "/models/resnet",
      { description: "image classifier", tags: { owner: "cv" } },
      "writer",
    )
    expect(model.status).toBe(200)
    expect(model.body).toMatchObject({
      model: { name: "resnet", description: "image classifier", tags: { owner: "cv" }, archived: false },
      event: { _tag: "ModelAnnotated" },
    })
    const listed = await get("/models")
    expect(listed.body[0]).toMatchObject({ name: "resnet", description: "image classifier", archived: false })
    for (const [body, field] of [
      ["{", "body"],
      [{}, undefined],
      [{ tags: { k: 1 } }, undefined],
      [{ label: "x" }, "label"],
    ] as const) {
      const refused = await call("PATCH", "/models/resnet/versions/1.0.0", body, "writer")
      expect(refused.status, JSON.stringify(body)).toBe(400)
      expect(refused.body.error.tag).toBe("InvalidInput")
      if (field !== undefined) expect(refused.body.error.field).toBe(field)
    }
    const notJson = await call("PATCH", "/models/resnet", '{"description":"x"}', "writer", "text/plain")
    expect(notJson.status).toBe(415)
    expect((await call("PATCH", "/models/resnet/versions/9.9.9", { description: "x" }, "writer")).status).toBe(404)
  })

  it("needs a writer to annotate and an admin to archive or restore", async () => {
    for (const path of ["/models/resnet/versions/1.0.0", "/models/resnet"]) {
      const refused = await call("PATCH", path, { description: "x" }, "reader")
      expect(refused.status).toBe(403)
      expect(refused.body.error).toMatchObject({ tag: "Forbidden", required: "writer" })
    }
    for (const path of ["/models/resnet/archive", "/models/resnet/restore"]) {
      const refused = await call("POST", path, undefined, "writer")
      expect(refused.status).toBe(403)
      expect(refused.body.error).toMatchObject({ tag: "Forbidden", required: "admin" })
    }
  })

  it("archives: hidden from listings and search, 409 on a write, readable by name, and restored", async () => {
    expect((await call("POST", "/models/bert/versions", { version: "0.1.0" }, "writer")).status).toBe(201)
    const archived = await call("POST", "/models/bert/archive")
    expect(archived.status).toBe(200)
    expect(archived.body).toMatchObject({ model: { name: "bert", archived: true }, event: { _tag: "ModelArchived" } })
    expect((await get("/models")).body.map((m: Body) => m.name)).toEqual(["resnet"])
    expect((await get("/models?includeArchived=true")).body.map((m: Body) => [m.name, m.archived])).toEqual([
      ["bert", true],
      ["resnet", false],
    ])
    expect((await get("/versions?namePrefix=bert")).body.versions).toEqual([])
    expect((await get("/versions?namePrefix=bert&includeArchived=true")).body.versions).toHaveLength(1)
    for (const [method, path, body] of [
      ["POST", "/models/bert/versions", { version: "0.2.0" }],
      ["PATCH", "/models/bert/versions/0.1.0", { description: "x" }],
      ["PATCH", "/models/bert", { description: "x" }],
      ["POST", "/models/bert/versions/0.1.0/promote", undefined],
      ["PUT", "/models/bert/aliases/live", { version: "0.1.0" }],
    ] as const) {
      const refused = await call(method, path, body)
      expect(refused.status, `${method} ${path}`).toBe(409)
      expect(refused.body.error.tag).toBe("ModelIsArchived")
    }
    expect((await get("/models/bert/versions/0.1.0")).status).toBe(200)
    const restored = await call("POST", "/models/bert/restore")
    expect(restored.body).toMatchObject({ model: { archived: false }, event: { _tag: "ModelRestored" } })
    expect((await call("POST", "/models/bert/restore")).body.event).toBeNull()
    expect((await get("/models")).body.map((m: Body) => m.name)).toEqual(["bert", "resnet"])
    const history = await get("/models/bert/history")
    expect(history.body.version).toBeUndefined()
    expect(history.body.events.map((event: Body) => event._tag)).toEqual([
      "Registered",
      "ModelArchived",
      "ModelRestored",
    ])
  })

  it("reads the past with asOf, by seq and by time, on every read that takes it", async () => {
    const [registered, second, promoted, aliased] = committed
    expect(aliased).toBeDefined()
    // Before the promotion: no production version, 1.0.0 registered and without its alias.
    const before = `seq:${second!.seq}`
    expect((await get(`/models/resnet/versions/1.0.0?asOf=${before}`)).body).toMatchObject({
      state: "registered",
      aliases: [],
    })
    expect((await get(`/models/resnet/versions/1.0.0?asOf=${promoted!.seq}`)).body.state).toBe("production")
    expect((await get(`/models/resnet?asOf=${before}`)).body.production).toBeNull()
    expect((await get(`/models/resnet?asOf=${promoted!.seq}`)).body.production.version).toBe("1.0.0")
    expect((await get(`/models/resnet/versions?asOf=seq:${registered!.seq}`)).body.map((v: Body) => v.version)).toEqual(
      ["1.0.0"],
    )
    expect((await get(`/models/resnet/aliases/champion?asOf=${before}`)).status).toBe(404)
    expect((await get(`/models/resnet/aliases/champion?asOf=seq:${aliased!.seq}`)).body.version).toBe("1.0.0")
    const searched = await get(`/versions?namePrefix=resnet&state=production&asOf=seq:${registered!.seq}`)
    expect(searched.body.versions).toEqual([])
    // By time: the first event's own commit time names the state right after it.
    const atFirst = encodeURIComponent(registered!.at)
    expect((await get(`/models/resnet/versions?asOf=${atFirst}`)).body.map((v: Body) => v.version)).toEqual(["1.0.0"])
    expect((await get(`/models/resnet/versions/1.1.0?asOf=${atFirst}`)).status).toBe(404)
    // Tags as they were at registration, before the annotations.
    expect((await get(`/models/resnet/versions/1.0.0?asOf=${atFirst}`)).body.tags).toEqual({ team: "vision" })
  })

  it("refuses a moment it cannot read (400) or before the history (410), and unknown parameters", async () => {
    for (const path of [
      "/models/resnet/versions/1.0.0?asOf=yesterday",
      "/models/resnet?asOf=-1",
      "/versions?asOf=seq:x",
      "/models/resnet/aliases/champion?asOf=2026-13-01",
    ]) {
      const refused = await get(path)
      expect(refused.status, path).toBe(400)
      expect(refused.body.error).toMatchObject({ tag: "InvalidInput", field: "asOf" })
    }
    const twice = await get("/models/resnet/versions/1.0.0?asOf=1&asOf=2")
    expect(twice.status).toBe(400)
    expect(twice.body.error).toMatchObject({ tag: "InvalidInput", field: "asOf" })
    const unknown = await get("/models/resnet/versions/1.0.0?asof=seq:1")
    expect(unknown.status).toBe(400)
    expect(unknown.body.error.field).toBe("asof")
    const early = await get("/models/resnet/versions?asOf=2000-01-01T00:00:00Z")
    expect([404, 410]).toContain(early.status)
  })

  it("lists the new routes and parameters in the OpenAPI document", async () => {
    const openapi = (await get("/openapi.json")).body
    expect(Object.keys(openapi.paths["/models/{name}/versions/{version}"])).toEqual(
      expect.arrayContaining(["get", "patch"]),
    )
    expect(Object.keys(openapi.paths["/models/{name}"])).toEqual(expect.arrayContaining(["get", "patch"]))
    expect(openapi.paths["/models/{name}/archive"].post).toBeDefined()
    expect(openapi.paths["/models/{name}/restore"].post).toBeDefined()
    expect(openapi.paths["/models/{name}/history"].get).toBeDefined()
    expect(openapi.paths["/models/{name}/versions/{version}/history"].get).toBeDefined()
    for (const path of [
      "/models/{name}",
      "/models/{name}/versions",
      "/models/{name}/versions/{version}",
      "/models/{name}/aliases/{alias}",
      "/versions",
    ])
      expect(
        openapi.paths[path].get.parameters.map((p: Body) => p.name),
        path,
      ).toContain("asOf")
    expect(Object.keys(openapi.paths["/models/{name}/versions/{version}"].get.responses)).toContain("410")
    expect(Object.keys(openapi.paths["/models/{name}/versions/{version}"].patch.responses)).toEqual(
      expect.arrayContaining(["403", "409", "415"]),
    )
    for (const schema of ["ModelOutcome", "History", "AnnotationBody", "ModelInfo"])
      expect(openapi.components.schemas[schema], schema).toBeDefined()
  })
})

describe("a directory whose history starts after seq 1", () => {
  it("answers 410 HistoryUnavailable for a moment before the history's start", async () => {
    // release-0.1.0 was compacted at seq 15 by a release that kept no history: its state then is the baseline.
    const directory = tempDirectory("history-410")
    cpSync(join(import.meta.dirname, "..", "fixtures", "release-0.1.0"), directory.path, { recursive: true })
    const server = await serveRegistry(layerFile({ directory: directory.path }), { drainMs: 0 })
    try {
      const history = (await (await fetch(`${server.url}/models/bert/history`)).json()) as Body
      expect(history.since).toBeGreaterThan(1)
      for (const path of ["/models/resnet/versions/1.0.0?asOf=seq:1", "/versions?asOf=2026-11-01T12:00:00Z"]) {
        const response = await fetch(`${server.url}${path}`)
        expect(response.status, path).toBe(410)
        expect(((await response.json()) as Body).error).toMatchObject({
          tag: "HistoryUnavailable",
          since: history.since,
        })
      }
      expect((await fetch(`${server.url}/models/resnet/versions/1.0.0?asOf=seq:${history.since}`)).status).toBe(200)
    } finally {
      await server.close()
      directory.remove()
    }
  })
})
