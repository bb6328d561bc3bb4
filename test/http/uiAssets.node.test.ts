/**
 * The web UI's files as the Node server serves them (src/http/uiAssets.ts), from a directory laid out as Vite builds
 * dist/ui: `/` and `/ui` send a browser to `/ui/`, files come with their type, the policy and cache headers, an app
 * page gets the app, a missing asset and an unbuilt UI are typed 404s, and none of it needs the token.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { contentSecurityPolicy } from "../../src/http/uiAssets.ts"
import { type InProcessServer, serveMemory } from "./inProcessServer.ts"

const built = () => {
  const directory = mkdtempSync(join(tmpdir(), "ui-assets-"))
  mkdirSync(join(directory, "assets"))
  writeFileSync(
    join(directory, "index.html"),
    '<!doctype html><script type="module" src="/ui/assets/app-1a2b.js"></script>',
  )
  writeFileSync(join(directory, "assets", "app-1a2b.js"), "console.log('app')")
  writeFileSync(join(directory, "assets", "app-1a2b.css"), "body{}")
  return directory
}

describe("the web UI's files", () => {
  let server: InProcessServer
  beforeAll(async () => {
    server = await serveMemory({}, { uiDirectory: built(), token: Option.some("ui-secret") })
  })
  afterAll(() => server?.close())

  const get = (path: string) => fetch(`${server.url}${path}`, { redirect: "manual" })

  it("sends a browser from / and /ui to /ui/, and serves every file without the token, with its type and policy", async () => {
    for (const path of ["/", "/ui"]) {
      const response = await get(path)
      expect({ path, status: response.status, location: response.headers.get("location") }).toEqual({
        path,
        status: 302,
        location: "/ui/",
      })
    }
    const page = await get("/ui/")
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8")
    expect(page.headers.get("content-security-policy")).toBe(contentSecurityPolicy)
    expect(page.headers.get("cache-control")).toBe("no-cache")
    expect(await page.text()).toContain("app-1a2b.js")
    const script = await get("/ui/assets/app-1a2b.js")
    expect([script.status, script.headers.get("content-type"), script.headers.get("cache-control")]).toEqual([
      200,
      "text/javascript; charset=utf-8",
      "public, max-age=31536000, immutable",
    ])
    expect((await get("/ui/assets/app-1a2b.css")).headers.get("content-type")).toBe("text/css; charset=utf-8")
    // The API itself still needs the token.
    expect((await get("/models")).status).toBe(401)
  })

  it("answers an app page with the app, and a missing asset or an escaping path with a typed 404", async () => {
    const deep = await get("/ui/models/resnet/versions/1.2.0?tab=history")
    expect([deep.status, await deep.text()]).toEqual([200, expect.stringContaining("app-1a2b.js")])
    for (const path of ["/ui/assets/gone-9f9f.js", "/ui/favicon.ico", "/ui/..%2F..%2Fetc%2Fpasswd.txt"]) {
      const response = await get(path)
      expect({
        path,
        status: response.status,
        tag: ((await response.json()) as { error: { tag: string } }).error.tag,
      }).toEqual({ path, status: 404, tag: "RouteNotFound" })
    }
    expect((await get("/ui/a%zz")).status).toBe(400)
  })

  it("says the UI is not built when its directory has none", async () => {
    const bare = await serveMemory({}, { uiDirectory: mkdtempSync(join(tmpdir(), "ui-none-")) })
    try {
      const response = await fetch(`${bare.url}/ui/`)
      expect(response.status).toBe(404)
      expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/not built/)
    } finally {
      await bare.close()
    }
  })
})
