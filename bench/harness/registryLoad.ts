/**
 * Fills a registry through its public Effect API, as fast as this machine allows: `concurrency` Effect fibers,
 * each awaiting its ack before taking the next record. Recovery, reads and memory all start from a registry
 * loaded this way, so what they open is what a real writer would have left on disk.
 */
import { Effect, ManagedRuntime } from "effect"
import { layerFile, ModelRegistry } from "../../src/node.ts"
import type { BenchRecord, RecordSource } from "./records.ts"

export type Registry = Effect.Effect.Success<typeof ModelRegistry.ModelRegistry>

/**
 * Automatic compaction off: the scenarios decide when a snapshot exists, and an open must never compact in the
 * background (it would turn a log-only directory into a snapshot one between repetitions).
 */
export const noAutomaticSnapshots = { snapshotThresholdRecords: Number.MAX_SAFE_INTEGER } as const

export interface OpenRegistry {
  readonly registry: Registry
  run<A, E>(effect: Effect.Effect<A, E>): Promise<A>
  close(): Promise<void>
}

export const openRegistryAt = async (directory: string): Promise<OpenRegistry> => {
  const runtime = ManagedRuntime.make(
    layerFile({ directory, ...noAutomaticSnapshots }),
  ) as ManagedRuntime.ManagedRuntime<Registry, unknown>
  const registry = await runtime.runPromise(ModelRegistry.ModelRegistry)
  return { registry, run: (effect) => runtime.runPromise(effect), close: () => runtime.dispose() }
}

export interface LoadRun {
  readonly records: number
  readonly seconds: number
  /** UTF-8 bytes of the records' JSON, as a client would send them. */
  readonly jsonBytes: number
}

/**
 * Registers `count` records from `source`. Each record goes through a JSON round trip first, so the registry
 * holds its own objects, as it would for records arriving over HTTP, rather than the generator's shared pool of
 * metrics and tags (which would make memory per version look smaller than it is).
 */
export const loadRecords = async (
  registry: OpenRegistry,
  source: RecordSource,
  count: number,
  concurrency: number,
  transform?: (record: BenchRecord) => BenchRecord,
): Promise<LoadRun> => {
  let issued = 0
  let jsonBytes = 0
  const producer: Effect.Effect<void, unknown> = Effect.suspend(() => {
    if (issued >= count) return Effect.void
    issued++
    const record = transform ? transform(source.next()) : source.next()
    const json = JSON.stringify(record)
    jsonBytes += Buffer.byteLength(json)
    return Effect.flatMap(registry.registry.register(JSON.parse(json) as BenchRecord), () => producer)
  })
  const start = performance.now()
  await registry.run(
    Effect.all(
      Array.from({ length: Math.min(concurrency, count) }, () => producer),
      { concurrency: "unbounded", discard: true },
    ),
  )
  return { records: count, seconds: (performance.now() - start) / 1000, jsonBytes }
}
