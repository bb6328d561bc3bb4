/**
 * The random simulator (in the spirit of FoundationDB's simulator and TigerBeetle's VOPR): one seed
 * drives a workload of concurrent clients, the disk's faults, crashes at random I/Os with a random power-loss
 * variant, the interleaving of every fiber and the ids the registry generates. After every reopen the oracle
 * checks the recovered registry; at the end every observer must have caught up. The same seed replays the same
 * run, trace included, byte for byte.
 */
import { Duration, Effect } from "effect"
import type { Prng } from "../Prng.ts"
import type { FaultConfig } from "../SimulatedFileSystem.ts"
import {
  type ClientOp,
  failingFaultCount,
  maybeArmCrash,
  type RegistrySettings,
  rebootAfterStep,
  runConcurrently,
  type SimulatedObserver,
  type World,
} from "./engine.ts"
import {
  defaultFaults,
  recordingObserver,
  reproduceLine,
  runSeeded,
  SimulationFailure,
  type SimulationResult,
} from "./run.ts"
import { simulateUserWorkload, type UserSimulationOptions, type UserSimulationReport } from "./userWorkload.ts"

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

/**
 * One step: maybe arm a crash, run a few concurrent calls, let virtual time pass, then reboot after a crash or an
 * injected fault. Returns whether the run goes on (false: the registry could not be reopened).
 */
const runStep = (world: World, workload: Workload, prng: Prng, mix: WorkloadMix, step: number) =>
  Effect.gen(function* () {
    maybeArmCrash(world, prng, mix.crashProbability, step)
    const faultsBefore = failingFaultCount(world.disk.faults)
    const calls = Array.from({ length: 1 + prng.int(mix.concurrencyMax) }, () => ({
      op: workload.next(),
      yields: prng.int(4),
      delayMs: prng.chance(0.25) ? prng.int(20) : 0,
    }))
    yield* runConcurrently(world, calls, `s${step}`)
    yield* Effect.sleep(Duration.millis(prng.int(400)))
    const result = yield* rebootAfterStep(world, prng, faultsBefore)
    return result === undefined || result === "open"
  })

/** Runs one seeded simulation and returns what it found (never throws for a broken invariant). */
export const runSimulation = (options: SimulationOptions): SimulationResult => {
  const mix: WorkloadMix = { ...defaultWorkload, ...options.workload }
  let workload: Workload | undefined
  return runSeeded(
    {
      seed: options.seed,
      steps: options.steps ?? 40,
      faults: options.faults ?? defaultFaults,
      registry: options.registry,
      lifecycle: undefined,
      observers: options.observers ?? [recordingObserver()],
      audit: options.audit ?? true,
      traceMax: options.traceMax ?? 60,
      oracle: undefined,
      afterOpen: undefined,
      reproduce: reproduceLine(options.seed),
    },
    (world, streams, step) => {
      workload ??= new Workload(streams.workload, mix)
      return runStep(world, workload, streams.workload, mix, step)
    },
  )
}

/**
 * Runs the simulator. With the built-in workload (`seed`, `workload` a `WorkloadMix`): one seed, returning its result.
 * With a user workload (`workload` a function, `seeds`): every seed, returning the totals. Either way it throws
 * `SimulationFailure`, whose message carries the seed, the command that replays it and the trace, when an invariant
 * broke.
 */
export function simulate<E>(options: UserSimulationOptions<E>): UserSimulationReport
export function simulate(options: SimulationOptions): SimulationResult
export function simulate<E>(
  options: SimulationOptions | UserSimulationOptions<E>,
): SimulationResult | UserSimulationReport {
  if (typeof options.workload === "function") return simulateUserWorkload(options as UserSimulationOptions<E>)
  const result = runSimulation(options as SimulationOptions)
  if (!result.ok) throw new SimulationFailure(result)
  return result
}
