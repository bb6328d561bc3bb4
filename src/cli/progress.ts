/**
 * The core's progress reports (`Progress`: checking segments and replaying the log at open, `verify`, `wal dump`)
 * drawn as one line on stderr, for a person at a terminal. A program reading the output (`--json`, stderr piped)
 * gets nothing extra, and stdout carries exactly what it carries without this. The line is redrawn at most every
 * `redrawIntervalMs` and first drawn only once the work has lasted that long, so quick work on a small directory
 * prints nothing; a finished phase clears it, and so does the end of the command, failed or not.
 */
import { Effect, Layer } from "effect"
import type { Progress, ProgressPhase, ProgressReporter } from "../effects/Inspection.ts"

/** Where the line goes, and a clock (milliseconds from any origin; only differences count). */
export interface ProgressTerminal {
  readonly write: (text: string) => void
  readonly now: () => number
}

export const redrawIntervalMs = 100

const phases: { readonly [P in ProgressPhase]: { readonly label: string; readonly unit: string } } = {
  check: { label: "checking the log", unit: "segments" },
  replay: { label: "replaying the log", unit: "records" },
  verify: { label: "verifying records", unit: "records" },
  dump: { label: "dumping records", unit: "records" },
}

/** Back to the start of the line and erase it: the next draw, or the next output, starts on a clean line. */
const eraseLine = "\r\u001b[2K"

const count = (n: number) => n.toLocaleString("en-US")

export interface ProgressLine extends ProgressReporter {
  /** Erases the line if one is drawn. */
  readonly clear: () => void
}

export const makeProgressLine = (terminal: ProgressTerminal): ProgressLine => {
  let drawnAt = terminal.now()
  let drawn = false
  const clear = () => {
    if (!drawn) return
    drawn = false
    terminal.write(eraseLine)
  }
  return {
    report: ({ phase, done, total }) => {
      if (done >= total) return clear()
      const now = terminal.now()
      if (now - drawnAt < redrawIntervalMs) return
      drawnAt = now
      drawn = true
      const { label, unit } = phases[phase]
      terminal.write(
        `${eraseLine}${label}: ${count(done)} of ${count(total)} ${unit} (${Math.floor((done * 100) / total)}%)`,
      )
    },
    clear,
  }
}

/** Which of the process's streams are terminals. */
export interface Terminals {
  readonly stderr: boolean
  readonly stdout: boolean
}

/**
 * Progress is for a person watching stderr: never with `--json` or a piped stderr, and not while the command's own
 * output streams to the same terminal (`wal dump`), whose lines the progress line would tear.
 */
export const showProgress = (
  terminals: Terminals,
  options: { readonly json: boolean; readonly streamsStdout: boolean },
): boolean => terminals.stderr && !options.json && !(options.streamsStdout && terminals.stdout)

const stderrTerminal: ProgressTerminal = {
  write: (text) => {
    process.stderr.write(text)
  },
  now: () => performance.now(),
}

const silent: ProgressReporter = { report: () => {} }

/**
 * Provides `Progress` (the tag is passed in, so that loading this module loads no storage code) as a line on
 * `terminal` when `show`, else as nothing. The line is cleared when the layer is released.
 */
export const progressLayer = (
  tag: typeof Progress,
  show: boolean,
  terminal: ProgressTerminal,
): Layer.Layer<Progress> =>
  show
    ? Layer.scoped(
        tag,
        Effect.acquireRelease(
          Effect.sync(() => makeProgressLine(terminal)),
          (line) => Effect.sync(line.clear),
        ),
      )
    : Layer.succeed(tag, silent)

/** `Progress` on this process's stderr, shown as `showProgress` decides from which of its streams are terminals. */
export const stderrProgress = (
  tag: typeof Progress,
  options: { readonly json: boolean; readonly streamsStdout: boolean },
): Layer.Layer<Progress> =>
  progressLayer(
    tag,
    showProgress({ stderr: process.stderr.isTTY === true, stdout: process.stdout.isTTY === true }, options),
    stderrTerminal,
  )
