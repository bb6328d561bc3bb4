/**
 * Who may, on both lanes: every declared route asked by every role (and by no token) is let through exactly when the
 * role the route declares allows it, else 401 (no token) or 403 `Forbidden` naming the role it needs and the one the
 * token has; the fast lane and the platform answer alike. What an admitted token writes names it as the actor, in
 * the write's answer and on the event stream; a server without tokens names `(anonymous)`.
 */
import { Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { anonymousActor } from "../../src/domain/Actor.ts"
import { declaredRouteList } from "../../src/http/Api.ts"
import { defaultPublicRoutes } from "../../src/http/serverDefaults.ts"
import { type Role, roleAllows, roles, type Token } from "../../src/http/tokens.ts"
import { type InProcessServer, serveMemory } from "./inProcessServer.ts"

const tokens: ReadonlyArray<Token> = [
  { name: "reader-1", role: "reader", secret: "r-secret" },
  { name: "ci", role: "writer", secret: "w-secret" },
  { name: "alice", role: "admin", secret: "a-secret" },
]
const secretOf = (role: Role) => tokens.find((token) => token.role === role)!.secret

const parameters: Record<string, string> = { name: "m", version: "1.0.0", event: "promote", alias: "live" }
const bodies: Record<string, string> = {
  register: '{"version":"1.0.0"}',
  setAlias: '{"version":"1.0.0"}',
  annotate: '{"tags":{"k":"v"}}',
  annotateModel: '{"description":"d"}',
}

interface Answer {
  readonly status: number
  readonly body: string
}

/** Sends one request; an event stream is cut once its head arrives. */
const send = async (base: string, method: string, path: string, body: string | undefined, secret?: string) => {
  const controller = new AbortController()
  const response = await fetch(`${base}${path}`, {
    method,
    signal: controller.signal,
    headers: {
      ...(secret === undefined ? {} : { authorization: `Bearer ${secret}` }),
      ...(method === "POST" || method === "PUT" || method === "PATCH" ? { "content-type": "application/json" } : {}),
    },
    ...(body === undefined ? {} : { body }),
  })
  if (response.headers.get("content-type")?.startsWith("text/event-stream")) {
    controller.abort()
    return { status: response.status, body: "" }
  }
  return { status: response.status, body: await response.text() }
}

describe.each([true, false])("roles, fast lane %s", (fastLane) => {
  let server: InProcessServer
  beforeAll(async () => {
    server = await serveMemory({}, { tokens, fastLane, drainMs: 0 })
    // The version every route's path names, so a permitted request reaches its handler and its real answer.
    const made = await send(server.url, "POST", "/models/m/versions", bodies.register, secretOf("writer"))
    expect(made.status).toBe(201)
  })
  afterAll(() => server.close())

  it("lets each route through for the roles its declaration allows, 403 Forbidden for the others", async () => {
    for (const route of declaredRouteList()) {
      const path = route.path.replace(/:(\w+)/g, (_, name: string) => parameters[name]!)
      for (const role of roles) {
        const answer: Answer = await send(server.url, route.method, path, bodies[route.name], secretOf(role))
        if (roleAllows(role, route.role))
          expect([401, 403], `${role} ${route.method} ${path}`).not.toContain(answer.status)
        else {
          expect(answer.status, `${role} ${route.method} ${path}`).toBe(403)
          expect(JSON.parse(answer.body)).toEqual({
            error: { tag: "Forbidden", required: route.role, role, message: expect.stringContaining(route.role) },
          })
        }
      }
      const anonymous = await send(server.url, route.method, path, bodies[route.name])
      const open = route.method === "GET" && (defaultPublicRoutes as ReadonlyArray<string>).includes(route.name)
      if (open) expect(anonymous.status).not.toBe(401)
      else expect(anonymous.status, `no token ${route.method} ${path}`).toBe(401)
    }
  })

  it("judges the path the router routes: a suffix or percent-encoding needs the same role, an unknown path an admin's", async () => {
    for (const path of ["/models/m/versions/1.0.0/promote;x", "/models/m/versions/1.0.0/pr%6Fmote"]) {
      const refused = await send(server.url, "POST", path, undefined, secretOf("writer"))
      expect(refused.status, path).toBe(403)
      expect(JSON.parse(refused.body).error).toMatchObject({ tag: "Forbidden", required: "admin", role: "writer" })
    }
    expect((await send(server.url, "GET", "/nowhere", undefined, secretOf("reader"))).status).toBe(403)
    expect((await send(server.url, "GET", "/nowhere", undefined, secretOf("admin"))).status).toBe(404)
    for (const docs of ["/docs", "/openapi.json"])
      expect((await send(server.url, "GET", docs, undefined, secretOf("reader"))).status).toBe(200)
  })

  it("declares a writer's role on register and annotations, an admin's on every version, alias or archive change", () => {
    const roleOf = (name: string) => declaredRouteList().find((route) => route.name === name)?.role
    for (const name of ["register", "annotate", "annotateModel"]) expect(roleOf(name)).toBe("writer")
    for (const name of [
      "promote",
      "deprecate",
      "transition",
      "setAlias",
      "removeAlias",
      "archiveModel",
      "restoreModel",
    ])
      expect(roleOf(name)).toBe("admin")
    for (const name of [
      "listModels",
      "getModel",
      "listVersions",
      "getVersion",
      "getAlias",
      "versionHistory",
      "modelHistory",
      "events",
      "describe",
    ])
      expect(roleOf(name)).toBe("reader")
  })

  it("records the token's name as the actor, in the answer and on the event stream", async () => {
    const registered = await send(server.url, "POST", "/models/n/versions", bodies.register, secretOf("writer"))
    expect(registered.status).toBe(201)
    const promoted = await send(server.url, "POST", "/models/n/versions/1.0.0/promote", undefined, secretOf("admin"))
    expect(JSON.parse(promoted.body).event).toMatchObject({ _tag: "Promoted", actor: "alice" })
    const ofN = (events: ReadonlyArray<StreamedEvent>) =>
      events.filter((event) => (event.name ?? event.metadata?.name) === "n").map((event) => [event._tag, event.actor])
    const streamed = await eventData(server.url, (events) => ofN(events).length >= 2, secretOf("reader"))
    expect(ofN(streamed)).toEqual([
      ["Registered", "ci"],
      ["Promoted", "alice"],
    ])
  })

  it("tells each token who it is at /whoami, so a client offers only what its role may do", async () => {
    for (const token of tokens) {
      const answer = await send(server.url, "GET", "/whoami", undefined, token.secret)
      expect({ status: answer.status, body: JSON.parse(answer.body) }).toEqual({
        status: 200,
        body: { name: token.name, role: token.role },
      })
    }
    expect((await send(server.url, "GET", "/whoami", undefined)).status).toBe(401)
  })
})

interface StreamedEvent {
  readonly _tag: string
  readonly actor: string
  readonly name?: string
  readonly metadata?: { readonly name: string }
}

/** The events of `/events?from=1`, as their `data:` lines hold them, once `enough` says so. */
const eventData = async (
  base: string,
  enough: (events: ReadonlyArray<StreamedEvent>) => boolean,
  secret?: string,
): Promise<ReadonlyArray<StreamedEvent>> => {
  const controller = new AbortController()
  const response = await fetch(`${base}/events?from=1`, {
    signal: controller.signal,
    headers: secret === undefined ? {} : { authorization: `Bearer ${secret}` },
  })
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let text = ""
  const data = (): Array<StreamedEvent> => [...text.matchAll(/^data: (.*)$/gm)].map((match) => JSON.parse(match[1]!))
  while (!enough(data())) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  controller.abort()
  return data()
}

describe("a server without tokens", () => {
  it("names its writes (anonymous), on either lane", async () => {
    for (const fastLane of [true, false]) {
      const server = await serveMemory({}, { token: Option.none(), fastLane, drainMs: 0 })
      try {
        expect((await send(server.url, "POST", "/models/m/versions", bodies.register)).status).toBe(201)
        expect((await eventData(server.url, (events) => events.length > 0))[0]!.actor).toBe(anonymousActor)
        expect(JSON.parse((await send(server.url, "GET", "/whoami", undefined)).body)).toEqual({
          name: anonymousActor,
          role: "admin",
        })
      } finally {
        await server.close()
      }
    }
  })
})
