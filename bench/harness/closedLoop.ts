/**
 * The closed-loop driver: `concurrency` producers, each issuing its next register only after the previous one
 * was acknowledged, until a deadline. Latency is measured per operation from just before the call to the ack;
 * throughput is acknowledged operations over the time from the start to the last ack, so the drain after the
 * deadline is counted on both sides of the division.
 */
import { Effect } from "effect"
import type { DurableTarget } from "../targets/DurableTarget.ts"
import type { RecordSource } from "./records.ts"
import type { LatencyRecorder } from "./stats.ts"

export interface LoopRun {
  readonly operations: number
  readonly seconds: number
}

export const runClosedLoop = async (
  target: DurableTarget,
  source: RecordSource,
  concurrency: number,
  durationSeconds: number,
  recorder: LatencyRecorder | undefined,
): Promise<LoopRun> => {
  const start = performance.now()
  const deadline = start + durationSeconds * 1000
  let operations = 0
  let lastAck = start
  const acked = (issuedAt: number): void => {
    const now = performance.now()
    recorder?.record(now - issuedAt)
    operations++
    lastAck = now
  }

  const registerEffect = target.registerEffect
  if (registerEffect) {
    // Plain suspend/flatMap recursion: about twice as fast as Effect.gen here, so the driver's own cost stays
    // small next to the design's.
    const producer: Effect.Effect<void, unknown> = Effect.suspend(() => {
      if (performance.now() >= deadline) return Effect.void
      const record = source.next()
      const issuedAt = performance.now()
      return Effect.flatMap(registerEffect(record), () => {
        acked(issuedAt)
        return producer
      })
    })
    await Effect.runPromise(
      Effect.all(
        Array.from({ length: concurrency }, () => producer),
        { concurrency: "unbounded", discard: true },
      ),
    )
  } else {
    const producer = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const record = source.next()
        const issuedAt = performance.now()
        await target.register(record)
        acked(issuedAt)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, producer))
  }
  return { operations, seconds: (lastAck - start) / 1000 }
}
