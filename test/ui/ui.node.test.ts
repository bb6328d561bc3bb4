/**
 * The web UI in a real browser (Debian's Chromium through playwright-core) against the real built server: sign in,
 * browse, change the registry through the UI, follow the live feed across a reload, axe-core on every page, a
 * screenshot of each page (test/ui/screenshots/, kept out of git: every run differs in its times; docs/screenshots
 * holds a set), and the models list's first render with 10,000 models (printed,
 * not asserted: the project asserts no timings).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import axe from "axe-core"
import { type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ServerProcess, startServer, tempDir } from "../http/serverProcess.ts"

const chromiumPath = "/usr/bin/chromium"
const secret = "ui-test-secret-0123456789"
const auth = { authorization: `Bearer ${secret}` }
const readerSecret = "ui-test-reader-0123456789"
const writerSecret = "ui-test-writer-0123456789"
const tokenArgs = [
  "--token",
  `alice:admin:${secret}`,
  "--token",
  `bob:reader:${readerSecret}`,
  "--token",
  `carol:writer:${writerSecret}`,
]
const screenshots = fileURLToPath(new URL("./screenshots", import.meta.url))

let registry: ServerProcess
let context: BrowserContext
let page: Page
let profile: string
const problems: string[] = []

const call = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${registry.url}${path}`, {
    method,
    headers: { ...auth, ...(method === "GET" || method === "DELETE" ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
  return response.json() as Promise<unknown>
}

const register = (name: string, version: string, metrics: Record<string, number>, extra: object = {}) =>
  call("POST", `/models/${name}/versions`, { version, metrics, ...extra })

/** Runs axe-core on the page as it is and returns its violations (ids and the nodes they name). */
const axeViolations = async () => {
  // evaluate, not addScriptTag: the page's CSP refuses inline scripts, as it should.
  await page.evaluate(axe.source)
  return page.evaluate(async () => {
    const result = await (
      globalThis as unknown as {
        axe: { run: () => Promise<{ violations: { id: string; nodes: { target: unknown }[] }[] }> }
      }
    ).axe.run()
    return result.violations.map((v) => ({ id: v.id, targets: v.nodes.map((n) => JSON.stringify(n.target)) }))
  })
}

const checkPage = async (shot: string) => {
  expect(await axeViolations()).toEqual([])
  await page.screenshot({ path: join(screenshots, `${shot}.png`), fullPage: true })
}

describe("web UI in Chromium", () => {
  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true })
    registry = await startServer(tempDir("ui"), { args: tokenArgs })
    profile = mkdtempSync(join(tmpdir(), "mr-ui-chromium-"))
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1200, height: 800 },
    })
    page = context.pages()[0] ?? (await context.newPage())
    page.on("console", (message) => {
      // Chromium logs every non-2xx answer and the stream the test cuts; the tests check what the UI makes of those.
      // Anything else (a CSP refusal, an exception) is a problem.
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource: "))
        problems.push(message.text())
    })
    page.on("pageerror", (error) => problems.push(error.message))
    // Offline by construction: the page asks nothing of any origin but the server's (the no-token server's included).
    page.on("request", (request) => {
      if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(request.url()) && request.url() !== "about:blank")
        problems.push(`request to ${request.url()}`)
    })
    await register("resnet", "1.0.0", { accuracy: 0.81, loss: 0.52 }, { tags: { team: "vision" } })
    await register("resnet", "1.1.0", { accuracy: 0.86, loss: 0.41 }, { source: "s3://models/resnet/1.1.0" })
    await register("resnet", "1.2.0", { accuracy: 0.91, loss: 0.47 }, { tags: { team: "vision" } })
    await register("bert", "0.1.0", { f1: 0.7 })
  })

  afterAll(async () => {
    await context?.close()
    await registry?.stop()
    if (profile) rmSync(profile, { recursive: true, force: true })
  })

  it("asks for the token, then lists the models", async () => {
    // `/` sends a browser to the UI.
    await page.goto(`${registry.url}/`)
    expect(new URL(page.url()).pathname).toBe("/ui/")
    await page.getByLabel("Token").fill("not-the-token")
    await page.getByRole("button", { name: "Sign in" }).click()
    // The server's refusal, as it wrote it.
    await expect.poll(() => page.getByRole("alert").innerText()).toMatch(/^Unauthorized: .+/)
    await page.getByLabel("Token").fill(secret)
    expect(await axeViolations()).toEqual([])
    await page.getByRole("button", { name: "Sign in" }).click()
    await expect.poll(() => page.locator("header .who").innerText()).toBe("alice · admin")
    const rows = page.locator("tbody tr")
    await expect.poll(() => rows.count()).toBe(2)
    expect(await rows.first().innerText()).toContain("bert")
    expect(await page.evaluate(() => Object.keys(sessionStorage))).toEqual(["model-registry-token"])
    expect(await page.evaluate(() => localStorage.length)).toBe(0)
    await page.getByLabel("Name starts with").fill("res")
    await page.getByRole("button", { name: "Search" }).click()
    await expect.poll(() => rows.count()).toBe(1)
    await page.getByLabel("Name starts with").fill("")
    await page.getByRole("button", { name: "Search" }).click()
    await expect.poll(() => rows.count()).toBe(2)
    expect(await axeViolations()).toEqual([])
  })

  it("shows a model's versions, sorts them by a metric and charts it", async () => {
    await page.getByRole("link", { name: "resnet" }).click()
    await page.getByRole("heading", { name: "Model resnet" }).waitFor()
    const firstVersion = () => page.locator("tbody tr th").first().innerText()
    expect(await firstVersion()).toBe("1.0.0")
    await page.getByRole("button", { name: "loss" }).click()
    expect(await firstVersion()).toBe("1.1.0")
    await page.getByRole("button", { name: "loss" }).click()
    expect(await firstVersion()).toBe("1.0.0")
    expect(await page.locator("svg.chart circle").count()).toBe(3)
    expect(await page.locator("svg.chart title").textContent()).toBe("accuracy across versions")
    // The same from the keyboard: focus the header's button and press Enter.
    await page.getByRole("button", { name: "accuracy" }).focus()
    await page.keyboard.press("Enter")
    expect(await firstVersion()).toBe("1.0.0")
    await page.keyboard.press("Enter")
    expect(await firstVersion()).toBe("1.2.0")
    await page.getByLabel("Metric").selectOption("loss")
    expect(await page.locator("svg.chart title").textContent()).toBe("loss across versions")
    await checkPage("model")
  })

  it("transitions a version, sets and removes an alias and edits its description through the UI", async () => {
    await page.getByRole("link", { name: "1.2.0" }).click()
    await page.getByRole("heading", { name: "History" }).waitFor()
    // Only what the lifecycle allows from `registered`.
    expect(await page.locator(".transitions button").allInnerTexts()).toEqual([
      "promote (→ production)",
      "deprecate (→ deprecated)",
    ])
    await page.getByRole("button", { name: "promote (→ production)" }).click()
    await page.getByRole("button", { name: "supersede (→ registered)" }).waitFor()
    expect(await page.locator(".timeline li").allInnerTexts()).toEqual([
      expect.stringMatching(/registered by alice/),
      expect.stringMatching(/promoted to production by alice/),
    ])

    await page.getByLabel("Alias").fill("champion")
    await page.getByRole("button", { name: "Set alias to 1.2.0" }).click()
    await page.getByRole("button", { name: "Remove alias champion" }).waitFor()
    expect(((await call("GET", "/models/resnet/aliases/champion")) as { version: string }).version).toBe("1.2.0")
    await page.getByRole("button", { name: "Remove alias champion" }).click()
    await expect.poll(() => page.getByRole("button", { name: "Remove alias champion" }).count()).toBe(0)

    await page.getByLabel("Description (empty removes it)").fill("retrained on v2 data")
    await page.getByRole("button", { name: "Save description" }).click()
    await expect.poll(() => page.locator("dl.fields").innerText()).toContain("retrained on v2 data")
    expect(((await call("GET", "/models/resnet/versions/1.2.0")) as { description: string }).description).toBe(
      "retrained on v2 data",
    )

    await page.getByLabel("Tag").fill("stage")
    await page.getByLabel("Value").fill("qa")
    await page.getByRole("button", { name: "Set tag" }).click()
    await page.getByRole("button", { name: "Remove tag team" }).click()
    await expect
      .poll(async () => ((await call("GET", "/models/resnet/versions/1.2.0")) as { tags: object }).tags)
      .toEqual({ stage: "qa" })
    await expect.poll(() => page.getByRole("button", { name: "Remove tag stage" }).count()).toBe(1)

    // The API's refusal is shown as it is.
    await page.getByLabel("Alias").fill("Not An Alias!")
    await page.getByRole("button", { name: "Set alias to 1.2.0" }).click()
    await expect.poll(() => page.getByRole("alert").innerText()).toMatch(/^InvalidInput: .+/)
    await checkPage("version")
  })

  it("offers each role only what it allows: a reader nothing, a writer the annotations", async () => {
    const signInAs = async (who: string, tokenSecret: string) => {
      await page.getByRole("button", { name: "Sign out" }).click()
      await page.getByLabel("Token").fill(tokenSecret)
      await page.getByRole("button", { name: "Sign in" }).click()
      // The role is known once the header names it; from then on the page offers what it allows.
      await expect.poll(() => page.locator("header .who").innerText()).toBe(who)
      await page.getByRole("heading", { name: "History" }).waitFor()
    }
    await signInAs("bob · reader", readerSecret)
    expect(await page.locator("main").locator("button, form, input, textarea, select").count()).toBe(0)
    expect(await page.getByRole("heading", { name: "Actions" }).count()).toBe(0)

    await signInAs("carol · writer", writerSecret)
    expect(await page.locator("main h3").allInnerTexts()).toEqual(["Description", "Tags"])
    expect(await page.locator(".transitions button").count()).toBe(0)
    expect(await page.getByLabel("Alias").count()).toBe(0)
    await page.getByLabel("Tag").fill("reviewed")
    await page.getByLabel("Value").fill("yes")
    await page.getByRole("button", { name: "Set tag" }).click()
    await expect
      .poll(async () => ((await call("GET", "/models/resnet/versions/1.2.0")) as { tags: object }).tags)
      .toEqual({ stage: "qa", reviewed: "yes" })
    await expect.poll(() => page.locator(".timeline li").last().innerText()).toMatch(/by carol/)
    expect(await axeViolations()).toEqual([])

    await signInAs("alice · admin", secret)
    expect(await page.locator("main h3").allInnerTexts()).toEqual(["Transition", "Aliases", "Description", "Tags"])
  })

  it("draws the lifecycle with the count of versions in each state", async () => {
    await page.getByRole("link", { name: "Lifecycle" }).click()
    await page.locator("svg.lifecycle").waitFor()
    expect(await page.locator("svg.lifecycle .state-count").allTextContents()).toEqual([
      "3 versions",
      "1 version",
      "0 versions",
    ])
    expect(await page.locator("svg.lifecycle path.transition").count()).toBe(4)
    await checkPage("lifecycle")
    // The list again, now with a production version to show.
    await page.getByRole("link", { name: "Models" }).click()
    await expect.poll(() => page.locator("tbody tr").last().innerText()).toMatch(/resnet\s+1\.2\.0.+by carol \(#11\)/)
    await checkPage("models")
  })

  it("follows the live feed and resumes after a reload with no event twice and none missed", async () => {
    await page.getByRole("link", { name: "Live events" }).click()
    await expect.poll(() => page.getByRole("status").innerText()).toMatch(/^live/)
    await register("resnet", "2.0.0", { accuracy: 0.93, loss: 0.3 })
    const items = page.locator(".feed li")
    await expect.poll(() => items.count()).toBe(1)
    expect(await items.first().innerText()).toMatch(/Registered resnet 2\.0\.0/)
    await call("PUT", "/models/resnet/aliases/candidate", { version: "2.0.0" })
    await expect.poll(() => items.count()).toBe(2)
    await checkPage("feed")

    const seqs = async () => (await items.evaluateAll((li) => li.map((l) => Number(l.dataset.seq)))).reverse()
    const seen = await seqs()
    await expect.poll(() => new URL(page.url()).searchParams.get("after")).toBe(String(seen.at(-1)))
    const resumeAt = page.url()
    // Away from the page, two more events are committed; coming back to the same address must show exactly them.
    await page.goto("about:blank")
    await register("bert", "0.2.0", { f1: 0.75 })
    await call("POST", "/models/bert/versions/0.2.0/transitions/promote")
    await page.goto(resumeAt)
    await expect.poll(() => seqs()).toEqual([seen.at(-1)! + 1, seen.at(-1)! + 2])
    await page.reload()
    await expect.poll(() => page.getByRole("status").innerText()).toMatch(/^live/)
    await register("bert", "0.3.0", { f1: 0.8 })
    await expect.poll(() => seqs()).toEqual([seen.at(-1)! + 3])

    // A dropped connection (the server restarted on its port): the page says so, reconnects with Last-Event-ID and
    // gets what was committed meanwhile.
    const { port } = new URL(registry.url)
    await registry.stop()
    await expect.poll(() => page.getByRole("status").innerText()).toMatch(/^reconnecting/)
    registry = await startServer(registry.directory, { args: [...tokenArgs, "--port", port] })
    await register("bert", "0.4.0", { f1: 0.85 })
    // The server asks for a retry after 1 s (`retry: 1000`), past expect.poll's default 1 s.
    await expect.poll(() => seqs(), { timeout: 10_000 }).toEqual([seen.at(-1)! + 3, seen.at(-1)! + 4])
    await expect.poll(() => page.getByRole("status").innerText()).toMatch(/^live: resumed after \d+/)
    expect(problems).toEqual([])
  })

  it("renders the first page of 10,000 models (time printed, not asserted)", async () => {
    const total = 10_000
    // Off the feed page, so the browser does not render 10,000 events while the server writes them.
    await page.goto("about:blank")
    let next = 0
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < total) {
          const i = next++
          await register(`m${String(i).padStart(5, "0")}`, "1.0.0", { accuracy: i / total })
        }
      }),
    )
    const timings: number[] = []
    for (let round = 0; round < 3; round++) {
      await page.goto(`${registry.url}/ui/`)
      await page.locator("tbody tr").first().waitFor()
      // From the navigation's start to the first frame painted with the rows in it.
      timings.push(
        await page.evaluate(
          () =>
            new Promise<number>((resolve) => requestAnimationFrame(() => setTimeout(() => resolve(performance.now())))),
        ),
      )
    }
    console.log(
      `first render of the models list with ${total + 2} models: ${timings.map((ms) => ms.toFixed(0)).join(", ")} ms`,
    )
    expect(await page.locator("tbody tr").count()).toBe(50)
    await page.getByRole("button", { name: "Next page" }).click()
    await expect.poll(() => page.getByText("Page 2", { exact: true }).count()).toBe(1)
  })

  it("needs no sign-in on a server without tokens", async () => {
    const open = await startServer(tempDir("ui-open"))
    try {
      await fetch(`${open.url}/models/solo/versions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ version: "1.0.0" }),
      })
      await page.goto(`${open.url}/ui/`)
      await page.getByRole("link", { name: "solo" }).waitFor()
      expect(await page.getByLabel("Token").count()).toBe(0)
      await expect.poll(() => page.locator("header .who").innerText()).toBe("(anonymous) · admin")
      expect(problems).toEqual([])
    } finally {
      await open.stop()
    }
  })
})
