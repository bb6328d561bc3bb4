/**
 * The OpenAPI document the server serves, read back from it: a summary per operation, the domain's patterns and
 * formats, exactly the error statuses each operation can answer, `Retry-After` on 429, `Last-Event-ID` and an
 * integer `from`, the package's version; and Redocly's recommended ruleset run over it. Also the routing the
 * document implies: a known path asked with another method is 405 with `Allow`.
 */
import { spawnSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type InProcessServer, serveMemory } from "./inProcessServer.ts"
import { tempDir } from "./serverProcess.ts"

interface Operation {
  readonly operationId: string
  readonly summary?: string
  readonly parameters: ReadonlyArray<{ name: string; in: string; schema: Schema }>
  readonly responses: Record<
    string,
    { headers?: Record<string, unknown>; content?: Record<string, { schema: Schema }> }
  >
}
interface Schema {
  readonly $ref?: string
  readonly [key: string]: unknown
}
interface Document {
  readonly openapi: string
  readonly info: { readonly version: string }
  readonly paths: Record<string, Record<string, Operation>>
  readonly components: { readonly schemas: Record<string, Schema> }
}

const packageVersion = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version

/**
 * What each handler can fail with (src/http/handlers.ts over the registry calls' error types), plus what the edge
 * refuses before any handler: 401 (with a token set), 403 foreign origin, 421 foreign host, 413 a declared body
 * over the limit; 400 an undecodable path where the path has parameters, or an unknown query parameter; 415 a POST,
 * PUT or PATCH not declared JSON.
 */
const edge = ["401", "403", "413", "421"]
const expectedErrors: Record<string, ReadonlyArray<string>> = {
  "models.register": [...edge, "400", "409", "415", "429", "503"],
  "models.listModels": [...edge, "400"],
  "models.search": [...edge, "400", "410"],
  "models.getModel": [...edge, "400", "404", "410"],
  "models.listVersions": [...edge, "400", "404", "410"],
  "models.getVersion": [...edge, "400", "404", "410"],
  "models.annotate": [...edge, "400", "404", "409", "415", "429", "503"],
  "models.versionHistory": [...edge, "400", "404"],
  "models.annotateModel": [...edge, "400", "404", "409", "415", "429", "503"],
  "models.archiveModel": [...edge, "400", "404", "409", "415", "429", "503"],
  "models.restoreModel": [...edge, "400", "404", "409", "415", "429", "503"],
  "models.modelHistory": [...edge, "400", "404"],
  "models.promote": [...edge, "400", "404", "409", "415", "429", "503"],
  "models.deprecate": [...edge, "400", "404", "409", "415", "429", "503"],
  "models.transition": [...edge, "400", "404", "409", "415", "429", "503"],
  "models.setAlias": [...edge, "400", "404", "409", "415", "429", "503"],
  "models.getAlias": [...edge, "400", "404", "410"],
  "models.removeAlias": [...edge, "400", "404", "409", "429", "503"],
  "lifecycle.describe": [...edge, "400"],
  "events.events": [...edge, "400", "410"],
  "ops.healthz": [...edge, "503"],
  "ops.whoami": edge,
  "ops.metrics": edge,
}

describe("the OpenAPI document", () => {
  let server: InProcessServer
  let doc: Document
  const operations = () => Object.values(doc.paths).flatMap((methods) => Object.values(methods))
  const operation = (id: string) => operations().find((o) => o.operationId === id)!
  const resolve = (schema: Schema): Schema =>
    schema.$ref === undefined ? schema : resolve(doc.components.schemas[schema.$ref.split("/").at(-1)!]!)

  beforeAll(async () => {
    server = await serveMemory()
    doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as Document
  })
  afterAll(async () => {
    await server?.close()
  })

  it("gives every operation a summary and the package's version", () => {
    expect(
      operations()
        .map((o) => o.operationId)
        .sort(),
    ).toEqual(Object.keys(expectedErrors).sort())
    for (const o of operations()) expect(o.summary, o.operationId).toMatch(/\S/)
    expect(doc.info.version).toBe(packageVersion)
  })

  it("declares the bearer scheme, and that a request may also go without it (a server without --token)", () => {
    const raw = doc as unknown as {
      components: { securitySchemes?: Record<string, unknown> }
      security?: ReadonlyArray<Record<string, ReadonlyArray<string>>>
    }
    expect(raw.components.securitySchemes?.bearerToken).toMatchObject({ type: "http", scheme: "bearer" })
    expect(raw.security).toEqual([{ bearerToken: [] }, {}])
  })

  it("declares the domain's patterns and formats", () => {
    const parameter = (id: string, name: string) =>
      resolve(operation(id).parameters.find((p) => p.name === name)!.schema)
    const name = parameter("models.getVersion", "name")
    const version = parameter("models.getVersion", "version")
    expect(name).toMatchObject({ type: "string", minLength: 1, maxLength: 128 })
    expect(new RegExp(name.pattern as string).test("resnet-50.v2_x")).toBe(true)
    expect(new RegExp(name.pattern as string).test("../etc")).toBe(false)
    expect(version).toMatchObject({ type: "string", maxLength: 256 })
    for (const valid of ["1.2.3", "1.0.0-rc.1+build.5", "10.20.30"])
      expect(new RegExp(version.pattern as string).test(valid), valid).toBe(true)
    for (const invalid of ["1.2", "01.2.3", "v1.2.3", "1.2.3-"])
      expect(new RegExp(version.pattern as string).test(invalid), invalid).toBe(false)
    const stored = resolve({ $ref: "#/components/schemas/ModelVersion" }).properties as Record<string, Schema>
    expect(resolve(stored.id!)).toMatchObject({ type: "string", format: "uuid" })
    expect(resolve(stored.createdAt!)).toMatchObject({ type: "string", format: "date-time" })
    expect(resolve(stored.name!)).toEqual(name)
    expect(resolve(stored.version!)).toEqual(version)
    const alias = parameter("models.getAlias", "alias")
    const event = parameter("models.transition", "event")
    for (const rule of [alias, event]) {
      expect(rule).toMatchObject({ type: "string", minLength: 1, maxLength: 64 })
      expect(new RegExp(rule.pattern as string).test("champion")).toBe(true)
      expect(new RegExp(rule.pattern as string).test("1.2.0")).toBe(false)
    }
    expect(resolve(stored.state!)).toMatchObject({ type: "string", pattern: alias.pattern })
  })

  it("declares the lifecycle's two answers: JSON, and Mermaid with format=mermaid", () => {
    const describe = operation("lifecycle.describe")
    expect(Object.keys(describe.responses["200"]!.content!).sort()).toEqual(["application/json", "text/vnd.mermaid"])
    expect(describe.parameters.find((p) => p.name === "format")).toMatchObject({
      in: "query",
      schema: { type: "string", enum: ["json", "mermaid"] },
    })
    expect(operation("models.setAlias").responses["200"]).toBeDefined()
    expect(doc.paths["/models/{name}/aliases/{alias}"]).toHaveProperty("put")
    expect(doc.paths["/models/{name}/aliases/{alias}"]).toHaveProperty("delete")
  })

  it("declares exactly the error statuses each operation can answer, each naming its tags", () => {
    for (const o of operations()) {
      const errors = Object.keys(o.responses).filter((status) => Number(status) >= 400)
      expect(errors.sort(), o.operationId).toEqual([...expectedErrors[o.operationId]!].sort())
    }
    const tagsOf = (id: string, status: string) => {
      const body = resolve(operation(id).responses[status]!.content!["application/json"]!.schema)
      const error = (body.properties as Record<string, Schema>).error!
      return ((error.properties as Record<string, Schema>).tag as { enum: Array<string> }).enum
    }
    expect(tagsOf("models.getVersion", "404").sort()).toEqual(["ModelNotFound", "VersionNotFound"])
    expect(tagsOf("models.register", "409")).toEqual(["VersionConflict", "ModelIsArchived"])
    expect(tagsOf("models.promote", "409")).toEqual(["InvalidTransition", "ModelIsArchived"])
    expect(tagsOf("models.transition", "409")).toEqual(["InvalidTransition", "ModelIsArchived"])
    expect(tagsOf("models.setAlias", "409")).toEqual(["AliasNotAllowed", "ModelIsArchived"])
    expect(tagsOf("models.archiveModel", "409")).toEqual(["ModelIsArchived"])
    expect(tagsOf("models.getVersion", "410")).toEqual(["HistoryUnavailable"])
    expect(tagsOf("models.getAlias", "404").sort()).toEqual(["AliasNotFound", "ModelNotFound"])
    expect(tagsOf("models.removeAlias", "404")).toEqual(["ModelNotFound"])
    expect(tagsOf("ops.healthz", "503").sort()).toEqual(["RegistryClosed", "StorageFailed"])
    expect(tagsOf("events.events", "410")).toEqual(["PositionCompacted"])
    expect(JSON.stringify(doc)).not.toContain("HttpApiDecodeError")
  })

  it("declares Retry-After on every 429", () => {
    const overloadable = operations().filter((o) => o.responses["429"] !== undefined)
    expect(overloadable.map((o) => o.operationId).sort()).toEqual([
      "models.annotate",
      "models.annotateModel",
      "models.archiveModel",
      "models.deprecate",
      "models.promote",
      "models.register",
      "models.removeAlias",
      "models.restoreModel",
      "models.setAlias",
      "models.transition",
    ])
    for (const o of overloadable)
      expect(o.responses["429"]!.headers?.["Retry-After"], o.operationId).toMatchObject({
        schema: { type: "integer" },
      })
  })

  it("declares Last-Event-ID, an integer `from` and the stream's frames on the event stream", () => {
    const parameters = operation("events.events").parameters
    const from = parameters.find((p) => p.name === "from")!
    expect(from).toMatchObject({ in: "query", schema: { type: "integer", minimum: 1 } })
    const lastEventId = parameters.find((p) => p.name.toLowerCase() === "last-event-id")!
    expect(lastEventId).toMatchObject({ in: "header", schema: { type: "integer", minimum: 0 } })
    // The event that ends a stream is documented, and is not EventSource's own `error`.
    const described = JSON.stringify(operation("events.events"))
    expect(described).toContain("`stream-error`")
    expect(described).toContain("`retry: <ms>`")
  })

  it("passes Redocly's recommended ruleset", () => {
    // Resolved from the project's node_modules (a pinned devDependency); the document is the one served above.
    const cli = createRequire(import.meta.url).resolve("@redocly/cli/bin/cli.js")
    const lint = (document: unknown) => {
      const file = join(tempDir("openapi"), "openapi.json")
      writeFileSync(file, JSON.stringify(document))
      return spawnSync(process.execPath, [cli, "lint", file, "--extends=recommended", "--format=stylish"], {
        encoding: "utf8",
        env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
      })
    }
    const withoutSummary = structuredClone(doc) as { paths: Record<string, Record<string, { summary?: string }>> }
    delete withoutSummary.paths["/models"]!.get!.summary
    const refused = lint(withoutSummary)
    expect(refused.status).not.toBe(0)
    expect(refused.stdout).toContain("operation-summary")
    const run = lint(doc)
    const output = `${run.stdout}\n${run.stderr}`
    expect(output).toContain("Your API description is valid")
    // Stylish lines: "<line>:<column>  warning  <rule>  <message>"; the CLI's own banners are not problems.
    expect(output).not.toMatch(/^\s*\d+:\d+\s+(error|warning)\s/m)
    expect(run.status).toBe(0)
  })
})

describe("routing by the declaration", () => {
  let server: InProcessServer
  beforeAll(async () => {
    server = await serveMemory()
  })
  afterAll(async () => {
    await server?.close()
  })

  it.each([
    ["DELETE", "/models", "GET"],
    ["PUT", "/models/m/versions", "POST, GET"],
    ["GET", "/models/m/versions/1.0.0/promote", "POST"],
    ["POST", "/models/m/aliases/champion", "PUT, GET, DELETE"],
    ["GET", "/models/m/versions/1.0.0/transitions/stage", "POST"],
    ["POST", "/lifecycle", "GET"],
    ["POST", "/healthz", "GET"],
    ["POST", "/openapi.json", "GET"],
  ])("answers %s %s with 405, Allow: %s and the typed error body", async (method, path, allow) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { "content-type": "application/json" },
    })
    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe(allow)
    expect(await response.json()).toMatchObject({ error: { tag: "MethodNotAllowed", allow: allow.split(", ") } })
  })

  it("still answers an unknown path 404 RouteNotFound", async () => {
    const response = await fetch(`${server.url}/models/m/versions/1.0.0/archive`, {
      method: "POST",
      headers: { "content-type": "application/json" },
    })
    expect(response.status).toBe(404)
    expect(await response.json()).toMatchObject({ error: { tag: "RouteNotFound" } })
  })

  it("answers a repeated `from` with InvalidInput, not the framework's decode error", async () => {
    const response = await fetch(`${server.url}/events?from=1&from=2`)
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: { tag: "InvalidInput", field: "from" } })
  })
})
