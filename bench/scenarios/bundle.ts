/**
 * Bundle size: what the edge entries cost to ship, beside the smallest Worker that serves an Effect `HttpApi` with
 * Swagger UI, bundled the same way in the same run. Each entry is bundled by esbuild as `wrangler deploy` does
 * (scripts/bundleWorker.mjs, minified), then gzipped (level 9, what the
 * Workers size limit counts) and brotli-compressed. What dominates each bundle comes from esbuild's metafile: its
 * bytes in the minified output, by package (or by `src/` folder for our own code).
 */

import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { brotliCompressSync, constants, gzipSync } from "node:zlib"
import * as esbuild from "esbuild"
import { workerBuildOptions } from "../../scripts/bundleWorker.mjs"
import type { RunContext } from "../harness/context.ts"

const repository = fileURLToPath(new URL("../../", import.meta.url))

export interface BundleShare {
  /** A package (`effect`, `@effect/platform`) or one of our `src/` folders. */
  readonly part: string
  readonly bytes: number
}

export interface BundleCell {
  readonly entry: string
  readonly role: "ours" | "reference"
  readonly minifiedBytes: number
  readonly gzipBytes: number
  readonly brotliBytes: number
  /** The largest parts of the minified output, largest first. */
  readonly shares: ReadonlyArray<BundleShare>
}

export interface BundleResult {
  readonly cells: ReadonlyArray<BundleCell>
  /** The Worker's gzipped size over the reference Worker's. */
  readonly workerRatio: number
  /** The web UI's page weight (its JS and CSS as Vite built them into dist/ui), beside Preact's own floor. */
  readonly ui?: { readonly page: BundleCell; readonly reference: BundleCell }
}

/** The reference page: Preact rendering one element, bundled for the browser and minified as Vite does. */
const preactFloor = `import { h, render } from "preact"
render(h("p", null, "hello"), document.body)
`

const compressed = (
  entry: string,
  role: BundleCell["role"],
  output: Uint8Array,
  shares: ReadonlyArray<BundleShare>,
) => ({
  entry,
  role,
  minifiedBytes: output.length,
  gzipBytes: gzipSync(output, { level: 9 }).length,
  brotliBytes: brotliCompressSync(output, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  shares,
})

/** The UI's built JS and CSS, each compressed on its own as a browser fetches them; absent before a build. */
const uiPage = async (): Promise<BundleResult["ui"]> => {
  const assets = join(repository, "dist", "ui", "assets")
  if (!existsSync(assets)) return undefined
  const files = readdirSync(assets).filter((name) => name.endsWith(".js") || name.endsWith(".css"))
  const cells = files.map((name) =>
    compressed(name, "ours", readFileSync(join(assets, name)), [{ part: name, bytes: 0 }]),
  )
  const sum = (key: "minifiedBytes" | "gzipBytes" | "brotliBytes") =>
    cells.reduce((total, cell) => total + cell[key], 0)
  const floor = await esbuild.build({
    stdin: { contents: preactFloor, resolveDir: repository, loader: "ts" },
    bundle: true,
    write: false,
    minify: true,
    format: "esm",
    platform: "browser",
    logLevel: "silent",
    absWorkingDir: repository,
  })
  return {
    page: {
      entry: "Web UI page (`dist/ui`: JS + CSS)",
      role: "ours",
      minifiedBytes: sum("minifiedBytes"),
      gzipBytes: sum("gzipBytes"),
      brotliBytes: sum("brotliBytes"),
      shares: cells.map((cell) => ({ part: cell.entry, bytes: cell.minifiedBytes })),
    },
    reference: compressed("Preact rendering one element (reference)", "reference", floor.outputFiles[0]!.contents, []),
  }
}

/** The reference: one endpoint of an Effect `HttpApi`, with its OpenAPI document and Swagger UI, as a Worker. */
const referenceWorker = `
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpApiSwagger, HttpServer } from "@effect/platform"
import { Effect, Layer, Schema } from "effect"
const Api = HttpApi.make("hello").add(
  HttpApiGroup.make("hello").add(HttpApiEndpoint.get("hello", "/hello").addSuccess(Schema.String)),
)
const HelloLive = HttpApiBuilder.group(Api, "hello", (handlers) => handlers.handle("hello", () => Effect.succeed("hello")))
const { handler } = HttpApiBuilder.toWebHandler(
  HttpApiSwagger.layer({ path: "/docs" }).pipe(
    Layer.provideMerge(HttpApiBuilder.api(Api).pipe(Layer.provide(HelloLive))),
    Layer.merge(HttpServer.layerContext),
  ),
)
export default { fetch: (request) => handler(request) }
`

interface Entry {
  readonly name: string
  readonly role: BundleCell["role"]
  readonly source: { readonly file: string } | { readonly contents: string }
}

const entries: ReadonlyArray<Entry> = [
  { name: "Worker (`src/cloudflare.ts`)", role: "ours", source: { file: "src/cloudflare.ts" } },
  { name: "Deno composition (`src/deno.ts`)", role: "ours", source: { file: "src/deno.ts" } },
  { name: "Effect HttpApi + Swagger Worker (reference)", role: "reference", source: { contents: referenceWorker } },
]

/** The package an input path belongs to, or its `src/` folder; the Swagger UI page on its own. */
const partOf = (input: string): string => {
  // The Swagger UI page's scripts and styles, inlined in one module of @effect/platform: most of every bundle.
  if (input.endsWith("/internal/httpApiSwagger.js")) return "Swagger UI (in @effect/platform)"
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)
  if (inPackage) return inPackage[1]!
  const inSource = /^src\/([^/]+)\//.exec(input)
  return inSource ? `src/${inSource[1]}` : input.startsWith("src/") ? "src (entry)" : input
}

const bundle = async (entry: Entry): Promise<BundleCell> => {
  const result = await esbuild.build({
    ...("file" in entry.source
      ? { entryPoints: [`${repository}${entry.source.file}`] }
      : { stdin: { contents: entry.source.contents, resolveDir: repository, loader: "ts" } }),
    ...workerBuildOptions,
    write: false,
    minify: true,
    metafile: true,
    logLevel: "silent",
    absWorkingDir: repository,
  })
  const output = result.outputFiles[0]!.contents
  const byPart = new Map<string, number>()
  for (const meta of Object.values(result.metafile.outputs))
    for (const [input, { bytesInOutput }] of Object.entries(meta.inputs))
      byPart.set(partOf(input), (byPart.get(partOf(input)) ?? 0) + bytesInOutput)
  return compressed(
    entry.name,
    entry.role,
    output,
    [...byPart]
      .map(([part, bytes]) => ({ part, bytes }))
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 8),
  )
}

export const runBundle = async (context: RunContext): Promise<BundleResult> => {
  const cells: Array<BundleCell> = []
  for (const entry of entries) {
    context.log(`bundle: ${entry.name}`)
    cells.push(await bundle(entry))
  }
  const worker = cells.find((cell) => cell.entry.startsWith("Worker"))!
  const reference = cells.find((cell) => cell.role === "reference")!
  context.log("bundle: the web UI's page")
  const ui = await uiPage()
  return { cells, workerRatio: worker.gzipBytes / reference.gzipBytes, ...(ui === undefined ? {} : { ui }) }
}
