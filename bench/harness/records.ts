/**
 * Deterministic ~300-byte model versions, identical for every design in a run. Record `i` is always the same
 * bytes, so two designs measured at the same concurrency write exactly the same stream.
 *
 * The expensive, random-looking parts (uuid prefix, metrics, tags) come from a small pool built once; per record
 * only the version, id suffix and timestamp are formatted. At ~0.2 µs a record, generation stays small next to
 * the ~10 µs per-record budget of the designs measured.
 */

/** What every design stores: the shape of the registry's `RegisterInput` with every field present. */
export interface BenchRecord {
  readonly id: string
  readonly name: string
  readonly version: string
  readonly createdAt: string
  readonly metrics: Readonly<Record<string, number>>
  readonly tags: Readonly<Record<string, string>>
}

const poolSize = 1024
// Spread (name, version) pairs over many models, as a real registry would see them, while keeping every pair unique.
const modelCount = 97
const createdAtBaseMs = Date.UTC(2026, 0, 1)

interface PoolEntry {
  readonly idPrefix: string
  readonly metrics: Readonly<Record<string, number>>
  readonly tags: Readonly<Record<string, string>>
}

/** mulberry32: tiny, seedable, good enough for content that only has to look varied. */
const prng = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const frameworks = ["pytorch", "tensorflow", "jax", "onnx", "xgboost", "sklearn"] as const
const datasets = ["imagenet-1k", "coco-2017", "librispeech", "squad-v2", "criteo-1tb", "openwebtext"] as const
const owners = ["vision-team", "speech-team", "ranking-team", "nlp-team"] as const

const pick = <A>(items: ReadonlyArray<A>, random: () => number): A => items[Math.floor(random() * items.length)]!

const hex = (random: () => number, digits: number): string => {
  let out = ""
  for (let i = 0; i < digits; i++) out += Math.floor(random() * 16).toString(16)
  return out
}

const round4 = (value: number): number => Math.round(value * 10_000) / 10_000

const buildPool = (seed: number): ReadonlyArray<PoolEntry> => {
  const random = prng(seed)
  return Array.from({ length: poolSize }, () => ({
    // Version-4 layout; the last group is filled from the record index so ids never repeat.
    idPrefix: `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-${"89ab"[Math.floor(random() * 4)]}${hex(random, 3)}-`,
    metrics: {
      accuracy: round4(0.7 + random() * 0.29),
      f1: round4(0.6 + random() * 0.39),
      loss: round4(random() * 2),
      latencyMs: round4(1 + random() * 40),
    },
    tags: {
      framework: pick(frameworks, random),
      dataset: pick(datasets, random),
      owner: pick(owners, random),
      stage: "candidate",
    },
  }))
}

/** A stream of unique records: `next()` continues where the previous call stopped. */
export interface RecordSource {
  next(): BenchRecord
}

export const makeRecordSource = (seed = 7): RecordSource => {
  const pool = buildPool(seed)
  const names = Array.from({ length: modelCount }, (_, model) => `model-${String(model).padStart(3, "0")}-classifier`)
  let index = 0
  // Timestamps advance 1 ms per record; formatting a Date costs more than the rest of the record, so only the
  // whole-second prefix is formatted, once per 1,000 records.
  let secondPrefix = ""
  let secondIndex = -1
  return {
    next() {
      const i = index++
      const entry = pool[i % poolSize]!
      const k = Math.floor(i / modelCount)
      const second = Math.floor(i / 1000)
      if (second !== secondIndex) {
        secondIndex = second
        secondPrefix = new Date(createdAtBaseMs + second * 1000).toISOString().slice(0, 20)
      }
      return {
        id: entry.idPrefix + i.toString(16).padStart(12, "0"),
        name: names[i % modelCount]!,
        version: `${Math.floor(k / 1_000_000) + 1}.${Math.floor(k / 1000) % 1000}.${k % 1000}`,
        createdAt: `${secondPrefix}${String(i % 1000).padStart(3, "0")}Z`,
        metrics: entry.metrics,
        tags: entry.tags,
      }
    },
  }
}
