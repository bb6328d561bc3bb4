/**
 * Reads on a registry of `readsVersions` versions, loaded through the Effect API in this process:
 *
 * - `get` of random existing (name, version) pairs;
 * - `listVersions` of one model holding exactly 1,000 versions.
 *
 * Each is driven two ways. **Effect loop**: one `Effect.runSync` runs a `whileLoop` of many calls, which is how
 * Effect code composes the API; the targets are checked on this one. **runSync per call**: a new
 * synchronous fiber per operation, what a caller outside Effect pays (mostly the runtime's cost, not the
 * registry's). Drivers alternate within each repetition, after a discarded pass of each.
 */
import { Effect } from "effect"
import { type RunContext, settle } from "../harness/context.ts"
import { makeRecordSource } from "../harness/records.ts"
import { loadRecords, openRegistryAt, type Registry } from "../harness/registryLoad.ts"
import { median } from "../harness/stats.ts"

export type ReadOperation = "get" | "listVersions"
export type ReadDriver = "Effect loop" | "runSync per call"

export interface ReadCell {
  readonly operation: ReadOperation
  readonly driver: ReadDriver
  /** Operations per second, one per repetition. */
  readonly repetitions: ReadonlyArray<number>
  readonly median: { readonly opsPerSecond: number; readonly microsecondsPerOp: number }
}

export interface ReadsResult {
  readonly versions: number
  readonly listedVersions: number
  readonly cells: ReadonlyArray<ReadCell>
}

const listModel = "bench-list-model"
const listedVersions = 1000
// A power of two, so the loop picks its pair with a mask; large enough that lookups miss the CPU caches as
// they would on a real registry, and drawn at random from every stored pair.
const pairCount = 1 << 16
const opsPerChunk = 10_000

type Operation = (i: number) => Effect.Effect<unknown, unknown>

const drivers: Record<ReadDriver, (operation: Operation, count: number, offset: number) => void> = {
  "Effect loop": (operation, count, offset) => {
    let i = offset
    const end = offset + count
    Effect.runSync(
      Effect.whileLoop({
        while: () => i < end,
        body: () => operation(i),
        step: () => {
          i++
        },
      }),
    )
  },
  "runSync per call": (operation, count, offset) => {
    const end = offset + count
    for (let i = offset; i < end; i++) Effect.runSync(operation(i))
  },
}

/** Whole chunks until the deadline; the clock is read once per chunk so it stays out of the per-op cost. */
const opsPerSecondFor = (driver: ReadDriver, operation: Operation, seconds: number): number => {
  const run = drivers[driver]
  let done = 0
  const start = performance.now()
  const deadline = start + seconds * 1000
  do {
    run(operation, opsPerChunk, done)
    done += opsPerChunk
  } while (performance.now() < deadline)
  return done / ((performance.now() - start) / 1000)
}

export const runReads = async (context: RunContext): Promise<ReadsResult> => {
  const { readsVersions, repetitions, measureSeconds, warmupSeconds } = context.options
  const scratch = await context.scratch("reads")
  const opened = await openRegistryAt(scratch.path)
  try {
    const stored: Array<readonly [string, string]> = []
    const source = makeRecordSource()
    const collect = (record: ReturnType<typeof source.next>) => {
      stored.push([record.name, record.version])
      return record
    }
    const loaded = await loadRecords(opened, source, readsVersions - listedVersions, 512, collect)
    let listIndex = 0
    await loadRecords(opened, source, listedVersions, 512, (record) =>
      collect({ ...record, name: listModel, version: `2.0.${listIndex++}` }),
    )
    context.log(
      `  loaded ${readsVersions.toLocaleString("en-US")} versions in ${loaded.seconds.toFixed(1)} s ` +
        `(${listedVersions} of them in ${listModel})`,
    )

    // Deterministic picks (mulberry32), so every run and driver reads the same pairs.
    let state = 12345
    const random = () => {
      state = (state + 0x6d2b79f5) >>> 0
      let t = state
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
    const names: Array<string> = []
    const versions: Array<string> = []
    for (let k = 0; k < pairCount; k++) {
      const [name, version] = stored[Math.floor(random() * stored.length)]!
      names.push(name)
      versions.push(version)
    }
    const { registry }: { registry: Registry } = opened
    const listed = Effect.runSync(registry.listVersions(listModel))
    if (listed.length !== listedVersions) throw new Error(`${listModel} lists ${listed.length} versions`)
    const mask = pairCount - 1
    const operations: Record<ReadOperation, Operation> = {
      get: (i) => registry.get(names[i & mask]!, versions[i & mask]!),
      listVersions: () => registry.listVersions(listModel),
    }

    const cells: Array<ReadCell> = []
    for (const operation of ["get", "listVersions"] as const) {
      const order: ReadonlyArray<ReadDriver> = ["Effect loop", "runSync per call"]
      for (const driver of order) opsPerSecondFor(driver, operations[operation], warmupSeconds)
      const byDriver = new Map<ReadDriver, Array<number>>(order.map((driver) => [driver, []]))
      for (let rep = 1; rep <= repetitions; rep++) {
        for (const driver of order) {
          settle()
          const rate = opsPerSecondFor(driver, operations[operation], measureSeconds)
          byDriver.get(driver)!.push(rate)
          context.log(
            `  ${operation}, ${driver}, rep ${rep}/${repetitions}: ${Math.round(rate).toLocaleString("en-US")} ops/s`,
          )
        }
      }
      for (const driver of order) {
        const rates = byDriver.get(driver)!
        const opsPerSecond = median(rates)
        cells.push({
          operation,
          driver,
          repetitions: rates,
          median: { opsPerSecond, microsecondsPerOp: 1e6 / opsPerSecond },
        })
      }
    }
    return { versions: readsVersions, listedVersions, cells }
  } finally {
    await opened.close()
    await scratch.release()
  }
}
