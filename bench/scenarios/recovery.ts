/**
 * Recovery: how long a registry of N versions takes to open, (a) replaying the whole log and (b) reading a
 * snapshot plus a short tail. Every open runs in a fresh process, so neither the loader's JIT nor its heap
 * helps; the files are in the page cache (they were just written), so this is CPU-bound replay, not disk reads.
 * Modes alternate within each repetition (log, snapshot, log, snapshot, …) after one discarded open of each.
 */
import type { OpenProbe } from "../children/openRegistry.ts"
import type { RunContext } from "../harness/context.ts"
import {
  type DatasetBuild,
  loadConcurrency,
  type OpenMode,
  probeOpen,
  recordOpen,
  registryDataset,
} from "../harness/registryData.ts"
import { median } from "../harness/stats.ts"

export interface RecoveryCell {
  readonly versions: number
  readonly mode: OpenMode
  /** Versions the opened registry held (N, or N + tail). */
  readonly storedVersions: number
  readonly directoryBytes: number
  readonly repetitions: ReadonlyArray<OpenProbe>
  readonly median: {
    readonly openMs: number
    readonly sinceProcessStartMs: number
    /** Versions restored per second of open. */
    readonly versionsPerSecond: number
  }
}

export interface RecoveryResult {
  readonly loadConcurrency: number
  readonly builds: ReadonlyArray<Omit<DatasetBuild, "registerHeap">>
  readonly cells: ReadonlyArray<RecoveryCell>
}

const modes: ReadonlyArray<OpenMode> = ["log", "snapshot"]

export const runRecovery = async (context: RunContext): Promise<RecoveryResult> => {
  const { sizes, tail, coldRepetitions } = context.options
  const builds: Array<Omit<DatasetBuild, "registerHeap">> = []
  const cells: Array<RecoveryCell> = []
  for (const versions of sizes) {
    const dataset = await registryDataset(context, versions, tail)
    const { logOnly: _l, snapshotTail: _s, registerHeap: _h, ...build } = dataset
    builds.push(build)
    const byMode = new Map<OpenMode, Array<OpenProbe>>(modes.map((mode) => [mode, []]))
    const measure = async (mode: OpenMode, rep: number) => {
      const probe = await probeOpen(dataset, mode)
      byMode.get(mode)!.push(probe)
      recordOpen(dataset, mode, probe)
      context.log(
        `  ${versions.toLocaleString("en-US")} versions, ${mode === "log" ? "log only" : "snapshot + tail"}, ` +
          `rep ${rep}/${coldRepetitions}: open ${probe.openMs.toFixed(0)} ms (${probe.versions.toLocaleString("en-US")} versions)`,
      )
    }
    if (context.options.smoke) {
      // Smoke only proves the path runs, and a process start costs seconds here: both modes at once, no discard.
      await Promise.all(modes.map((mode) => measure(mode, 1)))
    } else {
      // A discarded open of each mode at the first size: the run's first processes pay for cold caches (tsx's
      // transforms, V8's code cache) that later ones do not. The page cache is warm for every directory
      // already, since building it wrote and read it, so larger sizes skip this (a 1M open costs many seconds).
      if (versions === sizes[0]) for (const mode of modes) await probeOpen(dataset, mode)
      for (let rep = 1; rep <= coldRepetitions; rep++) for (const mode of modes) await measure(mode, rep)
    }
    for (const mode of modes) {
      const reps = byMode.get(mode)!
      const openMs = median(reps.map((rep) => rep.openMs))
      const storedVersions = reps[0]?.versions ?? Number.NaN
      cells.push({
        versions,
        mode,
        storedVersions,
        directoryBytes: mode === "log" ? dataset.logOnlyBytes : dataset.snapshotTailBytes,
        repetitions: reps,
        median: {
          openMs,
          sinceProcessStartMs: median(reps.map((rep) => rep.sinceProcessStartMs)),
          versionsPerSecond: storedVersions / (openMs / 1000),
        },
      })
    }
  }
  return { loadConcurrency, builds, cells }
}
