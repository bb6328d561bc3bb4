/**
 * The garbage collector's pauses while a measurement runs, from Node's `gc` performance entries. Tail latencies
 * of the in-process designs are read against them: a closed loop at 64 in flight whose p99 sits a few ms above
 * its p50 is usually waiting out a scavenge, not the disk. The pauses are the whole process's, so they include
 * the driver's own garbage, which is small next to any design's (bench/harness/closedLoop.ts).
 */
import { type PerformanceEntry, PerformanceObserver } from "node:perf_hooks"

export interface GcPauses {
  readonly count: number
  readonly totalMs: number
  readonly maxMs: number
}

export interface GcPauseRecorder {
  /** Stops recording and returns what was seen; entries are delivered asynchronously, so it waits one turn. */
  stop(): Promise<GcPauses>
}

export const recordGcPauses = (): GcPauseRecorder => {
  let count = 0
  let totalMs = 0
  let maxMs = 0
  const add = (entries: ReadonlyArray<PerformanceEntry>) => {
    for (const entry of entries) {
      count++
      totalMs += entry.duration
      maxMs = Math.max(maxMs, entry.duration)
    }
  }
  const observer = new PerformanceObserver((list) => add(list.getEntries()))
  observer.observe({ entryTypes: ["gc"] })
  return {
    stop: async () => {
      await new Promise((resolve) => setImmediate(resolve))
      add(observer.takeRecords())
      observer.disconnect()
      return { count, totalMs, maxMs }
    },
  }
}
