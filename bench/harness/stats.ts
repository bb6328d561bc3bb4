/** Latency samples and the few statistics the report needs. Exact percentiles: runs are short enough to keep every sample. */

export class LatencyRecorder {
  private samples: Float64Array
  private size = 0

  constructor(capacityHint = 1 << 16) {
    this.samples = new Float64Array(capacityHint)
  }

  record(milliseconds: number): void {
    if (this.size === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2)
      grown.set(this.samples)
      this.samples = grown
    }
    this.samples[this.size++] = milliseconds
  }

  get count(): number {
    return this.size
  }

  summary(): LatencySummary {
    const sorted = this.samples.slice(0, this.size).sort()
    let total = 0
    for (const value of sorted) total += value
    return {
      count: this.size,
      meanMs: this.size === 0 ? Number.NaN : total / this.size,
      p50Ms: percentile(sorted, 0.5),
      p90Ms: percentile(sorted, 0.9),
      p99Ms: percentile(sorted, 0.99),
      maxMs: this.size === 0 ? Number.NaN : sorted[this.size - 1]!,
    }
  }
}

export interface LatencySummary {
  readonly count: number
  readonly meanMs: number
  readonly p50Ms: number
  readonly p90Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

/** Nearest-rank percentile of an ascending array; NaN when empty, so an empty run never reads as "0 ms". */
export const percentile = (sorted: Float64Array, fraction: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil(fraction * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/** The median of the finite values; NaN when there are none. */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}
