/**
 * One recovery repetition, in a process of its own: opens the registry in `directory` and prints, as one JSON
 * line, how long the open took and how much heap the opened registry holds. Started by harness/child.ts.
 *
 *   node --expose-gc --import tsx bench/children/openRegistry.ts <directory>
 */
import { Effect } from "effect"
import { openRegistryAt } from "../harness/registryLoad.ts"

export interface OpenProbe {
  /** From building the layer to the registry answering its first call. */
  readonly openMs: number
  /**
   * CPU time of the process over the same span (every thread: the collector's helpers too). On the shared machine
   * a loaded neighbour stretches `openMs` several-fold; this moves much less, so A/B runs compare it as well.
   */
  readonly openCpuMs: number
  /** From process start to the same point: module loading (tsx, Effect) included. */
  readonly sinceProcessStartMs: number
  readonly versions: number
  readonly heapBeforeBytes: number
  readonly heapAfterBytes: number
  /** UTF-8 bytes of every stored version's JSON, as `listVersions` returns it. */
  readonly jsonBytes: number
  readonly rssAfterBytes: number
}

const directory = process.argv[2]
if (directory === undefined) throw new Error("usage: openRegistry.ts <directory>")
const gc = globalThis.gc
if (gc === undefined) throw new Error("run with --expose-gc")

// Twice: the first pass can leave finalization work that the second collects.
gc()
gc()
const heapBeforeBytes = process.memoryUsage().heapUsed
const cpuStart = process.cpuUsage()
const start = performance.now()
const opened = await openRegistryAt(directory)
const stats = await opened.run(opened.registry.stats)
const ready = performance.now()
const cpu = process.cpuUsage(cpuStart)
gc()
gc()
const memory = process.memoryUsage()

let jsonBytes = 0
const { registry } = opened
await opened.run(
  Effect.flatMap(registry.listModels, (models) =>
    Effect.forEach(
      models,
      (model) =>
        Effect.map(registry.listVersions(model.name), (versions) => {
          for (const version of versions) jsonBytes += Buffer.byteLength(JSON.stringify(version))
        }),
      { discard: true },
    ),
  ),
)
await opened.close()

const probe: OpenProbe = {
  openMs: ready - start,
  openCpuMs: (cpu.user + cpu.system) / 1000,
  sinceProcessStartMs: ready,
  versions: stats.versions,
  heapBeforeBytes,
  heapAfterBytes: memory.heapUsed,
  jsonBytes,
  rssAfterBytes: memory.rss,
}
process.stdout.write(`${JSON.stringify(probe)}\n`)
