/**
 * The simulated world shared by the random simulator, the crash-point enumeration and the fail-the-Nth-I/O loop:
 * one simulated disk, one "process" at a time running the real registry on it (its layer scope is the process),
 * simulated clients, recorded observers, and the oracle that judges every outcome. Every function here is an
 * Effect meant to run under the deterministic runtime (runtime.ts), so waiting has virtual deadlines: a call or a
 * shutdown that never completes is reported as hung after `hangAfter` of virtual time, at no real cost.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Cause, Chunk, Context, Duration, Effect, Exit, Layer, Option, Scope, Stream } from "effect"
import type { RegistryEvent } from "../../domain/RegistryEvent.ts"
import * as IdGenerator from "../../effects/IdGenerator.ts"
import {
  type FileSystemRegistryOptions,
  ModelRegistry,
  type ObserverHandle,
  type ObserverOptions,
  type ObserverStatus,
} from "../../effects/ModelRegistry.ts"
import { makeSingleNamespace, ProcessInfo } from "../../storage/ProcessInfo.ts"
import { type ActorMutations, layerFileSystemMutated } from "../actorMutations.ts"
import { failureTag } from "../exits.ts"
import type { Prng } from "../Prng.ts"
import {
  type CrashVariant,
  crashVariants,
  type FaultConfig,
  type FaultKind,
  type FaultStats,
  type SimulatedDisk,
} from "../SimulatedFileSystem.ts"
import { layerSimulatedPath } from "../SimulatedPath.ts"
import type { StorageMutation } from "../storageMutations.ts"
import * as StorageMutations from "../storageMutations.ts"
import { type ClientSubmission, canonical, eventLabel, Oracle } from "./oracle.ts"

/** Registry options for a simulated run (everything `layerFileSystem` takes except the directory). */
export interface RegistrySettings extends Omit<FileSystemRegistryOptions, "directory"> {
  /** Test-only: re-introduces one of the seed's actor-level bugs (see actorMutations.ts). */
  readonly mutations?: ActorMutations
  /** Test-only: re-introduces one of the seed's storage bugs by decorating the simulated disk. */
  readonly storageMutation?: StorageMutation
}

/**
 * A user observer run under the simulator. Its handler runs inside the simulated runtime, so it must not wait on
 * real IO or real timers. Every successful delivery is recorded and checked (in order, gap-free, at-least-once).
 */
export interface SimulatedObserver {
  readonly name: string
  readonly handler: (event: RegistryEvent) => Effect.Effect<void, unknown>
  readonly options?: ObserverOptions
}

/** One client command. */
export type ClientOp =
  | ClientSubmission
  | { readonly _tag: "compact" }
  | { readonly _tag: "get"; readonly name: string; readonly version: string }

export const dataDirectory = "/data"

/** Virtual time after which a pending call, open or shutdown counts as hung. */
export const hangAfter = Duration.minutes(10)

/** The errors each kind of call may fail with. Anything else (a defect, an interruption) is a violation. */
const allowedErrors: Record<ClientOp["_tag"], ReadonlyArray<string>> = {
  register: ["VersionConflict", "StorageFailed", "Overloaded"],
  promote: ["ModelNotFound", "VersionNotFound", "InvalidTransition", "StorageFailed", "Overloaded"],
  deprecate: ["ModelNotFound", "VersionNotFound", "InvalidTransition", "StorageFailed", "Overloaded"],
  compact: ["StorageFailed"],
  get: ["ModelNotFound", "VersionNotFound"],
}

/** Fault kinds that make an I/O fail (as opposed to slowing it down or halting the disk). */
export const failingFaults: ReadonlyArray<FaultKind> = ["eio", "eioOnWrite", "eioOnRead", "eioOnSync", "enospcOnWrite"]

export const failingFaultCount = (stats: FaultStats): number => failingFaults.reduce((n, k) => n + stats[k], 0)

interface Process {
  readonly registry: ModelRegistry
  readonly scope: Scope.CloseableScope
  readonly observers: ReadonlyArray<{ readonly name: string; readonly handle: ObserverHandle }>
  /** The built-in audit-log observer, when the run checks its file. */
  readonly audit: ObserverHandle | undefined
}

export interface WorldOptions {
  readonly disk: SimulatedDisk
  readonly registry: RegistrySettings
  readonly observers: ReadonlyArray<SimulatedObserver>
  /** Also run the built-in audit-log observer and check its file at the end. */
  readonly audit: boolean
  readonly traceMax: number
  /** Runs after every successful open, once the oracle has checked the recovered state (user invariants). */
  readonly afterOpen?: (world: World) => Effect.Effect<void>
}

/** Everything that outlives a process: the disk, the oracle, the trace and the counters. */
export class World {
  readonly trace: Array<string> = []
  /** FNV-1a of every trace line ever written, so that determinism is checked on the whole trace, not its tail. */
  traceHash = 0x811c9dc5
  traceLines = 0
  process: Process | undefined
  pid = 0
  epoch = 0
  crashes = 0
  restarts = 0
  calls = 0
  readonly crashStates = new Set<string>()
  /** The fault knobs in force (the disk does not expose its own). */
  faults: FaultConfig

  constructor(
    readonly options: WorldOptions,
    readonly oracle: Oracle = new Oracle(),
  ) {
    this.faults = {}
  }

  get disk(): SimulatedDisk {
    return this.options.disk
  }

  log(line: string): void {
    this.traceLines++
    for (let i = 0; i < line.length; i++) this.traceHash = Math.imul(this.traceHash ^ line.charCodeAt(i), 0x01000193)
    this.traceHash = Math.imul(this.traceHash ^ 10, 0x01000193)
    this.trace.push(line)
    if (this.trace.length > this.options.traceMax * 2) this.trace.splice(0, this.trace.length - this.options.traceMax)
  }

  traceTail(): ReadonlyArray<string> {
    return this.trace.slice(-this.options.traceMax)
  }

  setFaults(faults: FaultConfig): void {
    this.faults = faults
    this.disk.setFaults(faults)
  }

  /** A copy for exploring one crash variant: its own disk (a fork) and oracle; the trace starts empty. */
  fork(disk: SimulatedDisk): World {
    const copy = new World({ ...this.options, disk }, this.oracle.clone())
    copy.pid = this.pid
    copy.epoch = this.epoch
    copy.faults = this.faults
    return copy
  }
}

const describeExit = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit) ? "ok" : Cause.pretty(exit.cause).split("\n")[0]!.slice(0, 300)

const processInfo = (pid: number) =>
  // One host and namespace: a crashed "process" is provably dead, so the next one takes its lock over at once,
  // with no lease to wait out (and no renewals to change the disk's IO schedule).
  Layer.succeed(
    ProcessInfo,
    makeSingleNamespace(pid, () => false),
  )

const registryLayer = (world: World, pid: number) => {
  const { mutations = {}, storageMutation, ...settings } = world.options.registry
  // The seed's lost-append compaction needs both halves of its race: a compaction that races the appends, and a
  // log that lets it delete what no snapshot covers.
  const actorMutations =
    storageMutation === "compactionDeletesUnsnapshottedSegments"
      ? { ...mutations, compactionRacesAppends: true }
      : mutations
  const disk =
    storageMutation === undefined
      ? world.disk.layerWithPath
      : Layer.merge(
          Layer.succeed(FileSystem.FileSystem, StorageMutations.apply(storageMutation, world.disk.fileSystem)),
          layerSimulatedPath,
        )
  return layerFileSystemMutated({ directory: dataDirectory, ...settings }, actorMutations).pipe(
    Layer.provide(Layer.mergeAll(disk, IdGenerator.layerRandom, processInfo(pid))),
  )
}

/** Reads every model's versions, as a reader would see them. */
const readState = (registry: ModelRegistry) =>
  Effect.gen(function* () {
    const byModel = new Map<string, ReadonlyArray<import("../../domain/ModelVersion.ts").ModelVersion>>()
    for (const summary of yield* registry.listModels)
      byModel.set(summary.name, yield* registry.listVersions(summary.name))
    return byModel
  })

export type OpenResult = "open" | "faulted" | "halted" | "refused"

/**
 * Starts a process: opens the registry, checks the recovered state against the oracle, and starts the recorder
 * (a live subscriber feeding the oracle) and the observers. "faulted"/"halted": the open failed because of an
 * injected fault or a halted disk (try again after a crash or with fewer faults); "refused": it failed for another
 * reason, which is a violation.
 */
export const openProcess = (world: World): Effect.Effect<OpenResult> =>
  Effect.gen(function* () {
    const { oracle, disk } = world
    const pid = ++world.pid
    const faultsBefore = failingFaultCount(disk.faults)
    const scope = yield* Scope.make()
    const built = yield* Layer.buildWithScope(registryLayer(world, pid), scope).pipe(
      Effect.timeout(hangAfter),
      Effect.exit,
    )
    if (Exit.isFailure(built)) {
      yield* Scope.close(scope, Exit.void).pipe(Effect.timeout(hangAfter), Effect.ignore)
      const tag = failureTag(built)
      if (disk.halted) {
        world.log(`e${world.epoch} open halted`)
        return "halted"
      }
      if (tag === "StorageFailed" && failingFaultCount(disk.faults) > faultsBefore) {
        world.log(`e${world.epoch} open faulted`)
        return "faulted"
      }
      oracle.report("a crash leaves a directory that reopens", `open failed: ${describeExit(built)}`)
      world.log(`e${world.epoch} open refused: ${describeExit(built)}`)
      return "refused"
    }
    world.epoch++
    const registry = Context.get(built.value, ModelRegistry)
    const faultsBeforeCheck = failingFaultCount(disk.faults)
    let checked = yield* checkRecovered(world, registry).pipe(Effect.timeout(hangAfter), Effect.exit)
    if (Exit.isFailure(checked) && !disk.halted && failingFaultCount(disk.faults) > faultsBeforeCheck) {
      // An injected fault hit the oracle's own read-back (the log beyond what it knew, such as the lifecycle change
      // written at open), not the registry's recovery: read again with the faults lifted.
      world.log(`e${world.epoch} read-back faulted, read again`)
      disk.setFaults({})
      checked = yield* checkRecovered(world, registry).pipe(Effect.timeout(hangAfter), Effect.exit)
      disk.setFaults(world.faults)
    }
    if (Exit.isFailure(checked)) {
      if (disk.halted) {
        yield* Scope.close(scope, Exit.void).pipe(Effect.timeout(hangAfter), Effect.ignore)
        return "halted"
      }
      oracle.report(
        "the recovered log is readable",
        `reading back the recovered state failed: ${describeExit(checked)}`,
      )
    }
    oracle.checkDeliveries()
    const from = oracle.history.length + 1
    yield* registry.subscribe({ from }).pipe(
      Stream.runForEach((event) => Effect.sync(() => oracle.append(event, "publication"))),
      Effect.ignore,
      Effect.forkIn(scope),
    )
    const observers: Array<{ name: string; handle: ObserverHandle }> = []
    for (const observer of world.options.observers) {
      oracle.observerStarted(observer.name)
      const handler = (event: RegistryEvent) =>
        Effect.tap(observer.handler(event), () => Effect.sync(() => oracle.delivered(observer.name, event)))
      const handle = yield* registry
        .observe(observer.name, handler, observer.options)
        .pipe(Scope.extend(scope), Effect.exit)
      if (Exit.isSuccess(handle)) observers.push({ name: observer.name, handle: handle.value })
      else if (!disk.halted && failingFaultCount(disk.faults) === faultsBefore)
        oracle.report("observers start after a reopen", `observer ${observer.name}: ${describeExit(handle)}`)
    }
    let auditHandle: ObserverHandle | undefined
    if (world.options.audit) {
      const audit = yield* registry.auditLog().pipe(Scope.extend(scope), Effect.exit)
      if (Exit.isSuccess(audit)) auditHandle = audit.value
      else if (!disk.halted && failingFaultCount(disk.faults) === faultsBefore)
        oracle.report("observers start after a reopen", `audit log: ${describeExit(audit)}`)
    }
    world.process = { registry, scope, observers, audit: auditHandle }
    world.log(`e${world.epoch} open pid=${pid} lastSeq=${oracle.history.length} io=${disk.ioCount}`)
    if (world.options.afterOpen !== undefined) yield* world.options.afterOpen(world)
    return "open"
  })

const checkRecovered = (world: World, registry: ModelRegistry) =>
  Effect.gen(function* () {
    const { oracle } = world
    const lastSeq = (yield* registry.stats).lastSeq
    const known = oracle.history.length
    let extras: ReadonlyArray<RegistryEvent> = []
    if (lastSeq > known) {
      extras = Chunk.toReadonlyArray(
        yield* registry.subscribe({ from: known + 1 }).pipe(Stream.take(lastSeq - known), Stream.runCollect),
      )
    }
    oracle.recovered(lastSeq, extras)
    oracle.compareState(yield* readState(registry))
  })

/** Stops the current process: closes its scope (drain, release) and reports a shutdown that hangs. */
export const closeProcess = (world: World): Effect.Effect<void> =>
  Effect.gen(function* () {
    const process = world.process
    if (process === undefined) return
    world.process = undefined
    const closed = yield* Scope.close(process.scope, Exit.void).pipe(Effect.timeout(hangAfter), Effect.exit)
    world.oracle.count(
      Exit.isSuccess(closed),
      "no call hangs",
      () => `closing the registry did not finish within ${Duration.format(hangAfter)}`,
    )
  })

const opLabel = (op: ClientOp): string =>
  op._tag === "compact"
    ? "compact"
    : op._tag === "register"
      ? `register ${op.name}@${op.version} ${canonical(op.metrics)}`
      : `${op._tag} ${op.name}@${op.version}`

/**
 * Clients send explicit ids, derived from the command's unique metrics, so that a re-send is recognisably the
 * same registration and ids do not depend on the registry's generator.
 */
const idOf = (metrics: object): string => {
  const c = (metrics as { readonly c?: unknown }).c
  const n = typeof c === "number" ? c : 0
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`
}

/** Runs one client call to completion and judges its outcome. */
export const runCall = (world: World, op: ClientOp, label: string): Effect.Effect<void> =>
  Effect.gen(function* () {
    const process = world.process
    if (process === undefined) return
    const { registry } = process
    const { oracle } = world
    world.calls++
    const call: Effect.Effect<unknown, unknown> =
      op._tag === "register"
        ? registry.register({
            name: op.name,
            version: op.version,
            metrics: op.metrics as Record<string, number>,
            id: idOf(op.metrics),
          })
        : op._tag === "promote"
          ? registry.promote(op.name, op.version)
          : op._tag === "deprecate"
            ? registry.deprecate(op.name, op.version)
            : op._tag === "compact"
              ? registry.compact
              : registry.get(op.name, op.version)
    if (op._tag === "register" || op._tag === "promote" || op._tag === "deprecate") oracle.submit(op)
    const exit = yield* call.pipe(Effect.timeout(hangAfter), Effect.exit)
    if (Exit.isSuccess(exit)) {
      if (op._tag === "register" || op._tag === "promote" || op._tag === "deprecate") {
        const event = (exit.value as { event: RegistryEvent | null }).event
        oracle.acknowledged(op, event)
        world.log(`${label} ${opLabel(op)} -> ${event === null ? "unchanged" : eventLabel(event)}`)
      } else world.log(`${label} ${opLabel(op)} -> ok`)
      return
    }
    const tag = failureTag(exit)
    if (tag === "TimeoutException") {
      oracle.report(
        "no call hangs",
        `${opLabel(op)} did not complete within ${Duration.format(hangAfter)} of virtual time`,
      )
      world.log(`${label} ${opLabel(op)} -> HUNG`)
      return
    }
    const allowed = tag !== undefined && allowedErrors[op._tag].includes(tag)
    oracle.count(allowed, "every failure is a typed error", () => `${opLabel(op)} failed with ${describeExit(exit)}`)
    world.log(`${label} ${opLabel(op)} -> ${tag ?? "defect"}`)
  })

/** A call and how long its client dawdles before making it: the seeded part of the interleaving. */
export interface ScheduledCall {
  readonly op: ClientOp
  readonly yields: number
  readonly delayMs: number
}

/** Runs several calls concurrently (forked together, each after its own delay) and waits for all of them. */
export const runConcurrently = (
  world: World,
  calls: ReadonlyArray<ScheduledCall>,
  label: string,
): Effect.Effect<void> =>
  Effect.forEach(
    calls,
    ({ op, yields, delayMs }, i) =>
      Effect.zipRight(
        Effect.zipRight(
          delayMs > 0 ? Effect.sleep(Duration.millis(delayMs)) : Effect.void,
          Effect.repeatN(Effect.yieldNow(), yields),
        ),
        runCall(world, op, `${label}.${i}`),
      ),
    { concurrency: "unbounded", discard: true },
  )

/**
 * An observer has caught up, or stopped because the registry itself failed (a disk that keeps failing fails the
 * registry, and its observers stop with it; that failure is checked by the calls' own invariants).
 */
const caughtUp = (waited: Exit.Exit<void, unknown>, status: ObserverStatus): boolean =>
  Option.match(status.stopped, {
    onNone: () => Exit.isSuccess(waited),
    onSome: (reason) => reason._tag === "StorageFailed",
  })

/**
 * Waits until every observer has delivered the whole recovered log (or stopped) and reports one that falls
 * behind for good. Used once the disk is healthy, at the end of a run.
 */
export const awaitObservers = (world: World): Effect.Effect<void> =>
  Effect.gen(function* () {
    const process = world.process
    if (process === undefined) return
    const lastSeq = (yield* process.registry.stats).lastSeq
    // The audit file is checked once the audit observer has caught up too (its own check: checkAuditFile).
    if (process.audit !== undefined) {
      const waited = yield* process.audit.awaitSeq(lastSeq).pipe(Effect.timeout(hangAfter), Effect.exit)
      // A crash armed at an I/O the observer itself made halted the disk: the checks after recovery apply.
      if (world.disk.halted) return
      const status = yield* process.audit.status
      world.oracle.count(caughtUp(waited, status), "observers catch up with every committed event", () =>
        Option.isSome(status.stopped)
          ? `audit observer stopped: ${String(status.stopped.value)}`
          : `audit observer is at seq ${status.cursor}, the log at seq ${lastSeq}`,
      )
    }
    for (const { name, handle } of process.observers) {
      const waited = yield* handle.awaitSeq(lastSeq).pipe(Effect.timeout(hangAfter), Effect.exit)
      if (world.disk.halted) return
      const status = yield* handle.status
      world.oracle.count(caughtUp(waited, status), "observers catch up with every committed event", () =>
        Option.isSome(status.stopped)
          ? `observer ${name} stopped: ${String(status.stopped.value)}`
          : `observer ${name} is at seq ${status.cursor}, the log at seq ${lastSeq}`,
      )
      world.oracle.count(
        world.oracle.highestDelivered(name) >= lastSeq,
        "observer deliveries are at-least-once across crashes",
        () =>
          `observer ${name} was delivered up to seq ${world.oracle.highestDelivered(name)}, the log ends at seq ${lastSeq}`,
      )
    }
  })

/**
 * Power loss: stops the process (its finalizers run against the halted disk, so nothing reaches it), loses the
 * disk's volatile state per `variant`, and starts a new process, retrying while the open itself is hit by an
 * injected fault or a crash. After `attemptsMax` faulted opens the faults are lifted for the open: a disk that
 * fails every read cannot be opened by anything, and that is not what is under test.
 */
export const crashAndReopen = (world: World, variant: CrashVariant, seed: number): Effect.Effect<OpenResult> =>
  Effect.gen(function* () {
    const { disk } = world
    if (!disk.halted) disk.halt()
    yield* closeProcess(world)
    for (let attempt = 0; ; attempt++) {
      const report = disk.crash(attempt === 0 ? variant : "drop", { seed: seed + attempt })
      world.crashes++
      world.crashStates.add(disk.fingerprint("durable"))
      world.log(
        `e${world.epoch} crash ${report.variant} at io ${disk.ioCount}: file ${report.filePiecesLanded}/${report.filePieces} dir ${report.dirOpsLanded}/${report.dirOps} torn ${report.tornPieces}`,
      )
      const lifted = attempt >= attemptsMax
      const faults = world.faults
      if (lifted) disk.setFaults({})
      const result = yield* openProcess(world)
      if (lifted) disk.setFaults(faults)
      if (result === "open" || result === "refused" || attempt >= attemptsMax * 2) return result
      if (!disk.halted) disk.halt()
    }
  })

const attemptsMax = 3

/**
 * Restarts the process without power loss (a clean close, then an open). If the open is hit by an injected fault,
 * the machine is rebooted instead (a crash with a variant drawn from the crash count): after a failed fsync the
 * page cache holds data that will never be written (fsyncgate), and no reopen can tell, so trusting it across a
 * later power loss would blame the registry for the kernel's choice.
 */
export const restart = (world: World): Effect.Effect<OpenResult> =>
  Effect.gen(function* () {
    yield* closeProcess(world)
    world.restarts++
    const result = yield* openProcess(world)
    if (result !== "faulted" && result !== "halted") return result
    return yield* crashAndReopen(world, crashVariants[world.crashes % crashVariants.length]!, world.crashes)
  })

export const drawVariant = (prng: Prng): CrashVariant => crashVariants[prng.int(crashVariants.length)]!

/** With probability `probability`, arms a power cut within the next few dozen I/Os. */
export const maybeArmCrash = (world: World, prng: Prng, probability: number, step: number): void => {
  if (!prng.chance(probability)) return
  const at = world.disk.ioCount + 1 + prng.int(48)
  world.disk.crashAfterIo(at)
  world.log(`s${step} crash armed after io ${at}`)
}

/**
 * After a step: reboot after a crash or an injected fault, or restart a process that is gone. Returns how the
 * reopen went, or `undefined` when the process kept running.
 */
export const rebootAfterStep = (
  world: World,
  prng: Prng,
  faultsBefore: number,
): Effect.Effect<OpenResult | undefined> =>
  Effect.gen(function* () {
    if (world.disk.halted) return yield* crashAndReopen(world, drawVariant(prng), prng.nextU32())
    if (failingFaultCount(world.disk.faults) > faultsBefore) {
      // After an injected I/O error the registry may be failed for good (it never retries an fsync): reboot
      // the machine, as a real operator's supervisor would, with whatever power-loss variant the seed picks.
      world.restarts++
      return yield* crashAndReopen(world, drawVariant(prng), prng.nextU32())
    }
    if (world.process === undefined) return yield* restart(world)
    return undefined
  })

/** The end of a run: a healthy disk, so every observer must catch up, and a clean restart must lose nothing. */
export const finishRun = (world: World, prng: Prng): Effect.Effect<void> =>
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

/**
 * Checks the audit-log observer's file: one JSON line per event, seqs 1..n with no gap and no duplicate, each
 * equal to the event of the history, and n = the end of the log (call once observers caught up).
 */
export const checkAuditFile = (world: World): void => {
  if (!world.options.audit) return
  const { oracle } = world
  const path = `${dataDirectory}/audit.ndjson`
  const bytes = world.disk.volatileImage().files.find(([p]) => p === path)?.[1] ?? new Uint8Array()
  const lines = new TextDecoder().decode(bytes).split("\n")
  const last = lines.pop()
  oracle.count(
    last === "",
    "the audit log is exactly the event stream",
    () => `${path} ends with a partial line: ${JSON.stringify(last)}`,
  )
  lines.forEach((line, i) => {
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      parsed = undefined
    }
    const expected = oracle.history[i]
    oracle.count(
      expected !== undefined && parsed !== undefined && canonical(parsed) === canonical(expected),
      "the audit log is exactly the event stream",
      () =>
        `${path} line ${i + 1} is ${line.slice(0, 200)}, expected ${expected === undefined ? "nothing" : canonical(expected).slice(0, 200)}`,
    )
  })
  oracle.count(lines.length === oracle.history.length, "the audit log is exactly the event stream", () => {
    return `${path} has ${lines.length} lines, the log ${oracle.history.length} events`
  })
}
