/**
 * Fixed regression seeds: every failure the simulator found while it was built. Each names the invariant it broke
 * and the cause found in the trace. They fail until the bug is fixed; keep them once they pass.
 */
import { describe, expect, it } from "@effect/vitest"
import { canonicalWorkloads, enumerateCrashPoints, runSimulation } from "../../src/testing/simulation/index.ts"

/** The violations the crash-point enumeration finds in one canonical workload. */
const enumerationViolations = (workload: string, tornSeeds: number) =>
  enumerateCrashPoints({
    workloads: canonicalWorkloads.filter((w) => w.name === workload),
    tornSeeds,
    stopAtFirstViolation: false,
  }).failures.flatMap((f) => f.violations.map((v) => v.detail))

const violationsOf = (seed: number, steps?: number) =>
  runSimulation({ seed, ...(steps === undefined ? {} : { steps }) }).violations.map(
    (v) => `${v.invariant}: ${v.detail}`,
  )

describe("regression seeds", () => {
  // The audit observer appends after a torn last line (zeros or a partial JSON line) left by a crash; its
  // dedupe then fails to parse that line, every later chunk is dead-lettered, and the file stops growing.
  it.each([1, 56, 81, 138])("seed %i: the audit log stays exactly the event stream after a torn append", (seed) => {
    expect(violationsOf(seed)).toEqual([])
  })

  // An EIO while writing the new LOCK file leaves it empty; every later open reads "no pid" and refuses with
  // DirectoryLocked { pid: 0 } for good.
  it("seed 111: a failed lock write does not lock the directory forever", () => {
    expect(violationsOf(111)).toEqual([])
  })

  // A compaction request queued while an append fails is never completed: the failure path fails the mailbox
  // but not `compactRequests`, so `compact` hangs until the registry is closed.
  it("seed 137: a compaction pending when the disk fails completes with StorageFailed", () => {
    expect(violationsOf(137)).toEqual([])
  })

  // Found by the CI run (`--steps=15`). 79: an injected read error killed the audit observer's log subscription
  // for the rest of the process, so the audit file fell behind. 217: the same error hit the observer's start; while
  // it was not running it did not hold back compaction, and its history was compacted away. 223: a compaction
  // requested while an append failed hung (the same cause as seed 137, on another path).
  it.each([79, 217, 223])(
    "seed %i (15 steps): observers survive transient read errors; compaction never hangs",
    (seed) => {
      expect(violationsOf(seed, 15)).toEqual([])
    },
  )

  // Found when snapshots moved off the write path: a failure (a failed append or fsync) while a snapshot was being
  // written in the background ended the loop, and the `compact` callers waiting for that snapshot hung.
  it.each([128, 667, 927, 963])(
    "seed %i (15 steps): a failure during a background snapshot fails its callers",
    (seed) => {
      expect(violationsOf(seed, 15)).toEqual([])
    },
  )

  // A crash can leave the audit file's last line complete as JSON but without its newline. The audit observer took
  // that line's seq as written and skipped the event, while the sink cut the unfinished line: the event was gone.
  it("crash-point enumeration: the audit log re-writes an event whose line lost its newline", () => {
    expect(enumerationViolations("audit-log", 8)).toEqual([])
  })

  // A kill -9 between creating LOCK and writing the pid leaves an empty lock file: same refusal as seed 111.
  it("crash-point enumeration: a crash right after creating the lock file leaves a directory that reopens", () => {
    expect(enumerationViolations("register-one", 2)).toEqual([])
  })
})
