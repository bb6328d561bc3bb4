/**
 * Simulating the user's own code: the user's workload (a controller, a promotion policy) runs against the real
 * registry on the simulated faulty disk, one call per step, under the lifecycle it will run in production, with
 * power cuts and I/O faults between and during its steps. After every step and after every crash and reopen, the
 * user's invariants run over a read-only view of the registry, beside the registry's own: every acknowledged write
 * survives, the recovered state is the state of a prefix of the history, every event is a legal step of the
 * lifecycle, exclusive states have at most one holder, aliases name only states they allow.
 *
 * What is the workload's business and not a violation: commands the registry rejects (`InvalidTransition`,
 * `AliasNotAllowed`, ...), and `StorageFailed` when a fault or a crash hits its call. A step that fails is logged
 * and the run goes on with the next. What is a violation: a registry call that fails with anything but a typed
 * error, a step that dies or never completes, and a broken invariant.
 */
import { Cause, Duration, Effect, Exit } from "effect"
import { compileOrThrow, describeLifecycle, type LifecycleDefinition } from "../../actors/lifecycleDefinition.ts"
import type { ModelSummary, ModelVersion } from "../../domain/ModelVersion.ts"
import type { RegistryEvent } from "../../domain/RegistryEvent.ts"
import type { ModelRegistry, WriteOptions } from "../../effects/ModelRegistry.ts"
import { failureTag } from "../exits.ts"
import type { Prng } from "../Prng.ts"
import type { FaultConfig } from "../SimulatedFileSystem.ts"
import {
  failingFaultCount,
  hangAfter,
  maybeArmCrash,
  type RegistrySettings,
  rebootAfterStep,
  type SimulatedObserver,
  type World,
} from "./engine.ts"
import { eventLabel, Oracle, type Submission } from "./oracle.ts"
import { defaultFaults, runSeeded, SimulationFailure, type SimulationResult } from "./run.ts"

/**
 * The user's program for one step: called once per step with the registry (the live one; a crash between steps
 * hands the next step the reopened one) and the seed's random source. Keep state in the registry, not in closures:
 * a crash loses whatever the registry did not acknowledge, and the next step must cope with it, as a restarted
 * controller would.
 */
export type UserWorkload<E = unknown> = (registry: ModelRegistry, random: Prng, step: number) => Effect.Effect<void, E>

/** What an invariant reads: the registry as a reader sees it, and the whole committed history. */
export interface RegistryView {
  readonly lifecycle: ModelRegistry["lifecycle"]
  readonly models: ReadonlyArray<ModelSummary>
  /** Every version of every model, by model name, in semver precedence order. */
  readonly versions: ReadonlyMap<string, ReadonlyArray<ModelVersion>>
  /** Every committed event from seq 1, checked against the log (compaction does not shorten it). */
  readonly events: ReadonlyArray<RegistryEvent>
  /** After step `step` ran (`"step"`), or after an open or a reopen (`"open"`; the first open is step 0). */
  readonly moment: "step" | "open"
  readonly step: number
}

/**
 * A property of the registry's state that must hold at every check point: returns `undefined` when it holds, or
 * what is wrong. Name the function: the name is the invariant's name in a failure report.
 */
export type Invariant = (view: RegistryView) => string | undefined | Effect.Effect<string | undefined>

export interface UserSimulationOptions<E = unknown> {
  readonly workload: UserWorkload<E>
  readonly invariants?: ReadonlyArray<Invariant>
  /** The lifecycle the registry runs (default: the default lifecycle). */
  readonly lifecycle?: LifecycleDefinition
  /** How many seeds from `seed` (default 1), or the seeds themselves. */
  readonly seeds?: number | ReadonlyArray<number>
  /** The first seed (default 1). */
  readonly seed?: number
  /** Workload steps per seed (default 20). */
  readonly steps?: number
  /** Chance per step of a power cut within the next few dozen I/Os (default 0.12). */
  readonly crashProbability?: number
  /** Disk fault knobs (default `defaultFaults`; `{}` for a fault-free disk that still crashes). */
  readonly faults?: FaultConfig
  /** Registry limits; by default each seed draws small ones, so segments roll and compaction runs. */
  readonly registry?: Omit<RegistrySettings, "lifecycle">
  /** Observers to run beside the workload, with their deliveries checked (default none). */
  readonly observers?: ReadonlyArray<SimulatedObserver>
  /** Also run the audit-log observer and check its file (default false). */
  readonly audit?: boolean
  /** Trace lines kept for a failure report (default 60). */
  readonly traceMax?: number
  /** The command that replays one seed, printed with a failure (default: the `simulate` call with `seeds: [seed]`). */
  readonly reproduce?: (seed: number) => string
}

/** What every seed of a passing run did, summed. */
export interface UserSimulationReport {
  readonly seeds: ReadonlyArray<number>
  readonly steps: number
  readonly calls: number
  readonly crashes: number
  readonly restarts: number
  readonly events: number
  readonly invariantsChecked: number
  readonly ackedWritesChecked: number
}

const defaultReproduce = (seed: number) => `reproduce: simulate({ ...the same options, seeds: [${seed}] })`

const seedsOf = (options: UserSimulationOptions<unknown>): ReadonlyArray<number> =>
  typeof options.seeds === "object"
    ? options.seeds
    : Array.from({ length: options.seeds ?? 1 }, (_, i) => (options.seed ?? 1) + i)

const submissionLabel = (s: Submission): string => {
  switch (s._tag) {
    case "register":
      return `register ${s.name}@${s.version}`
    case "setAlias":
      return `setAlias ${s.name} ${s.alias} ${s.version}`
    case "removeAlias":
      return `removeAlias ${s.name} ${s.alias}`
    case "transition":
      return `${s.event} ${s.name}@${s.version}`
    default:
      return `${s._tag} ${s.name}@${s.version}`
  }
}

/**
 * The registry handed to the workload: the live one, with every write shown to the oracle (submitted before it is
 * sent, acknowledged when it resolves durably) and judged (a failure must be a typed error).
 */
const recordingRegistry = (world: World, registry: ModelRegistry, label: string): ModelRegistry => {
  const write =
    (s: Submission, options: WriteOptions | undefined) =>
    <A extends { readonly event: RegistryEvent | null }, E>(call: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.suspend(() => {
        world.calls++
        world.oracle.submit(s)
        return call
      }).pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            const what = `${label} ${submissionLabel(s)}`
            if (Exit.isSuccess(exit)) {
              const { event } = exit.value
              // `wait: false` resolves once the command is queued: no durability was promised.
              if (options?.wait !== false) world.oracle.acknowledged(s, event)
              world.log(`${what} -> ${event === null ? "unchanged" : eventLabel(event)}`)
              return
            }
            const tag = failureTag(exit)
            world.log(`${what} -> ${tag ?? (Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "defect")}`)
            world.oracle.count(
              tag !== undefined || Cause.isInterruptedOnly(exit.cause),
              "every failure is a typed error",
              () => `${submissionLabel(s)} failed with ${Cause.pretty(exit.cause).split("\n")[0]}`,
            )
          }),
        ),
      )
  const transition = (name: string, version: string, event: string, options?: WriteOptions) =>
    write({ _tag: "transition", name, version, event }, options)(registry.transition(name, version, event, options))
  return {
    ...registry,
    register: (input, options) =>
      write(
        { _tag: "register", name: input.name, version: input.version, metrics: input.metrics ?? {} },
        options,
      )(registry.register(input, options)),
    registerDecoded: (input, options) =>
      write(
        { _tag: "register", name: input.name, version: input.version, metrics: input.metrics ?? {} },
        options,
      )(registry.registerDecoded(input, options)),
    transition,
    promote: (name, version, options) => transition(name, version, "promote", options),
    deprecate: (name, version, options) => transition(name, version, "deprecate", options),
    setAlias: (name, alias, version, options) =>
      write({ _tag: "setAlias", name, alias, version }, options)(registry.setAlias(name, alias, version, options)),
    removeAlias: (name, alias, options) =>
      write({ _tag: "removeAlias", name, alias }, options)(registry.removeAlias(name, alias, options)),
  }
}

/**
 * The registry as a reader sees it, with the history it was built from; `undefined` when the oracle's history (fed
 * by a live subscription) has not reached the registry's last seq, so that an invariant never sees versions and
 * events of two different moments.
 */
const readView = (registry: ModelRegistry, world: World, moment: RegistryView["moment"], step: number) =>
  Effect.gen(function* () {
    const before = (yield* registry.stats).lastSeq
    const models = yield* registry.listModels
    const versions = new Map<string, ReadonlyArray<ModelVersion>>()
    for (const model of models) versions.set(model.name, yield* registry.listVersions(model.name))
    const after = (yield* registry.stats).lastSeq
    if (before !== after || world.oracle.history.length !== after) return undefined
    const view: RegistryView = {
      lifecycle: registry.lifecycle,
      models,
      versions,
      events: [...world.oracle.history],
      moment,
      step,
    }
    return view
  })

/** Runs the lifecycle's rules and the user's invariants over the live registry. */
const checkInvariants = (
  world: World,
  invariants: ReadonlyArray<Invariant>,
  moment: RegistryView["moment"],
  step: number,
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const process = world.process
    if (process === undefined || world.disk.halted) return
    const read = yield* readView(process.registry, world, moment, step).pipe(Effect.timeout(hangAfter), Effect.exit)
    if (Exit.isFailure(read)) {
      if (!world.disk.halted) world.oracle.report("the registry is readable", Cause.pretty(read.cause).split("\n")[0]!)
      return
    }
    const view = read.value
    if (view === undefined) {
      world.log(`${moment} ${step}: the history is behind the registry, invariants not checked`)
      return
    }
    for (const [name, versions] of view.versions) world.oracle.checkLifecycleRules(name, versions)
    for (const [i, invariant] of invariants.entries()) {
      const name = invariant.name === "" ? `invariant #${i + 1}` : invariant.name
      const answer = yield* Effect.try(() => invariant(view)).pipe(
        Effect.catchAll((thrown) => Effect.succeed(`the invariant threw: ${String(thrown.error)}`)),
      )
      const problem = Effect.isEffect(answer)
        ? yield* answer.pipe(
            Effect.catchAllCause((cause) => Effect.succeed(`the invariant failed: ${Cause.pretty(cause)}`)),
          )
        : answer
      world.oracle.count(problem === undefined, name, () => `${problem} (after ${moment} ${step})`)
    }
  })

/** One step: maybe arm a crash, run the workload once, let virtual time pass, reboot if it crashed or faulted. */
const runStep = <E>(
  options: UserSimulationOptions<E>,
  world: World,
  prng: Prng,
  random: Prng,
  step: number,
): Effect.Effect<boolean> =>
  Effect.gen(function* () {
    const process = world.process
    if (process === undefined) return false
    maybeArmCrash(world, prng, options.crashProbability ?? 0.12, step)
    const faultsBefore = failingFaultCount(world.disk.faults)
    const registry = recordingRegistry(world, process.registry, `s${step}`)
    // Suspended, so that a workload that throws instead of returning an Effect is a defect of the step.
    const exit = yield* Effect.suspend(() => options.workload(registry, random, step)).pipe(
      Effect.timeout(hangAfter),
      Effect.exit,
    )
    const tag = failureTag(exit)
    if (tag === "TimeoutException")
      world.oracle.report("no call hangs", `step ${step} did not complete within ${Duration.format(hangAfter)}`)
    else if (Exit.isFailure(exit) && Cause.isDie(exit.cause))
      world.oracle.report("the workload does not die", `step ${step}: ${Cause.pretty(exit.cause).split("\n")[0]}`)
    world.log(`s${step} workload -> ${Exit.isSuccess(exit) ? "ok" : (tag ?? "failed")}`)
    yield* Effect.sleep(Duration.millis(prng.int(400)))
    const reopened = yield* rebootAfterStep(world, prng, faultsBefore)
    if (reopened === undefined) yield* checkInvariants(world, options.invariants ?? [], "step", step)
    return reopened === undefined || reopened === "open"
  })

/** Runs one seed of a user workload and returns what it found (never throws for a broken invariant). */
export const runUserSimulation = <E>(
  options: UserSimulationOptions<E> & { readonly seed: number },
): SimulationResult => {
  const { seed } = options
  const lifecycle = options.lifecycle
  const description = lifecycle === undefined ? undefined : describeLifecycle(compileOrThrow(lifecycle))
  let step = 0
  return runSeeded(
    {
      seed,
      steps: options.steps ?? 20,
      faults: options.faults ?? defaultFaults,
      registry: options.registry,
      observers: options.observers ?? [],
      audit: options.audit ?? false,
      traceMax: options.traceMax ?? 60,
      oracle: new Oracle(description),
      afterOpen: (world) => checkInvariants(world, options.invariants ?? [], "open", step),
      reproduce: (options.reproduce ?? defaultReproduce)(seed),
      lifecycle,
    },
    (world, streams, n) => {
      step = n
      return runStep(options, world, streams.workload, streams.extra, n)
    },
  )
}

/** Runs every seed; throws `SimulationFailure` (the seed, the replay command and the trace) at the first that fails. */
export const simulateUserWorkload = <E>(options: UserSimulationOptions<E>): UserSimulationReport => {
  const seeds = seedsOf(options)
  const totals = { steps: 0, calls: 0, crashes: 0, restarts: 0, events: 0, invariantsChecked: 0, ackedWritesChecked: 0 }
  for (const seed of seeds) {
    const result = runUserSimulation({ ...options, seed })
    if (!result.ok) throw new SimulationFailure(result)
    totals.steps += result.steps
    totals.calls += result.calls
    totals.crashes += result.crashes
    totals.restarts += result.restarts
    totals.events += result.events
    totals.invariantsChecked += result.invariantsChecked
    totals.ackedWritesChecked += result.ackedWritesChecked
  }
  return { seeds, ...totals }
}
