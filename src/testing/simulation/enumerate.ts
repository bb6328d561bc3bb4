/**
 * Crash-point enumeration and the fail-the-Nth-I/O loop (SQLite style) over the canonical workloads.
 *
 * Enumeration: a fault-free run counts the workload's I/Os (N). Then for every k < N the workload runs again on a
 * fresh disk that halts after its k-th I/O, as a power cut would; the pending calls must all complete with a typed
 * error, and the halted disk is forked once per power-loss variant (drop, keep, and several seeds of torn-at-512 B
 * and torn-at-4 KiB). Each distinct resulting disk image is reopened and checked by the oracle, then written to
 * once more and reopened again (a torn tail that recovery left in place shows up there). Distinct crash states are
 * counted by durable-image fingerprint.
 *
 * Fail-the-Nth-I/O: for every k the k-th I/O fails with EIO, once (`atIo`) or from then on (`fromIo`); every call
 * must succeed or fail with a typed error, and a reopen with the faults lifted must recover a valid prefix that
 * contains every acknowledged write.
 */
import { Effect, Exit, Random } from "effect"
import { makePrng } from "../Prng.ts"
import { type CrashVariant, type FaultConfig, makeSimulatedDisk, type SimulatedDisk } from "../SimulatedFileSystem.ts"
import {
  awaitObservers,
  checkAuditFile,
  closeProcess,
  openProcess,
  type RegistrySettings,
  restart,
  runCall,
  runConcurrently,
  World,
} from "./engine.ts"
import type { Violation } from "./oracle.ts"
import { recordingObserver } from "./run.ts"
import { makeSimulatedRuntime, type RunResult } from "./runtime.ts"
import { allWorkloads, canonicalWorkloads, type Workload } from "./workloads.ts"

export interface EnumerationOptions {
  readonly workloads?: ReadonlyArray<Workload>
  /** Seeds tried per torn variant at each crash point (default 64). */
  readonly tornSeeds?: number
  /** Torn seeds after which the recovered state is also written to and reopened (default 2). */
  readonly rewriteSeeds?: number
  /** Registry options merged over each workload's (e.g. a mutation switch). */
  readonly registry?: RegistrySettings
  /** Stop at the first crash state that breaks an invariant (default true). */
  readonly stopAtFirstViolation?: boolean
}

export interface WorkloadReport {
  readonly workload: string
  readonly ios: number
  readonly crashPoints: number
  readonly statesChecked: number
}

export interface EnumerationFailure {
  readonly workload: string
  readonly crashAfterIo: number
  readonly variant: CrashVariant
  readonly tornSeed: number
  readonly violations: ReadonlyArray<Violation>
  readonly trace: ReadonlyArray<string>
}

export interface EnumerationReport {
  readonly ok: boolean
  readonly workloads: ReadonlyArray<WorkloadReport>
  /** Distinct durable disk images crashed into, over every workload. */
  readonly distinctCrashStates: number
  /** Their fingerprints (to merge counts across worker processes). */
  readonly fingerprints: ReadonlySet<string>
  readonly crashPoints: number
  readonly statesChecked: number
  readonly invariantsChecked: number
  readonly ackedWritesChecked: number
  readonly failures: ReadonlyArray<EnumerationFailure>
}

const directoryLayout = (world: World) => world

const makeWorld = (workload: Workload, disk: SimulatedDisk, registry: RegistrySettings | undefined) =>
  directoryLayout(
    new World({
      disk,
      registry: { ...workload.registry, ...registry },
      observers: workload.observer ? [recordingObserver()] : [],
      audit: workload.audit,
      traceMax: 40,
    }),
  )

/** Runs `effect` to completion on a fresh deterministic runtime; a run that never settles is a violation. */
const settle = (world: World, effect: Effect.Effect<void>, seed: number): void => {
  const run: RunResult<void, never> = makeSimulatedRuntime(makePrng(seed)).run(
    effect.pipe(Effect.withRandom(Random.make(seed))),
  )
  if (run._tag !== "Done")
    world.oracle.report("no call hangs", `the run did not settle (${run._tag}) at virtual ${run.now} ms`)
  else if (Exit.isFailure(run.exit)) world.oracle.report("the simulator itself completes", String(run.exit.cause))
}

/** Runs the workload's steps; stops early once the disk halted (nothing more can reach it). */
const runWorkload = (world: World, workload: Workload) =>
  Effect.gen(function* () {
    const opened = yield* openProcess(world)
    if (opened !== "open") return
    let step = 0
    for (const s of workload.steps) {
      step++
      if (world.disk.halted) return
      if ("_tag" in s) {
        if ((yield* restart(world)) !== "open") return
      } else {
        yield* runConcurrently(
          world,
          s.map((op) => ({ op, yields: 0, delayMs: 0 })),
          `w${step}`,
        )
      }
    }
    if (world.disk.halted) return
    // Observers can only be expected to catch up on a healthy disk; a fail-the-Nth run checks them after its
    // faults are lifted and the registry reopened.
    if (Object.keys(world.faults).length === 0) yield* awaitObservers(world)
    yield* closeProcess(world)
  })

/**
 * After recovery: observers catch up and their deliveries and files are checked. With `writeAgain`, one more
 * acknowledged write and a clean restart must keep everything (a torn tail that recovery left in place, or a
 * directory entry it did not make durable, shows up there).
 */
const afterRecovery = (world: World, writeAgain: boolean) =>
  Effect.gen(function* () {
    if ((yield* openProcess(world)) !== "open") return
    if (writeAgain) {
      yield* runCall(world, { _tag: "register", name: "after", version: "9.9.9", metrics: { c: 999_999 } }, "post")
      if ((yield* restart(world)) !== "open") return
    }
    yield* awaitObservers(world)
    yield* closeProcess(world)
    world.oracle.checkDeliveries()
    checkAuditFile(world)
  })

/** Every power-loss variant of one halted moment, with the seeds its torn variants are tried with. */
const variantsOf = (tornSeeds: number): ReadonlyArray<readonly [CrashVariant, number]> => [
  ["drop", 0],
  ["keep", 0],
  ...Array.from({ length: tornSeeds }, (_, i) => ["torn512", i] as const),
  ...Array.from({ length: tornSeeds }, (_, i) => ["torn4096", i] as const),
]

/** What the enumeration has found so far, across workloads. */
interface Tally {
  readonly distinct: Set<string>
  readonly failures: Array<EnumerationFailure>
  invariantsChecked: number
  ackedWritesChecked: number
  statesChecked: number
  crashPoints: number
}

const failureIn = (
  world: World,
  workload: Workload,
  crashAfterIo: number,
  variant: CrashVariant,
  tornSeed: number,
): EnumerationFailure => ({
  workload: workload.name,
  crashAfterIo,
  variant,
  tornSeed,
  violations: world.oracle.violations,
  trace: world.traceTail(),
})

/**
 * Recovers from every power-loss variant of the disk halted after io `k`, skipping durable images already checked
 * with the same acknowledged writes (`checkedHere`). Returns how many states it checked.
 */
const exploreCrashPoint = (
  context: { readonly workload: Workload; readonly options: EnumerationOptions; readonly tally: Tally },
  k: number,
  variants: ReadonlyArray<readonly [CrashVariant, number]>,
  checkedHere: Set<string>,
): number => {
  const { workload, options, tally } = context
  const rewriteSeeds = options.rewriteSeeds ?? 2
  const disk = makeSimulatedDisk({ seed: 1, traceMax: 8 })
  disk.crashAfterIo(k)
  const world = makeWorld(workload, disk, options.registry)
  settle(world, runWorkload(world, workload).pipe(Effect.zipRight(closeProcess(world))), 1)
  tally.invariantsChecked += world.oracle.invariantsChecked
  if (world.oracle.violations.length > 0) {
    tally.failures.push(failureIn(world, workload, k, "drop", 0))
    return 0
  }
  let checked = 0
  let pending = true
  for (const [variant, tornSeed] of variants) {
    // With nothing unsynced, every variant is the same image: try the torn ones only when something is pending.
    if (!pending && variant.startsWith("torn")) break
    const forked = disk.fork()
    const crash = forked.crash(variant, { seed: tornSeed })
    if (variant === "drop") pending = crash.filePieces > 0 || crash.dirOps > 0
    const fingerprint = forked.fingerprint("durable")
    tally.distinct.add(fingerprint)
    const key = `${fingerprint}:${world.oracle.acks.size}:${world.oracle.history.length}`
    if (checkedHere.has(key)) continue
    checkedHere.add(key)
    const trial = world.fork(forked)
    trial.log(
      `${workload.name}: crash after io ${k}, ${variant}${variant.startsWith("torn") ? ` seed ${tornSeed}` : ""}`,
    )
    const before = trial.oracle.invariantsChecked
    // Writing again after recovery costs a second open, so it is done where it can find something: after every
    // drop and keep, and after torn crashes that tore a write, for the first `rewriteSeeds` seeds.
    const writeAgain = !variant.startsWith("torn") || (crash.tornPieces > 0 && tornSeed < rewriteSeeds)
    settle(trial, afterRecovery(trial, writeAgain), 2)
    tally.statesChecked++
    checked++
    tally.invariantsChecked += trial.oracle.invariantsChecked - before
    tally.ackedWritesChecked += trial.oracle.ackedWritesChecked
    if (trial.oracle.violations.length > 0) {
      tally.failures.push(failureIn(trial, workload, k, variant, tornSeed))
      if (options.stopAtFirstViolation ?? true) break
    }
  }
  return checked
}

/** The crash-point enumeration over `workloads` (default: the canonical ones). */
export const enumerateCrashPoints = (options: EnumerationOptions = {}): EnumerationReport => {
  const workloads = options.workloads ?? allWorkloads
  const variants = variantsOf(options.tornSeeds ?? 64)
  const stopEarly = options.stopAtFirstViolation ?? true
  const tally: Tally = {
    distinct: new Set<string>(),
    failures: [],
    invariantsChecked: 0,
    ackedWritesChecked: 0,
    statesChecked: 0,
    crashPoints: 0,
  }
  const reports: Array<WorkloadReport> = []

  for (const workload of workloads) {
    if (stopEarly && tally.failures.length > 0) break
    const clean = makeWorld(workload, makeSimulatedDisk({ seed: 1, traceMax: 8 }), options.registry)
    settle(clean, runWorkload(clean, workload), 1)
    if (clean.oracle.violations.length > 0) {
      tally.failures.push(failureIn(clean, workload, -1, "keep", 0))
      continue
    }
    const ios = clean.disk.ioCount
    let checked = 0
    // A durable image already checked with the same acknowledged writes needs no second check.
    const checkedHere = new Set<string>()
    for (let k = 0; k < ios && !(stopEarly && tally.failures.length > 0); k++) {
      tally.crashPoints++
      checked += exploreCrashPoint({ workload, options, tally }, k, variants, checkedHere)
    }
    reports.push({ workload: workload.name, ios, crashPoints: ios, statesChecked: checked })
  }
  return {
    ok: tally.failures.length === 0,
    workloads: reports,
    distinctCrashStates: tally.distinct.size,
    fingerprints: tally.distinct,
    crashPoints: tally.crashPoints,
    statesChecked: tally.statesChecked,
    invariantsChecked: tally.invariantsChecked,
    ackedWritesChecked: tally.ackedWritesChecked,
    failures: tally.failures,
  }
}

export interface FailNthOptions {
  readonly workloads?: ReadonlyArray<Workload>
  readonly registry?: RegistrySettings
  readonly stopAtFirstViolation?: boolean
}

export interface FailNthReport {
  readonly ok: boolean
  /** (workload, k, once|persistent) runs made. */
  readonly runs: number
  readonly faultsInjected: number
  readonly invariantsChecked: number
  readonly failures: ReadonlyArray<EnumerationFailure & { readonly mode: "once" | "persistent" }>
}

/** The fail-the-Nth-I/O loop over `workloads` (default: the canonical ones). */
export const failEveryNthIo = (options: FailNthOptions = {}): FailNthReport => {
  const workloads = options.workloads ?? canonicalWorkloads
  const stopEarly = options.stopAtFirstViolation ?? true
  const failures: Array<EnumerationFailure & { readonly mode: "once" | "persistent" }> = []
  let runs = 0
  let faultsInjected = 0
  let invariantsChecked = 0
  for (const workload of workloads) {
    const clean = makeWorld(workload, makeSimulatedDisk({ seed: 1, traceMax: 8 }), options.registry)
    settle(clean, runWorkload(clean, workload), 1)
    const ios = clean.disk.ioCount
    for (let k = 1; k <= ios; k++) {
      for (const mode of ["once", "persistent"] as const) {
        if (stopEarly && failures.length > 0) break
        runs++
        const faults: FaultConfig = { eio: mode === "once" ? { atIo: k } : { fromIo: k } }
        const disk = makeSimulatedDisk({ seed: 1, traceMax: 8, faults })
        const world = makeWorld(workload, disk, options.registry)
        world.faults = faults
        settle(
          world,
          Effect.gen(function* () {
            yield* runWorkload(world, workload)
            world.setFaults({})
            if ((yield* restart(world)) !== "open") return
            yield* awaitObservers(world)
            yield* closeProcess(world)
            world.oracle.checkDeliveries()
          }),
          1,
        )
        faultsInjected += disk.faults.eio
        invariantsChecked += world.oracle.invariantsChecked
        if (world.oracle.violations.length > 0) failures.push({ ...failureIn(world, workload, k, "keep", 0), mode })
      }
    }
  }
  return { ok: failures.length === 0, runs, faultsInjected, invariantsChecked, failures }
}
