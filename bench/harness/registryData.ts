/**
 * Registry data directories for the recovery and memory scenarios, built once per size per run and shared:
 * loading a million versions takes a while, and both scenarios want the same directories.
 *
 * - `logOnly`: `versions` registers and no snapshot, so an open replays the whole log.
 * - `snapshotTail`: a copy of `logOnly`, opened, compacted, then `tail` more registers, so an open reads the
 *   snapshot and replays only the tail.
 */
import { cp, readdir, stat } from "node:fs/promises"
import { join } from "node:path"
import type { OpenProbe } from "../children/openRegistry.ts"
import { runChild } from "./child.ts"
import { type RunContext, settle } from "./context.ts"
import { makeRecordSource } from "./records.ts"
import { loadRecords, openRegistryAt } from "./registryLoad.ts"

/** Many in flight, so group commit fills its batches and a million registers load in seconds, not minutes. */
export const loadConcurrency = 512

export interface RegisterHeap {
  /** heapUsed after opening the empty registry, then after the registers; both after full collections. */
  readonly beforeBytes: number
  readonly afterBytes: number
  readonly jsonBytes: number
}

export interface DatasetBuild {
  readonly versions: number
  readonly tail: number
  readonly loadSeconds: number
  readonly loadRegistersPerSecond: number
  readonly compactMs: number
  readonly logOnlyBytes: number
  readonly snapshotTailBytes: number
  /** The in-process registry right after registering `versions` (compaction disabled): one sample. */
  readonly registerHeap: RegisterHeap
}

export interface Dataset extends DatasetBuild {
  readonly logOnly: string
  readonly snapshotTail: string
}

const directoryBytes = async (directory: string): Promise<number> => {
  let total = 0
  for (const entry of await readdir(directory, { recursive: true, withFileTypes: true }))
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size
  return total
}

const heapUsed = (): number => {
  settle()
  settle()
  return process.memoryUsage().heapUsed
}

const build = async (context: RunContext, versions: number, tail: number): Promise<Dataset> => {
  const logOnly = await context.scratch(`recovery-${versions}-log`)
  const snapshotTail = await context.scratch(`recovery-${versions}-snapshot`)

  let registry = await openRegistryAt(logOnly.path)
  let loaded: Awaited<ReturnType<typeof loadRecords>>
  let registerHeap: RegisterHeap
  try {
    const beforeBytes = heapUsed()
    loaded = await loadRecords(registry, makeRecordSource(), versions, loadConcurrency)
    registerHeap = { beforeBytes, afterBytes: heapUsed(), jsonBytes: loaded.jsonBytes }
  } finally {
    await registry.close()
  }
  context.log(
    `  loaded ${versions.toLocaleString("en-US")} versions in ${loaded.seconds.toFixed(1)} s ` +
      `(${Math.round(loaded.records / loaded.seconds).toLocaleString("en-US")} registers/s at ${loadConcurrency} in flight)`,
  )
  settle()

  // A copy of the closed log-only directory (its lock is gone), then compact and the tail: replaying N records
  // here costs a fraction of registering them again. The tail continues the same stream, so pairs stay unique.
  await cp(logOnly.path, snapshotTail.path, { recursive: true })
  const source = makeRecordSource()
  for (let skipped = 0; skipped < versions; skipped++) source.next()
  registry = await openRegistryAt(snapshotTail.path)
  let compactMs: number
  try {
    const compactStart = performance.now()
    await registry.run(registry.registry.compact)
    compactMs = performance.now() - compactStart
    await loadRecords(registry, source, tail, loadConcurrency)
  } finally {
    await registry.close()
  }
  settle()
  context.log(
    `  built the snapshot + ${tail.toLocaleString("en-US")}-record tail copy (compact ${compactMs.toFixed(0)} ms)`,
  )

  return {
    versions,
    tail,
    loadSeconds: loaded.seconds,
    loadRegistersPerSecond: loaded.records / loaded.seconds,
    compactMs,
    logOnlyBytes: await directoryBytes(logOnly.path),
    snapshotTailBytes: await directoryBytes(snapshotTail.path),
    registerHeap,
    logOnly: logOnly.path,
    snapshotTail: snapshotTail.path,
  }
}

// Keyed by size and tail; the directories live until main.ts removes the scratch root.
const datasets = new Map<string, Promise<Dataset>>()

export const registryDataset = (context: RunContext, versions: number, tail: number): Promise<Dataset> => {
  const key = `${versions}/${tail}`
  let dataset = datasets.get(key)
  if (dataset === undefined) {
    dataset = build(context, versions, tail)
    datasets.set(key, dataset)
  }
  return dataset
}

export type OpenMode = "log" | "snapshot"

const openScript = new URL("../children/openRegistry.ts", import.meta.url).pathname

/** One fresh process opening one of the dataset's directories. */
export const probeOpen = (dataset: Dataset, mode: OpenMode): Promise<OpenProbe> =>
  runChild<OpenProbe>(openScript, [mode === "log" ? dataset.logOnly : dataset.snapshotTail])

// Measured (not discarded) opens, so the memory scenario can reuse recovery's processes instead of repeating them.
const measuredOpens = new Map<string, Array<OpenProbe>>()

export const recordOpen = (dataset: Dataset, mode: OpenMode, probe: OpenProbe): void => {
  const key = `${dataset.versions}/${dataset.tail}/${mode}`
  const list = measuredOpens.get(key) ?? []
  list.push(probe)
  measuredOpens.set(key, list)
}

export const recordedOpens = (dataset: Dataset, mode: OpenMode): ReadonlyArray<OpenProbe> =>
  measuredOpens.get(`${dataset.versions}/${dataset.tail}/${mode}`) ?? []
