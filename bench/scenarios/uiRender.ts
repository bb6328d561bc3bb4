/**
 * The web UI's first render: Chromium (Debian's, through playwright-core) opening `/ui/` on a registry of 10,000
 * models, from the navigation's start to the first frame painted with the models list's rows, beside the same
 * browser painting a static page with the same 50-row table from a bare `node:http` server, in the same run. The
 * ratio is what the app (its script, the API call, rendering) costs over the browser drawing the table at all.
 */
import { existsSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { chromium, type Page } from "playwright-core"
import type { RunContext } from "../harness/context.ts"
import { ensureFreshDist, startServer } from "../harness/servers.ts"
import { median } from "../harness/stats.ts"

const chromiumPath = "/usr/bin/chromium"

export interface UiRenderResult {
  readonly models: number
  readonly uiMs: ReadonlyArray<number>
  readonly staticMs: ReadonlyArray<number>
  readonly medianUiMs: number
  readonly medianStaticMs: number
  readonly ratio: number
}

/** From the navigation's start to the first frame painted once a row is in the document. */
const firstRowMs = async (page: Page, url: string): Promise<number> => {
  await page.goto(url)
  await page.locator("tbody tr").first().waitFor()
  return page.evaluate(
    () => new Promise<number>((resolve) => requestAnimationFrame(() => setTimeout(() => resolve(performance.now())))),
  )
}

const staticTable = (rows: number) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>models</title></head><body><table><thead>` +
  "<tr><th>Model</th><th>Production</th><th>Aliases</th><th>Versions</th><th>Last change</th></tr></thead><tbody>" +
  Array.from(
    { length: rows },
    (_, i) =>
      `<tr><td><a href="#">m${String(i).padStart(5, "0")}</a></td><td>1.0.0</td><td>—</td><td>1</td>` +
      "<td>2026-12-04 12:00:00 UTC</td></tr>",
  ).join("") +
  "</tbody></table></body></html>"

export const runUiRender = async (context: RunContext, models: number): Promise<UiRenderResult | undefined> => {
  if (!existsSync(chromiumPath)) {
    context.log(`ui-render: skipped, ${chromiumPath} is missing (apt-get install chromium)`)
    return undefined
  }
  ensureFreshDist(context.log)
  const scratch = await context.scratch("ui-render")
  const server = await startServer(scratch.path)
  const page50 = staticTable(50)
  const bare = createServer((_, response) => response.writeHead(200, { "content-type": "text/html" }).end(page50))
  await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve))
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"],
  })
  try {
    context.log(`ui-render: registering ${models} models`)
    let next = 0
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < models) {
          const i = next++
          const response = await fetch(`${server.url}/models/m${String(i).padStart(5, "0")}/versions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ version: "1.0.0", metrics: { accuracy: i / models } }),
          })
          if (response.status !== 201) throw new Error(`register answered ${response.status}`)
        }
      }),
    )
    const page = await browser.newPage()
    const staticUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/`
    // One discarded pass each: the browser's caches warm, as for any user's second visit.
    await firstRowMs(page, `${server.url}/ui/`)
    await firstRowMs(page, staticUrl)
    const repetitions = context.options.smoke ? 1 : 7
    const uiMs: Array<number> = []
    const staticMs: Array<number> = []
    for (let i = 0; i < repetitions; i++) {
      uiMs.push(await firstRowMs(page, `${server.url}/ui/`))
      staticMs.push(await firstRowMs(page, staticUrl))
      context.log(
        `  rep ${i + 1}/${repetitions}: UI ${uiMs.at(-1)!.toFixed(0)} ms, static ${staticMs.at(-1)!.toFixed(0)} ms`,
      )
    }
    const medianUiMs = median(uiMs)
    const medianStaticMs = median(staticMs)
    return { models, uiMs, staticMs, medianUiMs, medianStaticMs, ratio: medianUiMs / medianStaticMs }
  } finally {
    await browser.close()
    bare.close()
    await server.stop()
    await scratch.release()
  }
}
