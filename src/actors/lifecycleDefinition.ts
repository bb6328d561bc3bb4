/**
 * A user's lifecycle: an XState machine over one version's states, plus the declarations the registry enforces per
 * model (exclusive states, alias constraints), compiled once into the tables the decider reads.
 *
 * The machine is read as a statechart of flat states: each transition is an event from one state to another,
 * optionally guarded. Everything else a machine can do (nested or parallel states, actions, delayed or eventless
 * transitions, invoked actors) is refused, because the registry stores each transition as a fact and replays facts,
 * never the machine: an action would run once and never again, a timer would fire in no one's process.
 */
import { Either } from "effect"
import { type AnyStateMachine, transition } from "xstate"
import { InvalidLifecycle } from "../domain/errors.ts"
import type { JsonObject } from "../domain/Json.ts"
import { type LifecycleBinding, type LifecycleState, lifecycleNameViolation } from "../domain/Lifecycle.ts"
import type { Tags } from "../domain/ModelMetadata.ts"

/**
 * What a guard sees as the machine's `context`: the version the event is for. A guard such as
 * `({ context }) => Number(context.metrics.accuracy) >= 0.9` decides whether the version may take the transition.
 */
export interface LifecycleContext {
  readonly name: string
  readonly version: string
  readonly metrics: JsonObject
  readonly tags: Tags
}

export interface LifecycleDefinition {
  /** Recorded in the log with the definition's fingerprint: a directory opens only under the lifecycle it was written under. */
  readonly name: string
  /** Flat states, event-named transitions, optional guards over `LifecycleContext`. */
  readonly machine: AnyStateMachine
  /**
   * State → event: at most one version per model is in the state, and a version entering it sends the event to the
   * previous holder, in the same durable event.
   */
  readonly exclusive?: Readonly<Record<string, string>>
  /**
   * Alias → the states its version may be in: setting it on a version in another state fails with `AliasNotAllowed`,
   * and a version that leaves these states loses the alias in the same event. Undeclared aliases are unconstrained.
   */
  readonly aliases?: Readonly<Record<string, ReadonlyArray<string>>>
}

/** Declares a lifecycle. It is checked (structure, then the model checker) when a registry opens with it. */
export const defineLifecycle = (definition: LifecycleDefinition): LifecycleDefinition => definition

/** One way an event may leave a state, in the machine's order: the first candidate whose guard passes is taken. */
export interface TransitionCandidate {
  readonly target: LifecycleState
  readonly guarded: boolean
}

/** A lifecycle, validated and tabulated. */
export interface CompiledLifecycle {
  readonly definition: LifecycleDefinition
  readonly name: string
  /** FNV-1a 64 of the definition's canonical description, as 16 hex digits. */
  readonly fingerprint: string
  readonly binding: LifecycleBinding
  readonly initial: LifecycleState
  /** In the machine's order. */
  readonly states: ReadonlyArray<LifecycleState>
  /** Every event some state accepts, sorted. */
  readonly events: ReadonlyArray<string>
  /** state → event → candidates; an event a state ignores is absent. */
  readonly transitions: ReadonlyMap<LifecycleState, ReadonlyMap<string, ReadonlyArray<TransitionCandidate>>>
  /** event → every state it can lead to: a version already there has had the event, so a retry is a no-op. */
  readonly targetsOf: ReadonlyMap<string, ReadonlySet<LifecycleState>>
  /** exclusive state → its displacement event. */
  readonly exclusive: ReadonlyMap<LifecycleState, string>
  /** declared alias → the states it may point at. */
  readonly aliases: ReadonlyMap<string, ReadonlySet<LifecycleState>>
  /** States no event leaves. */
  readonly terminal: ReadonlySet<LifecycleState>
  /**
   * The state `event` takes a version in `from` to, running the machine's guards with `context`; `undefined` when
   * no candidate's guard passes (or a guard throws: a guard that cannot decide does not let a version through).
   */
  readonly evaluate: (from: LifecycleState, event: string, context: LifecycleContext) => LifecycleState | undefined
}

const invalid = (lifecycle: string, reason: string) =>
  Either.left(new InvalidLifecycle({ lifecycle, reason, counterexample: [] }))

/**
 * FNV-1a, 64 bits. Written here because the core is runtime-neutral and synchronous: Web Crypto's digest is
 * asynchronous and a global, and no dependency of ours hashes. It only has to tell definitions apart.
 */
const fnv1a64 = (text: string): string => {
  let hash = 0xcbf29ce484222325n
  const bytes = new TextEncoder().encode(text)
  for (const byte of bytes) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 0x100000001b3n)
  return hash.toString(16).padStart(16, "0")
}

/** A guard's identity for the fingerprint: its name when declared in `setup({ guards })`, else only that it is inline. */
const guardName = (guard: unknown): string =>
  typeof guard === "string"
    ? guard
    : typeof guard === "object" && guard !== null && "type" in guard
      ? String(guard.type)
      : "inline"

export const compileLifecycle = (
  definition: LifecycleDefinition,
): Either.Either<CompiledLifecycle, InvalidLifecycle> => {
  const name = String(definition.name)
  const nameProblem = lifecycleNameViolation(name)
  if (nameProblem !== undefined) return invalid(name, `its name ${nameProblem}`)
  const machine = definition.machine
  const root = machine?.root
  if (root === undefined) return invalid(name, "`machine` is not an XState machine")
  if (root.type !== "compound") return invalid(name, "the machine must have states")
  if (root.transitions.size > 0 || (root.always?.length ?? 0) > 0 || root.after.length > 0)
    return invalid(name, "the machine's root has transitions: put them on its states")
  if (root.entry.length > 0 || root.exit.length > 0 || root.invoke.length > 0)
    return invalid(name, "the machine's root has actions or invoked actors, which replay would never run")

  const states: Array<string> = []
  const transitions = new Map<string, Map<string, Array<TransitionCandidate>>>()
  const targetsOf = new Map<string, Set<string>>()
  const canonical: Array<unknown> = []
  for (const [key, node] of Object.entries(root.states)) {
    const problem = lifecycleNameViolation(key)
    if (problem !== undefined) return invalid(name, `state "${key}" ${problem}`)
    if (node.type !== "atomic" && node.type !== "final")
      return invalid(name, `state "${key}" is ${node.type}: a lifecycle's states are flat`)
    // Before the actions: XState implements `after` with entry and exit actions of its own.
    if ((node.always?.length ?? 0) > 0 || node.after.length > 0)
      return invalid(name, `state "${key}" has eventless or delayed transitions: every transition must be an event`)
    if (node.entry.length > 0 || node.exit.length > 0 || node.invoke.length > 0)
      return invalid(name, `state "${key}" has entry/exit actions or invoked actors, which replay would never run`)
    states.push(key)
    const byEvent = new Map<string, Array<TransitionCandidate>>()
    for (const [event, definitions] of node.transitions) {
      const eventProblem = lifecycleNameViolation(event)
      if (eventProblem !== undefined) return invalid(name, `event "${event}" (from "${key}") ${eventProblem}`)
      const candidates: Array<TransitionCandidate> = []
      for (const candidate of definitions) {
        const target = candidate.target
        if (target === undefined || target.length !== 1 || target[0]!.parent !== root)
          return invalid(name, `"${event}" from "${key}" must target exactly one state of the machine`)
        if (candidate.actions.length > 0)
          return invalid(name, `"${event}" from "${key}" has actions, which replay would never run`)
        candidates.push({ target: target[0]!.key, guarded: candidate.guard !== undefined })
        const targets = targetsOf.get(event) ?? new Set<string>()
        targetsOf.set(event, targets)
        targets.add(target[0]!.key)
        canonical.push([key, event, target[0]!.key, candidate.guard === undefined ? null : guardName(candidate.guard)])
      }
      byEvent.set(event, candidates)
    }
    transitions.set(key, byEvent)
  }
  const initial = machine.resolveState({ value: root.initial.target[0]?.key ?? "", context: {} }).value
  if (typeof initial !== "string" || !transitions.has(initial)) return invalid(name, "the machine has no initial state")

  const events = [...targetsOf.keys()].sort()
  const exclusive = new Map<string, string>()
  for (const [state, event] of Object.entries(definition.exclusive ?? {})) {
    if (!transitions.has(state)) return invalid(name, `exclusive state "${state}" is not a state of the machine`)
    if (!targetsOf.has(event))
      return invalid(name, `exclusive "${state}" displaces with "${event}", which is no event of the machine`)
    exclusive.set(state, event)
  }
  const aliases = new Map<string, ReadonlySet<string>>()
  for (const [alias, allowed] of Object.entries(definition.aliases ?? {})) {
    const problem = lifecycleNameViolation(alias)
    if (problem !== undefined) return invalid(name, `alias "${alias}" ${problem}`)
    if (!Array.isArray(allowed) || allowed.length === 0)
      return invalid(name, `alias "${alias}" must list the states it may point at`)
    for (const state of allowed)
      if (!transitions.has(state))
        return invalid(name, `alias "${alias}" allows "${state}", which is not a state of the machine`)
    aliases.set(alias, new Set(allowed))
  }
  const terminal = new Set(states.filter((state) => transitions.get(state)!.size === 0))

  const fingerprint = fnv1a64(
    JSON.stringify({
      initial,
      states,
      transitions: canonical,
      exclusive: [...exclusive].sort(),
      aliases: [...aliases].map(([alias, allowed]) => [alias, [...allowed].sort()]).sort(),
    }),
  )

  const evaluate = (from: string, event: string, context: LifecycleContext): string | undefined => {
    const candidates = transitions.get(from)?.get(event)
    if (candidates === undefined) return undefined
    if (!candidates[0]!.guarded) return candidates[0]!.target
    try {
      const snapshot = machine.resolveState({ value: from, context })
      const [next] = transition(machine, snapshot, { type: event })
      return next === snapshot || next.status === "error" ? undefined : String(next.value)
    } catch {
      return undefined
    }
  }

  return Either.right({
    definition,
    name,
    fingerprint,
    binding: { name, fingerprint, exclusive: [...exclusive.keys()].sort() },
    initial,
    states,
    events,
    transitions,
    targetsOf,
    exclusive,
    aliases,
    terminal,
    evaluate,
  })
}

/** `compileLifecycle` for definitions known to be valid (the built-in ones): a failure is a bug, so it throws. */
export const compileOrThrow = (definition: LifecycleDefinition): CompiledLifecycle =>
  Either.getOrElse(compileLifecycle(definition), (error) => {
    throw new Error(error.message)
  })

/** A lifecycle as data: what `GET /lifecycle` answers and `lifecycle show` draws. */
export interface LifecycleDescription {
  readonly name: string
  readonly fingerprint: string
  readonly initial: string
  readonly states: ReadonlyArray<string>
  readonly events: ReadonlyArray<string>
  readonly transitions: ReadonlyArray<{
    readonly from: string
    readonly event: string
    readonly to: string
    readonly guarded: boolean
  }>
  readonly terminal: ReadonlyArray<string>
  /** Exclusive state → its displacement event. */
  readonly exclusive: { readonly [state: string]: string }
  /** Alias → the states it may point at. */
  readonly aliases: { readonly [alias: string]: ReadonlyArray<string> }
}

export const describeLifecycle = (lifecycle: CompiledLifecycle): LifecycleDescription => ({
  name: lifecycle.name,
  fingerprint: lifecycle.fingerprint,
  initial: lifecycle.initial,
  states: lifecycle.states,
  events: lifecycle.events,
  transitions: [...lifecycle.transitions].flatMap(([from, byEvent]) =>
    [...byEvent].flatMap(([event, candidates]) =>
      candidates.map((candidate) => ({ from, event, to: candidate.target, guarded: candidate.guarded })),
    ),
  ),
  terminal: lifecycle.states.filter((state) => lifecycle.terminal.has(state)),
  exclusive: Object.fromEntries(lifecycle.exclusive),
  aliases: Object.fromEntries([...lifecycle.aliases].map(([alias, allowed]) => [alias, [...allowed]])),
})
