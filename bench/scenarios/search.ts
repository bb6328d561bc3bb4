/**
 * Search on a registry of `readsVersions` versions (100,000 by default), loaded through the Effect API in this
 * process: the first page (100 versions) of a tag equality, a metric comparison ordered by that metric, and a name
 * prefix, each against a reference run in the same process on the same registry: the same query answered by
 * scanning every listing, filtering and sorting, which is what a registry without indexes does. Also: building the
 * indexes on the first search, and the heap per version before and after it.
 */
import { Effect } from "effect"
import type { ModelVersion } from "../../src/domain/ModelVersion.ts"
import type { SearchPage, SearchQuery } from "../../src/domain/Search.ts"
import { type RunContext, settle } from "../harness/context.ts"
import { makeRecordSource } from "../harness/records.ts"
import { loadRecords, openRegistryAt, type Registry } from "../harness/registryLoad.ts"
import { median } from "../harness/stats.ts"

export interface SearchCell {
  readonly query: string
  readonly matches: number
  /** First pages per second: the registry's search, and the scan reference. */
  readonly indexed: ReadonlyArray<number>
  readonly scanned: ReadonlyArray<number>
  readonly median: { readonly indexedPerSecond: number; readonly scannedPerSecond: number }
}

export interface SearchResult {
  readonly versions: number
  readonly buildMs: number
  readonly heapBytesPerVersion: { readonly before: number; readonly after: number }
  readonly cells: ReadonlyArray<SearchCell>
}

const queries: ReadonlyArray<{ readonly label: string; readonly query: SearchQuery }> = [
  {
    label: "tag equality (framework=jax, dataset=coco-2017)",
    query: { tags: { framework: "jax", dataset: "coco-2017" } },
  },
  {
    label: "metric comparison (accuracy >= 0.98, by accuracy, descending)",
    query: { metrics: [{ metric: "accuracy", op: ">=", value: 0.98 }], orderBy: "metric.accuracy", descending: true },
  },
  { label: "name prefix (model-042)", query: { namePrefix: "model-042" } },
]

/** The reference: every version of every model, filtered, sorted as search sorts, first page taken. */
const scan = (registry: Registry, query: SearchQuery): ReadonlyArray<ModelVersion> => {
  const all: Array<ModelVersion> = []
  for (const model of Effect.runSync(registry.listModels))
    for (const version of Effect.runSync(registry.listVersions(model.name))) {
      if (query.namePrefix !== undefined && !version.name.startsWith(query.namePrefix)) continue
      if (query.tags !== undefined && Object.entries(query.tags).some(([key, value]) => version.tags[key] !== value))
        continue
      if (
        query.metrics?.some((filter) => {
          const value = version.metrics[filter.metric]
          return typeof value !== "number" || !(value >= filter.value)
        })
      )
        continue
      all.push(version)
    }
  if (query.orderBy?.startsWith("metric.")) {
    const metric = query.orderBy.slice("metric.".length)
    all.sort((a, b) => (b.metrics[metric] as number) - (a.metrics[metric] as number))
  }
  return all.slice(0, 100)
}

const perSecond = (run: () => unknown, seconds: number): number => {
  let done = 0
  const start = performance.now()
  const deadline = start + seconds * 1000
  do {
    run()
    done++
  } while (performance.now() < deadline)
  return done / ((performance.now() - start) / 1000)
}

const heapUsed = (): number => {
  globalThis.gc?.()
  globalThis.gc?.()
  return process.memoryUsage().heapUsed
}

export const runSearch = async (context: RunContext): Promise<SearchResult> => {
  const { readsVersions, repetitions, measureSeconds, warmupSeconds } = context.options
  const scratch = await context.scratch("search")
  const opened = await openRegistryAt(scratch.path)
  try {
    const empty = heapUsed()
    const loaded = await loadRecords(opened, makeRecordSource(), readsVersions, 512)
    context.log(`  loaded ${readsVersions.toLocaleString("en-US")} versions in ${loaded.seconds.toFixed(1)} s`)
    const { registry }: { registry: Registry } = opened
    const before = heapUsed()
    const start = performance.now()
    Effect.runSync(registry.search({ limit: 1 }))
    const buildMs = performance.now() - start
    // Every order the queries use is built by its first search too; the heap is read once they all exist.
    for (const { query } of queries) Effect.runSync(registry.search(query))
    const after = heapUsed()
    context.log(`  indexes built in ${Math.round(buildMs)} ms`)

    const cells: Array<SearchCell> = []
    for (const { label, query } of queries) {
      const page = Effect.runSync(registry.search(query))
      const reference = scan(registry, query)
      const keys = (versions: ReadonlyArray<ModelVersion>) => versions.map((v) => `${v.name}@${v.version}`).join()
      if (keys(page.versions) !== keys(reference)) throw new Error(`${label}: search and the scan disagree`)
      let matches = 0
      let cursor: string | null | undefined
      while (cursor !== null) {
        const next: SearchPage = Effect.runSync(
          registry.search({ ...query, limit: 1000, ...(cursor ? { cursor } : {}) }),
        )
        matches += next.versions.length
        cursor = next.nextCursor
      }
      const indexedRun = () => Effect.runSync(registry.search(query))
      const scannedRun = () => scan(registry, query)
      perSecond(indexedRun, warmupSeconds)
      perSecond(scannedRun, warmupSeconds)
      const indexed: Array<number> = []
      const scanned: Array<number> = []
      for (let rep = 1; rep <= repetitions; rep++) {
        settle()
        indexed.push(perSecond(indexedRun, measureSeconds))
        settle()
        scanned.push(perSecond(scannedRun, measureSeconds))
        context.log(
          `  ${label}, rep ${rep}/${repetitions}: search ${Math.round(indexed.at(-1)!)}/s, scan ${Math.round(scanned.at(-1)!)}/s`,
        )
      }
      cells.push({
        query: label,
        matches,
        indexed,
        scanned,
        median: { indexedPerSecond: median(indexed), scannedPerSecond: median(scanned) },
      })
    }
    return {
      versions: readsVersions,
      buildMs,
      heapBytesPerVersion: { before: (before - empty) / readsVersions, after: (after - empty) / readsVersions },
      cells,
    }
  } finally {
    await opened.close()
    await scratch.release()
  }
}
