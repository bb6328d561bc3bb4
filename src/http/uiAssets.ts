/**
 * The web UI's static files (built by Vite from ui/ into dist/ui), served by the Node server at `/ui/`: read once
 * at start, answered from memory, with a strict Content-Security-Policy (the page may load and call only its own
 * origin) and cache headers that let a browser keep the hashed assets for good and ask again for the page. A path
 * under `/ui/` that names no file is one of the app's own pages, so it gets the app's `index.html`. Node-only: it
 * reads a directory of the installed package.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { extname, join, relative, sep } from "node:path"
import { fileURLToPath } from "node:url"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { edgeError } from "../effects/errorStatus.ts"
import { errorResponse } from "./errorResponse.ts"

export const uiPath = "/ui/"

const contentTypes: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
}

/** The page may load scripts, styles, images and fonts from its own origin and call only its own API. */
export const contentSecurityPolicy =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

interface Asset {
  readonly bytes: Uint8Array
  readonly contentType: string
  /** Vite names what it emits under assets/ by content hash, so a name never changes meaning. */
  readonly immutable: boolean
}

export interface UiAssets {
  /** The answer to `GET path` for a path under `/ui/`. */
  readonly answer: (path: string) => HttpServerResponse.HttpServerResponse
  /** Files served; 0 when the UI was not built. */
  readonly files: number
}

/**
 * Where the build put the UI: next to the CLI's bundle (dist/bin → dist/ui) in the package, or the repository's
 * dist/ui when the server runs from its sources.
 */
export const defaultUiDirectory = (): string | undefined =>
  [new URL("../ui/", import.meta.url), new URL("../../dist/ui/", import.meta.url)]
    .map((url) => fileURLToPath(url))
    .find((directory) => existsSync(join(directory, "index.html")))

const filesUnder = (directory: string): Array<string> =>
  readdirSync(directory, { recursive: true, encoding: "utf8" })
    .map((name) => join(directory, name))
    .filter((path) => statSync(path).isFile())

const notBuilt = () =>
  errorResponse(edgeError("RouteNotFound", "the web UI is not built into this installation (npm run build builds it)"))

export const loadUiAssets = (directory: string | undefined): UiAssets => {
  const assets = new Map<string, Asset>()
  if (directory !== undefined && existsSync(join(directory, "index.html")))
    for (const path of filesUnder(directory)) {
      const name = relative(directory, path).split(sep).join("/")
      assets.set(name, {
        bytes: readFileSync(path),
        contentType: contentTypes[extname(name)] ?? "application/octet-stream",
        immutable: name.startsWith("assets/"),
      })
    }
  const index = assets.get("index.html")
  const send = (asset: Asset) =>
    HttpServerResponse.uint8Array(asset.bytes, {
      contentType: asset.contentType,
      headers: {
        "cache-control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
        "content-security-policy": contentSecurityPolicy,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
      },
    })
  return {
    files: assets.size,
    answer: (path) => {
      if (index === undefined) return notBuilt()
      let name: string
      try {
        name = decodeURIComponent(path.slice(uiPath.length))
      } catch {
        return errorResponse(edgeError("InvalidInput", "path: must be valid percent-encoded UTF-8", { field: "path" }))
      }
      const asset = assets.get(name)
      if (asset !== undefined) return send(asset)
      // A missing asset or file is an error; any other path is one of the app's pages, which the app routes itself
      // (`/ui/models/resnet/versions/1.2.0` has an "extension" too).
      if (name.startsWith("assets/") || extname(name) in contentTypes)
        return errorResponse(edgeError("RouteNotFound", `no UI asset ${name}`))
      return send(index)
    },
  }
}
