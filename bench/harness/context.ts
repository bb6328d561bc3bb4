/** What every scenario receives: the run's options, a scratch directory on the measured disk, and progress output. */
import { mkdtemp, rm } from "node:fs/promises"
import { join } from "node:path"

export interface RunOptions {
  readonly smoke: boolean
  /** Scenario ids to run; empty means all. */
  readonly only: ReadonlyArray<string>
  /** Substrings of target names to run; empty means all. */
  readonly targets: ReadonlyArray<string>
  readonly levels: ReadonlyArray<number>
  readonly repetitions: number
  readonly measureSeconds: number
  readonly warmupSeconds: number
  /**
   * Repetitions of the scenarios that pay a fresh process or a large load per repetition (recovery, memory,
   * HTTP): `--reps` when given, else 3, since each costs seconds to tens of seconds.
   */
  readonly coldRepetitions: number
  /** Registry sizes (versions) that recovery and memory open. */
  readonly sizes: ReadonlyArray<number>
  /** Registers after the compaction in recovery's snapshot + tail directories. */
  readonly tail: number
  /** Versions in the registry the reads scenario queries. */
  readonly readsVersions: number
  /** Measured seconds per HTTP repetition. */
  readonly httpSeconds: number
}

export interface RunContext {
  readonly options: RunOptions
  /** A fresh, empty directory on the measured disk, removed by `release`. */
  scratch(label: string): Promise<Scratch>
  /** Progress for the human watching; stdout is kept for the Markdown report. */
  log(message: string): void
}

export interface Scratch {
  readonly path: string
  release(): Promise<void>
}

let scratchCount = 0

export const makeContext = (options: RunOptions, root: string): RunContext => ({
  options,
  scratch: async (label) => {
    const path = await mkdtemp(
      join(root, `${String(scratchCount++).padStart(4, "0")}-${label.replace(/[^a-z0-9]+/gi, "-")}-`),
    )
    return { path, release: () => rm(path, { recursive: true, force: true }) }
  },
  log: (message) => process.stderr.write(`${message}\n`),
})

/** Collects garbage between runs when node runs with --expose-gc, so one design's garbage is not billed to the next. */
export const settle = (): void => {
  globalThis.gc?.()
}
