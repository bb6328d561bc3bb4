/**
 * One seeded run, whatever its workload (the built-in random clients, or a user's program): the seed's streams, the
 * faulty disk, the world, the deterministic runtime, the run to its end, and what it found. The same seed replays
 * the same run, trace included, byte for byte.
 */
import { Effect, Exit, Random } from "effect"
import type { LifecycleDefinition } from "../../actors/lifecycleDefinition.ts"
import { makePrng, type Prng } from "../Prng.ts"
import { type FaultConfig, type FaultStats, makeSimulatedDisk } from "../SimulatedFileSystem.ts"
import {
  crashAndReopen,
  drawVariant,
  finishRun,
  openProcess,
  type RegistrySettings,
  type SimulatedObserver,
  World,
} from "./engine.ts"
import type { Oracle, Violation } from "./oracle.ts"
import { makeSimulatedRuntime } from "./runtime.ts"

/** The fault mix of random runs: rare enough that most steps make progress, common enough to hit every path. */
export const defaultFaults: FaultConfig = {
  eioOnWrite: 0.002,
  eioOnRead: 0.001,
  eioOnSync: 0.002,
  enospcOnWrite: 0.003,
  shortWrite: 0.02,
  slowSync: 0.05,
}

/** Registry limits drawn per seed: small segments (rotation), frequent snapshots, a tiny tail (log reads). */
export const drawRegistry = (prng: Prng): RegistrySettings => ({
  recordBytesMax: 4096,
  segmentBytesMax: [6 * 1024, 12 * 1024, 64 * 1024][prng.int(3)]!,
  snapshotThresholdRecords: [6, 20, 1000][prng.int(3)]!,
  // Compact on the fixed interval alone: the seeds' schedules (and the regression seeds) predate the ratio.
  snapshotThresholdLogToStateRatio: 0,
  tailEventsMax: [2, 16, 1024][prng.int(3)]!,
  batchCommandsMax: [1, 3, 64][prng.int(3)]!,
})

/** The default observer: records deliveries, and fails the first attempt at every fifth seq. */
export const recordingObserver = (name = "recorder"): SimulatedObserver => {
  const failedOnce = new Set<number>()
  return {
    name,
    options: { retryDelay: "50 millis", maxAttempts: 4 },
    handler: (event) =>
      Effect.suspend(() => {
        if (event.seq % 5 !== 0 || failedOnce.has(event.seq)) return Effect.void
        failedOnce.add(event.seq)
        return Effect.fail(`transient failure at seq ${event.seq}`)
      }),
  }
}

export interface SimulationResult {
  readonly ok: boolean
  readonly seed: number
  readonly steps: number
  readonly calls: number
  readonly crashes: number
  readonly restarts: number
  readonly faults: FaultStats
  readonly invariantsChecked: number
  readonly ackedWritesChecked: number
  /** Distinct durable disk images the run crashed into. */
  readonly crashStates: ReadonlySet<string>
  /** Events in the final log. */
  readonly events: number
  readonly ioCount: number
  readonly virtualMs: number
  readonly violations: ReadonlyArray<Violation>
  /** The last trace lines, and a hash of the whole trace (same seed ⇒ same hash). */
  readonly trace: ReadonlyArray<string>
  readonly traceHash: string
  readonly reproduce: string
}

/** Thrown by `simulate` when an invariant broke: the message carries the reproduce line and the trace. */
export class SimulationFailure extends Error {
  constructor(readonly result: SimulationResult) {
    super(formatFailure(result))
    this.name = "SimulationFailure"
  }
}

export const reproduceLine = (seed: number) => `reproduce: npm run simulate -- --seed=${seed}`

export const formatFailure = (result: SimulationResult): string =>
  [
    `simulation seed ${result.seed} broke ${result.violations.length} invariant check(s):`,
    ...result.violations.slice(0, 5).map((v) => `  ${v.invariant}: ${v.detail}`),
    result.reproduce,
    "trace (last lines):",
    ...result.trace.map((line) => `  ${line}`),
  ].join("\n")

/** What a run is made of, beside its steps. */
export interface RunSetup {
  readonly seed: number
  readonly steps: number
  readonly faults: FaultConfig
  /** Registry options; `undefined`: drawn from the seed. */
  readonly registry: RegistrySettings | undefined
  /** The lifecycle the registry runs, over `registry`'s (default: that one, or the default lifecycle). */
  readonly lifecycle: LifecycleDefinition | undefined
  readonly observers: ReadonlyArray<SimulatedObserver>
  readonly audit: boolean
  readonly traceMax: number
  readonly oracle: Oracle | undefined
  readonly afterOpen: ((world: World) => Effect.Effect<void>) | undefined
  readonly reproduce: string
}

/** The seed's streams a workload draws from: `workload` for the steps (and the crashes between them), `extra` for its own use. */
export interface RunStreams {
  readonly workload: Prng
  readonly extra: Prng
}

/**
 * Runs one seed: opens the registry, runs `step(world, streams, n)` for n = 1..steps while no invariant broke (a step
 * returns false when the registry could not be reopened), then the healthy finish. Never throws for a broken
 * invariant.
 */
export const runSeeded = (
  setup: RunSetup,
  step: (world: World, streams: RunStreams, n: number) => Effect.Effect<boolean>,
): SimulationResult => {
  const { seed } = setup
  const root = makePrng(`simulate:${seed}`)
  const workloadPrng = root.fork()
  const schedulePrng = root.fork()
  const registryPrng = root.fork()
  const disk = makeSimulatedDisk({ seed: root.nextU32(), faults: setup.faults, traceMax: 16 })
  const streams: RunStreams = { workload: workloadPrng, extra: root.fork() }
  const world = new World(
    {
      disk,
      registry: {
        ...(setup.registry ?? drawRegistry(registryPrng)),
        ...(setup.lifecycle === undefined ? {} : { lifecycle: setup.lifecycle }),
      },
      observers: setup.observers,
      audit: setup.audit,
      traceMax: setup.traceMax,
      ...(setup.afterOpen === undefined ? {} : { afterOpen: setup.afterOpen }),
    },
    setup.oracle,
  )
  world.faults = setup.faults
  const { lifecycle, ...logged } = world.options.registry
  world.log(
    `seed ${seed} registry ${JSON.stringify(logged)}${lifecycle === undefined ? "" : ` lifecycle ${lifecycle.name}`}`,
  )
  const runtime = makeSimulatedRuntime(schedulePrng)
  let stepsRun = 0

  const program = Effect.gen(function* () {
    let opened = yield* openProcess(world)
    if (opened === "faulted" || opened === "halted")
      opened = yield* crashAndReopen(world, drawVariant(workloadPrng), workloadPrng.nextU32())
    if (opened !== "open") return
    for (let n = 1; n <= setup.steps && world.oracle.violations.length === 0; n++) {
      stepsRun = n
      if (!(yield* step(world, streams, n))) return
    }
    if (world.oracle.violations.length > 0) return
    yield* finishRun(world, workloadPrng)
  }).pipe(Effect.withRandom(Random.make(seed)))

  const run = runtime.run(program)
  if (run._tag === "Deadlock")
    world.oracle.report("no call hangs", `every fiber is blocked and no timer is pending at virtual ${run.now} ms`)
  else if (run._tag === "TaskLimit")
    world.oracle.report("no call hangs", `the run did not settle within its task budget (livelock) at ${run.now} ms`)
  else if (Exit.isFailure(run.exit)) world.oracle.report("the simulator itself completes", String(run.exit.cause))
  world.log(`end violations=${world.oracle.violations.length} io=${disk.ioCount} t=${runtime.now()}ms`)
  const { oracle } = world
  return {
    ok: oracle.violations.length === 0,
    seed,
    steps: stepsRun,
    calls: world.calls,
    crashes: world.crashes,
    restarts: world.restarts,
    faults: disk.faults,
    invariantsChecked: oracle.invariantsChecked,
    ackedWritesChecked: oracle.ackedWritesChecked,
    crashStates: world.crashStates,
    events: oracle.history.length,
    ioCount: disk.ioCount,
    virtualMs: runtime.now(),
    violations: oracle.violations,
    trace: world.traceTail(),
    traceHash: `${(world.traceHash >>> 0).toString(16).padStart(8, "0")}:${world.traceLines}`,
    reproduce: setup.reproduce,
  }
}
