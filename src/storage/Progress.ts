/**
 * How long work tells a watcher how far it has got: opening a large directory (checking its segments, replaying
 * its log) and inspecting one (`verify`, `wal dump`) take seconds, and a terminal left silent that long looks
 * hung. The core only reports `{ phase, done, total }`; whoever provides the service decides whether and how to
 * show it (the CLI draws a line on a terminal's stderr). Unprovided, reports go nowhere at no cost. It sits in
 * storage, the lowest layer that reports progress.
 */
import { Context, Effect } from "effect"

/**
 * `check`: segments validated at open; `replay`: records folded into the index at open; `verify` and `dump`:
 * records decoded by inspection. Each counts what is cheap to know before the work starts.
 */
export type ProgressPhase = "check" | "replay" | "verify" | "dump"

export interface ProgressUpdate {
  readonly phase: ProgressPhase
  readonly done: number
  /** Known when the phase starts; a phase is over once `done` reaches it. */
  readonly total: number
}

export interface ProgressReporter {
  readonly report: (update: ProgressUpdate) => void
}

const silent: ProgressReporter = { report: () => {} }

/** The progress service; by default it discards every report. */
export class Progress extends Context.Reference<Progress>()("@visutility/model-registry/Progress", {
  defaultValue: (): ProgressReporter => silent,
}) {}

/** Records between two reports of a phase counted in records: often enough to move a line, rarely enough to cost nothing. */
export const progressRecordsStep = 4096

/**
 * The current reporter as a plain function. A reporter that throws is ignored: showing progress must never fail
 * the work it describes.
 */
export const reporter: Effect.Effect<(update: ProgressUpdate) => void> = Effect.map(
  Progress,
  (progress) => (update) => {
    try {
      progress.report(update)
    } catch {
      // Progress is a display; the work goes on without it.
    }
  },
)
