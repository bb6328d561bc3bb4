/**
 * Starts a bundled Worker in workerd through Miniflare, with SQLite-backed Durable Objects, for the Node-run suites
 * under test/cloudflare. Each entry is bundled once per test file.
 */
import { Miniflare } from "miniflare"
import { bundleWorker } from "../../../scripts/bundleWorker.mjs"

/** The workerd the pinned Miniflare brings implements this date; wrangler.toml should name the same. */
export const compatibilityDate = "2026-07-30"

const bundles = new Map<string, Promise<string>>()

export interface WorkerOptions {
  /** The Worker's module, relative to the repository. */
  readonly entry: string
  /** Binding name → Durable Object class exported by the entry. */
  readonly durableObjects: Readonly<Record<string, string>>
  /** Where objects' storage persists across `Miniflare` instances (a directory); in memory when absent. */
  readonly persist?: string
  readonly bindings?: Readonly<Record<string, string>>
}

/** The Worker's base URL (no trailing slash). */
export const baseUrl = async (worker: Miniflare): Promise<string> => (await worker.ready).origin

export const startWorker = async (options: WorkerOptions): Promise<Miniflare> => {
  let bundle = bundles.get(options.entry)
  if (bundle === undefined) {
    bundle = bundleWorker(options.entry)
    bundles.set(options.entry, bundle)
  }
  const worker = new Miniflare({
    modules: true,
    script: await bundle,
    compatibilityDate,
    durableObjects: Object.fromEntries(
      Object.entries(options.durableObjects).map(([binding, className]) => [binding, { className, useSQLite: true }]),
    ),
    durableObjectsPersist: options.persist ?? false,
    bindings: { ...options.bindings },
    // A port of its own, so a test can reach the Worker over HTTP as a client would (`await worker.ready`).
    host: "127.0.0.1",
    port: 0,
  })
  await worker.ready
  return worker
}
