/**
 * Durable registers in a closed loop at each concurrency level, for every durable target. Designs alternate
 * within each repetition (A B C, A B C, …) at one level before moving to the next, so slow drifts of this shared
 * machine hit every design alike. Every repetition opens a fresh instance in a fresh directory, warms it up,
 * then measures; the report keeps each repetition's numbers and their medians.
 */
import { type LoopRun, runClosedLoop } from "../harness/closedLoop.ts"
import { type RunContext, settle } from "../harness/context.ts"
import { type GcPauses, recordGcPauses } from "../harness/gcPauses.ts"
import { makeRecordSource } from "../harness/records.ts"
import { LatencyRecorder, type LatencySummary, median } from "../harness/stats.ts"
import type { TargetDefinition, TargetRole, WriteStats } from "../targets/DurableTarget.ts"

export interface Repetition {
  readonly operations: number
  readonly seconds: number
  readonly opsPerSecond: number
  readonly latency: LatencySummary
  /** Null when the design does not report them. */
  readonly fsyncs: number | null
  readonly batches: number | null
  /** The process's GC pauses during the measured run. */
  readonly gc: GcPauses
}

export interface CellMedians {
  readonly opsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly fsyncsPerSecond: number | null
  readonly averageBatch: number | null
  /** Milliseconds of GC pause per second measured, and the longest single pause. */
  readonly gcPauseMsPerSecond: number
  readonly gcPauseMaxMs: number
}

export interface Cell {
  readonly target: string
  readonly role: TargetRole
  readonly concurrency: number
  readonly repetitions: ReadonlyArray<Repetition>
  readonly median: CellMedians
}

export interface DurableRegistersResult {
  readonly levels: ReadonlyArray<number>
  readonly targets: ReadonlyArray<{ readonly name: string; readonly role: TargetRole; readonly note: string }>
  readonly cells: ReadonlyArray<Cell>
}

const difference = (after: WriteStats | undefined, before: WriteStats | undefined) =>
  after && before ? { fsyncs: after.fsyncs - before.fsyncs, batches: after.batches - before.batches } : undefined

const measureOnce = async (
  context: RunContext,
  definition: TargetDefinition,
  concurrency: number,
  measureSeconds: number,
): Promise<Repetition> => {
  const scratch = await context.scratch(definition.name)
  const target = definition.make()
  // Every repetition writes the same record stream, so every design stores identical bytes.
  const source = makeRecordSource()
  settle()
  try {
    await target.open(scratch.path)
    await runClosedLoop(target, source, concurrency, context.options.warmupSeconds, undefined)
    const before = await target.stats?.()
    const recorder = new LatencyRecorder()
    const gcPauses = recordGcPauses()
    const run: LoopRun = await runClosedLoop(target, source, concurrency, measureSeconds, recorder)
    const gc = await gcPauses.stop()
    const counted = difference(await target.stats?.(), before)
    return {
      operations: run.operations,
      seconds: run.seconds,
      opsPerSecond: run.operations / run.seconds,
      latency: recorder.summary(),
      fsyncs: counted?.fsyncs ?? null,
      batches: counted?.batches ?? null,
      gc,
    }
  } finally {
    await target.close()
    await scratch.release()
  }
}

const nullableMedian = (values: ReadonlyArray<number | null>): number | null =>
  values.some((value) => value === null) ? null : median(values as ReadonlyArray<number>)

const summarize = (repetitions: ReadonlyArray<Repetition>): CellMedians => ({
  opsPerSecond: median(repetitions.map((rep) => rep.opsPerSecond)),
  p50Ms: median(repetitions.map((rep) => rep.latency.p50Ms)),
  p99Ms: median(repetitions.map((rep) => rep.latency.p99Ms)),
  fsyncsPerSecond: nullableMedian(repetitions.map((rep) => (rep.fsyncs === null ? null : rep.fsyncs / rep.seconds))),
  averageBatch: nullableMedian(
    repetitions.map((rep) => (rep.batches === null || rep.batches === 0 ? null : rep.operations / rep.batches)),
  ),
  gcPauseMsPerSecond: median(repetitions.map((rep) => rep.gc.totalMs / rep.seconds)),
  gcPauseMaxMs: median(repetitions.map((rep) => rep.gc.maxMs)),
})

const formatRate = (value: number): string => Math.round(value).toLocaleString("en-US")

export const runDurableRegisters = async (
  context: RunContext,
  definitions: ReadonlyArray<TargetDefinition>,
): Promise<DurableRegistersResult> => {
  const { levels, repetitions } = context.options
  const runsAt = (definition: TargetDefinition, level: number) => definition.levels?.includes(level) ?? true

  // One short discarded pass per design loads native code and gets the hot paths compiled before anything counts;
  // many producers make it reach the batching paths too.
  for (const definition of definitions) {
    const supported = levels.filter((level) => runsAt(definition, level))
    const level = supported.filter((candidate) => candidate <= 64).at(-1) ?? supported[0]
    if (level !== undefined) await measureOnce(context, definition, level, context.options.warmupSeconds)
  }

  const cells: Array<Cell> = []
  for (const level of levels) {
    const present = definitions.filter((definition) => runsAt(definition, level))
    const byTarget = new Map<string, Array<Repetition>>(present.map((definition) => [definition.name, []]))
    for (let rep = 1; rep <= repetitions; rep++) {
      for (const definition of present) {
        const result = await measureOnce(context, definition, level, context.options.measureSeconds)
        byTarget.get(definition.name)!.push(result)
        context.log(
          `  ${level} in flight, rep ${rep}/${repetitions}, ${definition.name}: ${formatRate(result.opsPerSecond)} ops/s, ` +
            `p50 ${result.latency.p50Ms.toFixed(3)} ms, p99 ${result.latency.p99Ms.toFixed(3)} ms`,
        )
      }
    }
    for (const definition of present) {
      const reps = byTarget.get(definition.name)!
      cells.push({
        target: definition.name,
        role: definition.role,
        concurrency: level,
        repetitions: reps,
        median: summarize(reps),
      })
    }
  }
  return {
    levels,
    targets: definitions.map(({ name, role, note }) => ({ name, role, note })),
    cells,
  }
}
