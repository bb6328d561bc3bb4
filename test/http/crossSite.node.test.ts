/**
 * What a web page the user visits can do to the loopback server, against the real server in a child process:
 * cross-site writes (a "simple" fetch or a form post with a foreign Origin, a POST without a JSON content type),
 * DNS rebinding (a foreign Host), and CORS preflights; and the legitimate same-origin, allowed-origin and
 * allowed-host requests that must still work. Node's `http.request` is used because fetch forbids setting
 * `Host` and `Origin`.
 */
import { request as httpRequest } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { json, post, type ServerProcess, startServer, tempDir } from "./serverProcess.ts"

interface Answer {
  readonly status: number
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly body: string
}

const send = (url: string, method: string, headers: Record<string, string>, body?: string): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, headers }, (response) => {
      let text = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => {
        text += chunk
      })
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }))
      response.on("error", reject)
    })
    request.on("error", reject)
    request.end(body)
  })

const errorTag = (answer: Answer) => (JSON.parse(answer.body) as { error: { tag: string; message: string } }).error

const stateOf = async (base: string, name: string, version: string) =>
  ((await json(await fetch(`${base}/models/${name}/versions/${version}`))) as { state: string }).state

const evil = "http://evil.example"

describe("a loopback server with no token refuses what a web page sends it", () => {
  let server: ServerProcess
  let base: string
  let authority: string

  beforeAll(async () => {
    server = await startServer(tempDir("cross-site"))
    base = server.url
    authority = new URL(base).host
    for (const version of ["1.0.0", "2.0.0", "3.0.0"])
      expect((await post(`${base}/models/m/versions`, { version })).status).toBe(201)
  })
  afterAll(async () => {
    await server?.stop("SIGKILL")
  })

  it("refuses a cross-origin promote (text/plain) and deprecate (form body); the registry is unchanged", async () => {
    const promote = await send(`${base}/models/m/versions/1.0.0/promote`, "POST", {
      "content-type": "text/plain",
      origin: evil,
    })
    expect(promote.status).toBe(403)
    expect(errorTag(promote)).toMatchObject({ tag: "CrossOrigin" })
    const deprecate = await send(
      `${base}/models/m/versions/1.0.0/deprecate`,
      "POST",
      { "content-type": "application/x-www-form-urlencoded", origin: evil },
      "a=b",
    )
    expect(deprecate.status).toBe(403)
    expect(errorTag(deprecate)).toMatchObject({ tag: "CrossOrigin" })
    const register = await send(
      `${base}/models/m/versions`,
      "POST",
      { "content-type": "application/json", origin: evil },
      JSON.stringify({ version: "9.0.0" }),
    )
    expect(register.status).toBe(403)
    const read = await send(`${base}/models`, "GET", { origin: evil })
    expect(read.status).toBe(403)
    expect(await stateOf(base, "m", "1.0.0")).toBe("registered")
    expect((await fetch(`${base}/models/m/versions/9.0.0`)).status).toBe(404)
  })

  it("refuses every POST that does not declare JSON, with or without a body; the registry is unchanged", async () => {
    for (const headers of [{}, { "content-type": "text/plain" }, { "content-type": "multipart/form-data; b=x" }]) {
      for (const action of ["promote", "deprecate"]) {
        const answer = await send(`${base}/models/m/versions/1.0.0/${action}`, "POST", headers)
        expect({ action, headers, status: answer.status }).toEqual({ action, headers, status: 415 })
        expect(errorTag(answer)).toMatchObject({ tag: "UnsupportedMediaType" })
      }
    }
    expect(await stateOf(base, "m", "1.0.0")).toBe("registered")
  })

  it("refuses a foreign Host (DNS rebinding) with 421 and the error body, for reads and writes", async () => {
    for (const host of ["evil.example", `evil.example:${new URL(base).port}`, "127.0.0.1.evil.example", "[::2]"]) {
      const read = await send(`${base}/models/m/versions`, "GET", { host })
      expect({ host, status: read.status }).toEqual({ host, status: 421 })
      expect(errorTag(read)).toMatchObject({ tag: "MisdirectedRequest" })
      const write = await send(`${base}/models/m/versions/2.0.0/promote`, "POST", {
        host,
        origin: `http://${host}`,
        "content-type": "application/json",
      })
      expect({ host, status: write.status }).toEqual({ host, status: 421 })
    }
    expect(await stateOf(base, "m", "2.0.0")).toBe("registered")
  })

  it("serves loopback host names, with or without the port, and same-origin writes", async () => {
    const port = new URL(base).port
    for (const host of ["127.0.0.1", `127.0.0.1:${port}`, "localhost", `LOCALHOST:${port}`, "[::1]", `[::1]:${port}`])
      expect({ host, status: (await send(`${base}/models`, "GET", { host })).status }).toEqual({ host, status: 200 })
    const promoted = await send(`${base}/models/m/versions/2.0.0/promote`, "POST", {
      origin: `http://${authority}`,
      "content-type": "application/json",
    })
    expect(promoted.status).toBe(200)
    const viaLocalhost = await send(`${base}/models/m/versions/3.0.0/deprecate`, "POST", {
      host: `localhost:${port}`,
      origin: `http://localhost:${port}`,
      "content-type": "application/json; charset=utf-8",
    })
    expect(viaLocalhost.status).toBe(200)
    expect(await stateOf(base, "m", "2.0.0")).toBe("production")
    expect(await stateOf(base, "m", "3.0.0")).toBe("deprecated")
  })

  it("answers a preflight from a foreign origin with 403 and no CORS headers", async () => {
    const preflight = await send(`${base}/models/m/versions/1.0.0/promote`, "OPTIONS", {
      origin: evil,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type",
    })
    expect(preflight.status).toBe(403)
    expect(errorTag(preflight)).toMatchObject({ tag: "CrossOrigin" })
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined()
  })
})

describe("a server with --allow-origin and --allow-host", () => {
  const app = "http://app.example:3000"
  let server: ServerProcess
  let base: string

  beforeAll(async () => {
    server = await startServer(tempDir("cross-site-allowed"), {
      args: [
        "--allow-origin",
        `${app},https://b.example`,
        "--allow-origin",
        "http://c.example",
        "--allow-host",
        "registry.lan",
      ],
    })
    base = server.url
    expect((await post(`${base}/models/m/versions`, { version: "1.0.0" })).status).toBe(201)
  })
  afterAll(async () => {
    await server?.stop("SIGKILL")
  })

  it("answers an allowed origin's preflight with the CORS headers", async () => {
    for (const origin of [app, "https://b.example", "http://c.example"]) {
      const preflight = await send(`${base}/models/m/versions/1.0.0/promote`, "OPTIONS", {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, authorization",
      })
      expect({ origin, status: preflight.status }).toEqual({ origin, status: 204 })
      expect(preflight.headers["access-control-allow-origin"]).toBe(origin)
      expect(preflight.headers["access-control-allow-methods"]).toContain("POST")
      expect(preflight.headers["access-control-allow-headers"]).toContain("content-type")
    }
    const refused = await send(`${base}/models`, "OPTIONS", { origin: "http://app.example:3001" })
    expect(refused.status).toBe(403)
  })

  it("serves an allowed origin's JSON writes with the CORS header, and still refuses its non-JSON ones", async () => {
    const plain = await send(`${base}/models/m/versions/1.0.0/promote`, "POST", {
      origin: app,
      "content-type": "text/plain",
    })
    expect(plain.status).toBe(415)
    expect(plain.headers["access-control-allow-origin"]).toBe(app)
    const promoted = await send(`${base}/models/m/versions/1.0.0/promote`, "POST", {
      origin: app,
      "content-type": "application/json",
    })
    expect(promoted.status).toBe(200)
    expect(promoted.headers["access-control-allow-origin"]).toBe(app)
    expect(await stateOf(base, "m", "1.0.0")).toBe("production")
  })

  it("serves the configured host name besides the loopback ones, and refuses others", async () => {
    expect((await send(`${base}/models`, "GET", { host: "registry.lan:8080" })).status).toBe(200)
    expect((await send(`${base}/models`, "GET", { host: "localhost" })).status).toBe(200)
    expect((await send(`${base}/models`, "GET", { host: "registry.lan.evil.example" })).status).toBe(421)
  })
})

describe("cross-site configuration", () => {
  it("refuses an --allow-origin that is not an origin, and an --allow-host with a port", async () => {
    for (const args of [
      ["--allow-origin", "http://app.example/path"],
      ["--allow-origin", "app.example"],
      ["--allow-host", "registry.lan:8080"],
    ])
      await expect(startServer(tempDir("cross-site-bad"), { args })).rejects.toThrow(
        /exited \(1\)[\s\S]*allow(Origin|Host): /,
      )
  })

  it("turns the host check off on a non-loopback bind (which requires a token) unless hosts are configured", async () => {
    const server = await startServer(tempDir("cross-site-public"), { args: ["--host", "0.0.0.0", "--token", "t"] })
    try {
      const url = server.url.replace("0.0.0.0", "127.0.0.1")
      const answer = await send(`${url}/models`, "GET", { host: "registry.example.com", authorization: "Bearer t" })
      expect(answer.status).toBe(200)
    } finally {
      await server.stop("SIGKILL")
    }
  })
})
