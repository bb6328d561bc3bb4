/**
 * The lifecycle routes over HTTP, on the server in this process: transitions by event name, aliases (set, move,
 * read, remove, idempotent removal), `GET /lifecycle` as JSON and as Mermaid, each error with its status, the old
 * `/promote` and `/deprecate` routes beside them, and a server running a non-default lifecycle (MLflow's stages),
 * whose new events reach `/events`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import { type InProcessServer, serveMemory } from "./inProcessServer.ts"
import { json, post } from "./serverProcess.ts"

const put = (url: string, body: unknown, contentType = "application/json") =>
  fetch(url, {
    method: "PUT",
    headers: { "content-type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body),
  })

/** The status and the error tag (or `ok`) of an answer. */
const outcomeOf = async (response: Response) => {
  const body = (await json(response)) as { error?: { tag: string } }
  return `${response.status} ${body.error?.tag ?? "ok"}`
}

/** The event types of `/events` from seq 1 until `count` frames arrived. */
const eventTypes = async (base: string, count: number): Promise<ReadonlyArray<string>> => {
  const controller = new AbortController()
  const response = await fetch(`${base}/events?from=1`, { signal: controller.signal })
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let text = ""
  const types = () => [...text.matchAll(/^event: (\w+)$/gm)].map((match) => match[1]!)
  while (types().length < count) {
    const { value, done } = await reader.read()
    if (done) break
    text += value
  }
  controller.abort()
  return types()
}

describe("the lifecycle routes, default lifecycle", () => {
  let server: InProcessServer
  let base: string
  beforeAll(async () => {
    server = await serveMemory()
    base = server.url
    for (const version of ["1.0.0", "1.1.0"])
      expect((await post(`${base}/models/resnet/versions`, { version })).status).toBe(201)
  })
  afterAll(async () => {
    await server?.close()
  })

  it("sends any event by name, answering the Outcome as promote does; /promote and /deprecate still work", async () => {
    const promoted = await post(`${base}/models/resnet/versions/1.0.0/transitions/promote`)
    expect(promoted.status).toBe(200)
    expect(await json(promoted)).toMatchObject({
      version: { version: "1.0.0", state: "production", aliases: [] },
      event: { _tag: "Promoted", version: "1.0.0", supersedes: null },
    })
    const again = await post(`${base}/models/resnet/versions/1.0.0/transitions/promote`)
    expect(await json(again)).toMatchObject({ version: { state: "production" }, event: null })
    const viaOldRoute = await post(`${base}/models/resnet/versions/1.1.0/promote`)
    expect(await json(viaOldRoute)).toMatchObject({ event: { _tag: "Promoted", supersedes: "1.0.0" } })
    const demoted = await post(`${base}/models/resnet/versions/1.1.0/transitions/supersede`)
    expect(await json(demoted)).toMatchObject({ version: { state: "registered" } })
    expect(await outcomeOf(await post(`${base}/models/resnet/versions/1.0.0/deprecate`))).toBe("200 ok")
  })

  it("refuses a transition with the table's status", async () => {
    const cases: Array<[string, Promise<Response>, string]> = [
      [
        "event the lifecycle lacks",
        post(`${base}/models/resnet/versions/1.1.0/transitions/archive`),
        "409 InvalidTransition",
      ],
      [
        "from a terminal state",
        post(`${base}/models/resnet/versions/1.0.0/transitions/promote`),
        "409 InvalidTransition",
      ],
      ["event not a name", post(`${base}/models/resnet/versions/1.1.0/transitions/1up`), "400 InvalidInput"],
      ["unknown version", post(`${base}/models/resnet/versions/9.9.9/transitions/promote`), "404 VersionNotFound"],
      ["unknown model", post(`${base}/models/ghost/versions/1.0.0/transitions/promote`), "404 ModelNotFound"],
      ["bad version", post(`${base}/models/resnet/versions/1.0/transitions/promote`), "400 InvalidInput"],
      [
        "not declared JSON",
        fetch(`${base}/models/resnet/versions/1.1.0/transitions/promote`, { method: "POST" }),
        "415 UnsupportedMediaType",
      ],
    ]
    for (const [label, pending, expected] of cases)
      expect({ label, outcome: await outcomeOf(await pending) }).toEqual({ label, outcome: expected })
  })

  it("sets, moves, reads and removes an alias; versions and summaries carry it; removal is idempotent", async () => {
    const set = await put(`${base}/models/resnet/aliases/champion`, { version: "1.1.0" })
    expect(set.status).toBe(200)
    expect(await json(set)).toMatchObject({
      alias: "champion",
      version: { version: "1.1.0", aliases: ["champion"] },
      event: { _tag: "AliasSet", alias: "champion", version: "1.1.0", previous: null },
    })
    expect(await json(await put(`${base}/models/resnet/aliases/champion`, { version: "1.1.0" }))).toMatchObject({
      event: null,
    })
    const moved = await put(`${base}/models/resnet/aliases/champion`, { version: "1.0.0" })
    expect(await json(moved)).toMatchObject({ event: { _tag: "AliasSet", version: "1.0.0", previous: "1.1.0" } })

    const got = await fetch(`${base}/models/resnet/aliases/champion`)
    expect(got.status).toBe(200)
    expect(await json(got)).toMatchObject({ version: "1.0.0", state: "deprecated", aliases: ["champion"] })
    expect(await json(await fetch(`${base}/models/resnet/versions/1.1.0`))).toMatchObject({ aliases: [] })
    expect(await json(await fetch(`${base}/models`))).toEqual([
      expect.objectContaining({ name: "resnet", aliases: { champion: "1.0.0" } }),
    ])

    const removed = await fetch(`${base}/models/resnet/aliases/champion`, { method: "DELETE" })
    expect(removed.status).toBe(200)
    expect(await json(removed)).toMatchObject({
      alias: "champion",
      version: { version: "1.0.0", aliases: [] },
      event: { _tag: "AliasRemoved", alias: "champion", version: "1.0.0" },
    })
    const removedAgain = await fetch(`${base}/models/resnet/aliases/champion`, { method: "DELETE" })
    expect(removedAgain.status).toBe(200)
    expect(await json(removedAgain)).toEqual({ alias: "champion", version: null, event: null })
    expect(await outcomeOf(await fetch(`${base}/models/resnet/aliases/champion`))).toBe("404 AliasNotFound")
  })

  it("refuses a bad alias request with the table's status, changing nothing", async () => {
    const alias = `${base}/models/resnet/aliases/staging`
    const cases: Array<[string, Promise<Response>, string]> = [
      ["not JSON", put(alias, "{"), "400 InvalidInput"],
      ["not an object", put(alias, [1]), "400 InvalidInput"],
      ["no version", put(alias, {}), "400 InvalidInput"],
      ["unknown field", put(alias, { version: "1.1.0", force: true }), "400 InvalidInput"],
      ["bad version", put(alias, { version: "one" }), "400 InvalidInput"],
      ["bad alias name", put(`${base}/models/resnet/aliases/1x`, { version: "1.1.0" }), "400 InvalidInput"],
      ["unknown version", put(alias, { version: "9.9.9" }), "404 VersionNotFound"],
      ["unknown model", put(`${base}/models/ghost/aliases/staging`, { version: "1.1.0" }), "404 ModelNotFound"],
      ["not declared JSON", put(alias, { version: "1.1.0" }, "text/plain"), "415 UnsupportedMediaType"],
      ["read unknown model", fetch(`${base}/models/ghost/aliases/staging`), "404 ModelNotFound"],
      ["remove on unknown model", fetch(`${base}/models/ghost/aliases/x`, { method: "DELETE" }), "404 ModelNotFound"],
      ["remove bad alias name", fetch(`${base}/models/resnet/aliases/-`, { method: "DELETE" }), "400 InvalidInput"],
    ]
    for (const [label, pending, expected] of cases)
      expect({ label, outcome: await outcomeOf(await pending) }).toEqual({ label, outcome: expected })
    expect(await outcomeOf(await fetch(alias))).toBe("404 AliasNotFound")
  })

  it("describes the lifecycle as JSON and as Mermaid", async () => {
    const described = await fetch(`${base}/lifecycle`)
    expect(described.status).toBe(200)
    expect(await json(described)).toMatchObject({
      name: "default",
      initial: "registered",
      states: ["registered", "production", "deprecated"],
      terminal: ["deprecated"],
      exclusive: { production: "supersede" },
      aliases: {},
    })
    expect(await json(await fetch(`${base}/lifecycle?format=json`))).toMatchObject({ name: "default" })
    const diagram = await fetch(`${base}/lifecycle?format=mermaid`)
    expect(diagram.status).toBe(200)
    expect(diagram.headers.get("content-type")).toContain("text/vnd.mermaid")
    const text = await diagram.text()
    expect(text).toMatch(/^stateDiagram-v2\n/)
    expect(text).toContain("  [*] --> registered\n")
    expect(text).toContain("  deprecated --> [*]\n")
    for (const bad of ["format=svg", "format=mermaid&format=json"])
      expect(await outcomeOf(await fetch(`${base}/lifecycle?${bad}`))).toBe("400 InvalidInput")
  })
})

describe("a server running MLflow's stages", () => {
  let server: InProcessServer
  let base: string
  beforeAll(async () => {
    server = await serveMemory({ lifecycle: mlflowStages })
    base = server.url
  })
  afterAll(async () => {
    await server?.close()
  })

  it("runs its events, enforces its alias constraints and exclusive state, and streams the new events", async () => {
    for (const version of ["1.0.0", "2.0.0"])
      expect(await json(await post(`${base}/models/bert/versions`, { version }))).toMatchObject({ state: "none" })
    expect(await json(await post(`${base}/models/bert/versions/1.0.0/transitions/stage`))).toMatchObject({
      event: { _tag: "Transitioned", event: "stage", from: "none", to: "staging" },
    })
    expect(await outcomeOf(await put(`${base}/models/bert/aliases/champion`, { version: "1.0.0" }))).toBe("200 ok")
    const refused = await put(`${base}/models/bert/aliases/champion`, { version: "2.0.0" })
    expect(refused.status).toBe(409)
    expect(await json(refused)).toMatchObject({
      error: { tag: "AliasNotAllowed", alias: "champion", version: "2.0.0", state: "none" },
    })
    expect(await outcomeOf(await post(`${base}/models/bert/versions/1.0.0/promote`))).toBe("200 ok")
    const displacing = await post(`${base}/models/bert/versions/2.0.0/transitions/promote`)
    expect(await json(displacing)).toMatchObject({
      version: { version: "2.0.0", state: "production" },
      event: {
        _tag: "Transitioned",
        displaced: [{ version: "1.0.0", from: "production", to: "archived" }],
        aliasesCleared: [{ alias: "champion", version: "1.0.0" }],
      },
    })
    expect(await outcomeOf(await post(`${base}/models/bert/versions/2.0.0/deprecate`))).toBe("409 InvalidTransition")
    expect(await outcomeOf(await put(`${base}/models/bert/aliases/champion`, { version: "2.0.0" }))).toBe("200 ok")
    expect(await outcomeOf(await fetch(`${base}/models/bert/aliases/champion`, { method: "DELETE" }))).toBe("200 ok")
    expect(await json(await fetch(`${base}/lifecycle`))).toMatchObject({
      name: "mlflow-stages",
      exclusive: { production: "archive" },
      aliases: { champion: ["production", "staging"] },
    })
    // An empty directory opened under another lifecycle than the default records the move first.
    expect(await eventTypes(base, 9)).toEqual([
      "LifecycleChanged",
      "Registered",
      "Registered",
      "Transitioned",
      "AliasSet",
      "Transitioned",
      "Transitioned",
      "AliasSet",
      "AliasRemoved",
    ])
  })
})
