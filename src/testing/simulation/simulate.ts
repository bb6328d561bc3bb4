/**
 * The random simulator (in the spirit of FoundationDB's simulator and TigerBeetle's VOPR): one seed
 * drives a workload of concurrent clients, the disk's faults, crashes at random I/Os with a random power-loss
 * variant, the interleaving of every fiber and the ids the registry generates. After every reopen the oracle
 * checks the recovered registry; at the end every observer must have caught up. The same seed replays the same
 * run, trace included, byte for byte.
 */
import { Duration, Effect, Exit, Random } from "effect"
import { makePrng, type Prng } from "../Prng.ts"
import {
  type CrashVariant,
  crashVariants,
  type FaultConfig,
  type FaultStats,
  makeSimulatedDisk,
} from "../SimulatedFileSystem.ts"
import {
  awaitObservers,
  type ClientOp,
  checkAuditFile,
  closeProcess,
  crashAndReopen,
  failingFaultCount,
  openProcess,
  type RegistrySettings,
  restart,
  runConcurrently,
  type SimulatedObserver,
  World,
} from "./engine.ts"
import type { Violation } from "./oracle.ts"
import { makeSimulatedRuntime } from "./runtime.ts"

/** The shape of the random workload. */
export interface WorkloadMix {
  /** Model names are `m0`..`m{models-1}`. */
  readonly models: number
  /** Distinct versions per model drawn from. */
  readonly versions: number
  /** Concurrent calls per step: 1..concurrencyMax, forked together. */
  readonly concurrencyMax: number
  /** Chance per step of arming a crash within the next few dozen I/Os. */
  readonly crashProbability: number
  /** Relative weights of the client operations. */
  readonly weights: {
    readonly register: number
    readonly resend: number
    readonly promote: number
    readonly deprecate: number
    readonly compact: number
    readonly get: number
  }
}

export const defaultWorkload: WorkloadMix = {
  models: 3,
  versions: 6,
  concurrencyMax: 4,
  crashProbability: 0.12,
  weights: { register: 8, resend: 1, promote: 4, deprecate: 2, compact: 1, get: 1 },
}

/** The fault mix of random runs: rare enough that most steps make progress, common enough to hit every path. */
export const defaultFaults: FaultConfig = {
  eioOnWrite: 0.002,
  eioOnRead: 0.001,
  eioOnSync: 0.002,
  enospcOnWrite: 0.003,
  shortWrite: 0.02,
  slowSync: 0.05,
}

export interface SimulationOptions {
  readonly seed: number
  /** Client steps (each a group of concurrent calls). Default 40. */
  readonly steps?: number
  /** Disk fault knobs (default `defaultFaults`; `{}` for a fault-free disk that still crashes). */
  readonly faults?: FaultConfig
  readonly workload?: Partial<WorkloadMix>
  /**
   * Observers to run and check (default: one recording observer that fails its first attempt at some events, so
   * that retries and backoff run on the simulated clock).
   */
  readonly observers?: ReadonlyArray<SimulatedObserver>
  /** Also run the audit-log observer and check its file (default true). */
  readonly audit?: boolean
  /** Registry options; by default each seed draws small limits, so segments roll and compaction runs. */
  readonly registry?: RegistrySettings
  /** Trace lines kept (default 60). */
  readonly traceMax?: number
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

/** Registry limits drawn per seed: small segments (rotation), frequent snapshots, a tiny tail (log reads). */
const drawRegistry = (prng: Prng): RegistrySettings => ({
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

const versionOf = (i: number) =>
  ["1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1", "2.0.0", "0.9.1", "10.0.0", "2.0.0-rc.10"][i % 8]!

class Workload {
  private counter = 0
  private readonly registered: Array<{ name: string; version: string; metrics: object }> = []
  constructor(
    private readonly prng: Prng,
    private readonly mix: WorkloadMix,
  ) {}

  next(): ClientOp {
    const { weights } = this.mix
    const total =
      weights.register + weights.resend + weights.promote + weights.deprecate + weights.compact + weights.get
    let r = this.prng.next() * total
    const pick = (w: number) => {
      r -= w
      return r < 0
    }
    const target = () => {
      const known = this.registered.length > 0 && this.prng.chance(0.85)
      if (known) return this.registered[this.prng.int(this.registered.length)]!
      return { name: `m${this.prng.int(this.mix.models)}`, version: versionOf(this.prng.int(this.mix.versions)) }
    }
    if (pick(weights.register)) {
      const op = {
        _tag: "register" as const,
        name: `m${this.prng.int(this.mix.models)}`,
        version: versionOf(this.prng.int(this.mix.versions)),
        metrics: { c: ++this.counter },
      }
      this.registered.push(op)
      return op
    }
    if (pick(weights.resend) && this.registered.length > 0)
      return { _tag: "register", ...this.registered[this.prng.int(this.registered.length)]! }
    if (pick(weights.promote)) return { _tag: "promote", ...pickNameVersion(target()) }
    if (pick(weights.deprecate)) return { _tag: "deprecate", ...pickNameVersion(target()) }
    if (pick(weights.compact)) return { _tag: "compact" }
    return { _tag: "get", ...pickNameVersion(target()) }
  }
}

const pickNameVersion = (t: { name: string; version: string }) => ({ name: t.name, version: t.version })

const drawVariant = (prng: Prng): CrashVariant => crashVariants[prng.int(crashVariants.length)]!

interface StepContext {
  readonly world: World
  readonly workload: Workload
  readonly prng: Prng
  readonly mix: WorkloadMix
}

/**
 * One step: maybe arm a crash, run a few concurrent calls, let virtual time pass, then reboot after a crash or an
 * injected fault. Returns whether the run goes on (false: the registry could not be reopened).
 */
const runStep = ({ world, workload, prng, mix }: StepContext, step: number) =>
  Effect.gen(function* () {
    const disk = world.disk
    if (prng.chance(mix.crashProbability)) {
      const at = disk.ioCount + 1 + prng.int(48)
      disk.crashAfterIo(at)
      world.log(`s${step} crash armed after io ${at}`)
    }
    const faultsBefore = failingFaultCount(disk.faults)
    const calls = Array.from({ length: 1 + prng.int(mix.concurrencyMax) }, () => ({
      op: workload.next(),
      yields: prng.int(4),
      delayMs: prng.chance(0.25) ? prng.int(20) : 0,
    }))
    yield* runConcurrently(world, calls, `s${step}`)
    yield* Effect.sleep(Duration.millis(prng.int(400)))
    let result: string | undefined
    if (disk.halted) result = yield* crashAndReopen(world, drawVariant(prng), prng.nextU32())
    else if (failingFaultCount(disk.faults) > faultsBefore) {
      // After an injected I/O error the registry may be failed for good (it never retries an fsync): reboot
      // the machine, as a real operator's supervisor would, with whatever power-loss variant the seed picks.
      world.restarts++
      result = yield* crashAndReopen(world, drawVariant(prng), prng.nextU32())
    } else if (world.process === undefined) result = yield* restart(world)
    return result === undefined || result === "open"
  })

/** The end: a healthy disk, so every observer must catch up, and a clean restart must lose nothing. */
const finish = (world: World, prng: Prng) =>
  Effect.gen(function* () {
    const disk = world.disk
    disk.crashAfterIo(undefined)
    world.setFaults({})
    if (disk.halted) {
      if ((yield* crashAndReopen(world, "drop", prng.nextU32())) !== "open") return
    }
    if ((yield* restart(world)) !== "open") return
    yield* awaitObservers(world)
    if ((yield* restart(world)) !== "open") return
    yield* awaitObservers(world)
    yield* closeProcess(world)
    world.oracle.checkDeliveries()
    checkAuditFile(world)
  })

/** Runs one seeded simulation and returns what it found (never throws for a broken invariant). */
export const runSimulation = (options: SimulationOptions): SimulationResult => {
  const { seed } = options
  const root = makePrng(`simulate:${seed}`)
  const workloadPrng = root.fork()
  const schedulePrng = root.fork()
  const registryPrng = root.fork()
  const steps = options.steps ?? 40
  const mix: WorkloadMix = { ...defaultWorkload, ...options.workload }
  const faults = options.faults ?? defaultFaults
  const disk = makeSimulatedDisk({ seed: root.nextU32(), faults, traceMax: 16 })
  const world = new World({
    disk,
    registry: options.registry ?? drawRegistry(registryPrng),
    observers: options.observers ?? [recordingObserver()],
    audit: options.audit ?? true,
    traceMax: options.traceMax ?? 60,
  })
  world.faults = faults
  world.log(`seed ${seed} registry ${JSON.stringify(world.options.registry)}`)
  const workload = new Workload(workloadPrng, mix)
  const runtime = makeSimulatedRuntime(schedulePrng)
  let stepsRun = 0

  const program = Effect.gen(function* () {
    let opened = yield* openProcess(world)
    if (opened === "faulted" || opened === "halted")
      opened = yield* crashAndReopen(world, drawVariant(workloadPrng), workloadPrng.nextU32())
    if (opened !== "open") return
    for (let step = 1; step <= steps && world.oracle.violations.length === 0; step++) {
      stepsRun = step
      if (!(yield* runStep({ world, workload, prng: workloadPrng, mix }, step))) return
    }
    if (world.oracle.violations.length > 0) return
    yield* finish(world, workloadPrng)
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
    reproduce: reproduceLine(seed),
  }
}

/** Runs one seeded simulation; throws `SimulationFailure` (reproduce line + trace) if an invariant broke. */
export const simulate = (options: SimulationOptions): SimulationResult => {
  const result = runSimulation(options)
  if (!result.ok) throw new SimulationFailure(result)
  return result
}
