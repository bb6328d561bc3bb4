/**
 * An exhaustive model checker for a lifecycle: one model with N versions and the given aliases, under every command.
 *
 * Breadth-first search over every reachable model state (each version absent or in a state, each alias unset or
 * naming a version) under every command: register (and a conflicting re-register), every event of the lifecycle on
 * every version, every alias set on every version and removed. A guarded transition is taken both ways, since a
 * guard reads metrics the checker cannot enumerate. The search is complete, not sampled, and breadth-first, so the
 * path that reaches a violation is a shortest one.
 *
 * It runs the registry's own decider and `evolve` (lifecycleRules.ts), so what it proves is what the registry does.
 * It lives in the core because a registry runs it when it opens; the test kit exports it.
 */

import { Either, Schema } from "effect"
import { embeddedActor } from "../domain/Actor.ts"
import { InvalidLifecycle } from "../domain/errors.ts"
import type { AliasName, LifecycleState } from "../domain/Lifecycle.ts"
import type { ModelMetadata } from "../domain/ModelMetadata.ts"
import type { ModelName } from "../domain/ModelName.ts"
import { type EventBody, RegistryEvent } from "../domain/RegistryEvent.ts"
import type { SemVer } from "../domain/SemVer.ts"
import {
  type CompiledLifecycle,
  compileLifecycle,
  type LifecycleDefinition,
  type TransitionCandidate,
} from "./lifecycleDefinition.ts"
import {
  type Command,
  type DecideError,
  evolve,
  type ModelView,
  makeLifecycle,
  type VersionView,
} from "./lifecycleRules.ts"

/** One model as the checker sees it, for the caller's invariants. */
export interface CheckedModel {
  readonly versions: ReadonlyArray<{ readonly version: string; readonly state: LifecycleState }>
  /** Alias → the version it names. */
  readonly aliases: { readonly [alias: string]: string }
}

export interface LifecycleCheckOptions {
  /** Versions of the one model explored (default 3). */
  readonly versions?: number
  /**
   * Alias names explored: the declared aliases first, then undeclared ones up to this many (default: the declared
   * ones, and at least one).
   */
  readonly aliases?: number
  /** The caller's own invariants, checked in every reachable state: a string says what is wrong. */
  readonly invariants?: ReadonlyArray<(model: CheckedModel) => string | undefined>
  /** Stop exploring after this many violations (default 10). */
  readonly violationsMax?: number
}

export interface LifecycleViolation {
  readonly reason: string
  /** The shortest command path that reaches it. */
  readonly counterexample: ReadonlyArray<string>
}

export interface ModelCheckResult {
  readonly lifecycle: string
  readonly versions: number
  readonly aliases: ReadonlyArray<string>
  readonly states: number
  readonly transitions: number
  readonly accepted: number
  readonly rejected: number
  readonly unchanged: number
  /** Lifecycle states some version reached. */
  readonly reached: ReadonlyArray<LifecycleState>
  /** Every invariant broken, with the path that reaches it. Empty means the lifecycle is sound at this size. */
  readonly violations: ReadonlyArray<LifecycleViolation>
}

interface CheckedVersion {
  readonly metadata: ModelMetadata
  readonly state: LifecycleState
}
interface State {
  readonly versions: ReadonlyMap<SemVer, CheckedVersion>
  readonly aliases: ReadonlyMap<string, SemVer>
}

const modelName = "model" as ModelName
const checkedAt = "2026-01-01T00:00:00.000Z"
const contentOf = (version: SemVer, variant: "a" | "b"): ModelMetadata => ({
  id: variant === "a" ? "00000000-0000-4000-8000-000000000001" : "00000000-0000-4000-8000-000000000002",
  name: modelName,
  version,
  createdAt: checkedAt,
  metrics: { variant },
  tags: {},
})

const keyOf = (state: State): string => {
  const versions = [...state.versions].map(([v, s]) => `${v}:${s.state}`).sort()
  const aliases = [...state.aliases].map(([a, v]) => `${a}=${v}`).sort()
  return `${versions.join(" ")} | ${aliases.join(" ")}`
}

const viewOf = (state: State, exclusive: ReadonlyMap<LifecycleState, string>): ModelView | undefined => {
  if (state.versions.size === 0) return undefined
  return {
    version: (v): VersionView | undefined => state.versions.get(v),
    holder: (s) => (exclusive.has(s) ? [...state.versions].find(([, c]) => c.state === s)?.[0] : undefined),
    alias: (a) => state.aliases.get(a),
  }
}

const apply = (state: State, event: EventBody): State => {
  const versions = new Map(state.versions)
  const aliases = new Map(state.aliases)
  const change = evolve(event)
  for (const moved of change.versions) {
    const metadata = moved.metadata ?? versions.get(moved.version)?.metadata
    if (metadata === undefined) throw new Error(`evolve changed unknown version ${moved.version}`)
    versions.set(moved.version, { metadata, state: moved.state })
  }
  for (const { alias, version } of change.aliases) {
    if (version === null) aliases.delete(alias)
    else aliases.set(alias, version)
  }
  return { versions, aliases }
}

const describe = (command: Command): string => {
  switch (command._tag) {
    case "Register":
      return `register ${command.metadata.version}${command.metadata.metrics.variant === "b" ? " (other content)" : ""}`
    case "Transition":
      return `${command.event} ${command.version}`
    case "SetAlias":
      return `alias ${command.alias} → ${command.version}`
    case "RemoveAlias":
      return `remove alias ${command.alias}`
  }
}

/** The outcomes a transition's candidates allow, guards taken both ways: targets, and `undefined` if all may fail. */
const outcomesOf = (candidates: ReadonlyArray<TransitionCandidate> | undefined): ReadonlyArray<string | undefined> => {
  if (candidates === undefined) return [undefined]
  const outcomes: Array<string | undefined> = []
  for (const candidate of candidates) {
    if (!outcomes.includes(candidate.target)) outcomes.push(candidate.target)
    if (!candidate.guarded) return outcomes
  }
  outcomes.push(undefined)
  return outcomes
}

const decodeEvent = Schema.decodeUnknownSync(Schema.parseJson(RegistryEvent))
const encodeEvent = Schema.encodeSync(Schema.parseJson(RegistryEvent))

export const checkCompiledLifecycle = (
  compiled: CompiledLifecycle,
  options: LifecycleCheckOptions = {},
): ModelCheckResult => {
  const versionCount = options.versions ?? 3
  const violationsMax = options.violationsMax ?? 10
  const declared = [...compiled.aliases.keys()]
  const aliasCount = Math.max(options.aliases ?? Math.max(declared.length, 1), 0)
  const aliasNames = [
    ...declared.slice(0, aliasCount),
    ...Array.from({ length: Math.max(aliasCount - declared.length, 0) }, (_, i) => `other-${i + 1}`),
  ]
  const versions = Array.from({ length: versionCount }, (_, i) => `1.${i}.0` as SemVer)

  // Guards are decided by `choices`: the decider asks `evaluate` once for the transition and once more for a
  // displacement, and each guarded ask takes the outcome its index in `choices` names.
  let choices: ReadonlyArray<number> = []
  let asks: Array<number> = []
  const evaluate = (from: string, event: string): string | undefined => {
    const outcomes = outcomesOf(compiled.transitions.get(from)?.get(event))
    const at = asks.length
    asks.push(outcomes.length)
    return outcomes[choices[at] ?? 0]
  }
  const rules = makeLifecycle({ ...compiled, evaluate })
  /** Every decision `command` may get in `state`, one per combination of guard outcomes. */
  const decisions = (view: ModelView | undefined, command: Command) => {
    const found: Array<{
      decision: ReturnType<typeof rules.decide>
      choices: ReadonlyArray<number>
      asks: ReadonlyArray<number>
    }> = []
    const pending: Array<ReadonlyArray<number>> = [[]]
    while (pending.length > 0) {
      choices = pending.pop()!
      asks = []
      const decision = rules.decide(view, command, checkedAt)
      found.push({ decision, choices, asks })
      // Every ask this run left to its default outcome branches into its other outcomes.
      for (let i = choices.length; i < asks.length; i++)
        for (let alternative = 1; alternative < asks[i]!; alternative++)
          pending.push([...choices, ...Array<number>(i - choices.length).fill(0), alternative])
    }
    return found
  }

  const commands: ReadonlyArray<Command> = [
    ...versions.flatMap(
      (version): Array<Command> => [
        { _tag: "Register", metadata: contentOf(version, "a"), compareId: true },
        { _tag: "Register", metadata: contentOf(version, "b"), compareId: true },
        ...compiled.events.map((event): Command => ({ _tag: "Transition", name: modelName, version, event })),
      ],
    ),
    ...aliasNames.flatMap(
      (alias): Array<Command> => [
        ...versions.map(
          (version): Command => ({ _tag: "SetAlias", name: modelName, alias: alias as AliasName, version }),
        ),
        { _tag: "RemoveAlias", name: modelName, alias: alias as AliasName },
      ],
    ),
  ]

  const violations: Array<LifecycleViolation> = []
  const report = (reason: string, path: ReadonlyArray<string>) => {
    if (violations.length < violationsMax) violations.push({ reason, counterexample: path })
  }
  const replayed = new Map<string, EventBody>()
  /** The event as recovery reads it back: encoded and decoded as the log does. */
  const roundTrip = (event: EventBody): EventBody => {
    const text = JSON.stringify(event)
    let decoded = replayed.get(text)
    if (decoded === undefined) {
      const {
        seq: _seq,
        at: _at,
        actor: _actor,
        ...body
      } = decodeEvent(encodeEvent({ ...event, seq: 1, at: checkedAt, actor: embeddedActor } as RegistryEvent))
      decoded = body as EventBody
      replayed.set(text, decoded)
    }
    return decoded
  }

  /** Whether the state explains a rejection: the model or version is missing, the content differs, or no transition. */
  const justified = (error: DecideError, state: State, command: Command, asked: ReadonlyArray<number>): boolean => {
    const version =
      command._tag === "Register"
        ? command.metadata.version
        : command._tag === "RemoveAlias"
          ? undefined
          : command.version
    const existing = version === undefined ? undefined : state.versions.get(version)
    switch (error._tag) {
      case "ModelNotFound":
        return state.versions.size === 0
      case "VersionNotFound":
        return existing === undefined
      case "VersionConflict":
        return existing !== undefined && command._tag === "Register"
      case "AliasNotAllowed":
        return existing !== undefined && compiled.aliases.get(error.alias)?.has(existing.state) === false
      case "InvalidTransition":
        // Refused by the transition itself (none, or its guard failed), never by a displacement.
        return existing !== undefined && asked.length <= 1
    }
  }

  const checkState = (state: State, path: ReadonlyArray<string>) => {
    for (const [exclusiveState] of compiled.exclusive) {
      const holders = [...state.versions].filter(([, v]) => v.state === exclusiveState).map(([v]) => v)
      if (holders.length > 1) report(`${holders.join(" and ")} are both in exclusive state "${exclusiveState}"`, path)
    }
    for (const [alias, version] of state.aliases) {
      const allowed = compiled.aliases.get(alias)
      const held = state.versions.get(version)
      if (held === undefined) report(`alias "${alias}" names ${version}, which is not registered`, path)
      else if (allowed !== undefined && !allowed.has(held.state))
        report(
          `alias "${alias}" names ${version}, which is "${held.state}": it may only name ${[...allowed].join(", ")}`,
          path,
        )
    }
    if (options.invariants !== undefined && options.invariants.length > 0) {
      const model: CheckedModel = {
        versions: [...state.versions].map(([version, v]) => ({ version, state: v.state })),
        aliases: Object.fromEntries(state.aliases),
      }
      for (const invariant of options.invariants) {
        const problem = invariant(model)
        if (problem !== undefined) report(problem, path)
      }
    }
  }

  // A displacement the lifecycle does not accept is a violation even where no path reaches it yet: it is reported
  // below with the path that first needs it.
  const start: State = { versions: new Map(), aliases: new Map() }
  const seen = new Map<string, { state: State; path: ReadonlyArray<string> }>([
    [keyOf(start), { state: start, path: [] }],
  ])
  const queue = [keyOf(start)]
  const reached = new Set<LifecycleState>()
  let transitions = 0
  let accepted = 0
  let rejected = 0
  let unchanged = 0

  for (let head = 0; head < queue.length && violations.length < violationsMax; head++) {
    const { state, path } = seen.get(queue[head]!)!
    for (const v of state.versions.values()) reached.add(v.state)
    checkState(state, path)
    const view = viewOf(state, compiled.exclusive)
    for (const command of commands) {
      // A conflicting re-register is a probe: content is symmetric, so only the canonical content is registered.
      if (
        command._tag === "Register" &&
        command.metadata.metrics.variant === "b" &&
        !state.versions.has(command.metadata.version)
      )
        continue
      const step = [...path, describe(command)]
      for (const { decision, choices: taken, asks: asked } of decisions(view, command)) {
        transitions++
        if (decision._tag === "Reject") {
          rejected++
          const { error } = decision
          if (error._tag === "InvalidTransition" && asked.length > 1) {
            const target = outcomesOf(compiled.transitions.get(error.from)?.get(error.event))[taken[0] ?? 0] ?? ""
            report(
              `exclusive state "${target}" displaces its holder with "${compiled.exclusive.get(target)}", which "${target}" does not accept`,
              step,
            )
          } else if (!justified(error, state, command, asked))
            report(`unjustified ${decision.error._tag} at ${describe(command)}`, step)
          continue
        }
        if (decision._tag === "Unchanged") {
          unchanged++
          continue
        }
        accepted++
        const next = apply(state, decision.event)
        for (const [version, before] of state.versions) {
          const after = next.versions.get(version)!
          if (compiled.terminal.has(before.state) && after.state !== before.state)
            report(`${version} left terminal state "${before.state}" for "${after.state}"`, step)
        }
        if (keyOf(apply(state, roundTrip(decision.event))) !== keyOf(next))
          report(`replaying the encoded event does not rebuild the state after ${describe(command)}`, step)
        const retryView = viewOf(next, compiled.exclusive)
        for (const retry of decisions(retryView, command))
          if (retry.decision._tag !== "Unchanged") {
            report(`retrying ${describe(command)} is not a no-op (${retry.decision._tag})`, step)
            break
          }
        const key = keyOf(next)
        if (!seen.has(key)) {
          seen.set(key, { state: next, path: step })
          queue.push(key)
        }
      }
    }
  }
  if (violations.length === 0)
    for (const state of compiled.states)
      if (!reached.has(state)) report(`state "${state}" is unreachable with ${versionCount} versions`, [])
  return {
    lifecycle: compiled.name,
    versions: versionCount,
    aliases: aliasNames,
    states: seen.size,
    transitions,
    accepted,
    rejected,
    unchanged,
    reached: compiled.states.filter((state) => reached.has(state)),
    violations,
  }
}

/** Compiles and checks a lifecycle; the structural problems `compileLifecycle` finds come back as the error. */
export const checkLifecycle = (
  lifecycle: LifecycleDefinition,
  options: LifecycleCheckOptions = {},
): Either.Either<ModelCheckResult, InvalidLifecycle> =>
  Either.map(compileLifecycle(lifecycle), (compiled) => checkCompiledLifecycle(compiled, options))

/**
 * The size a registry checks its lifecycle at when it opens: every state reachable by some version needs about as
 * many versions as the longest chain of displacements, and three covers a holder, its successor, and one more.
 */
export const openCheckSize: LifecycleCheckOptions = { versions: 3, violationsMax: 1 }

/** The lifecycle, or the first violation the checker finds at `openCheckSize`, as `InvalidLifecycle`. */
export const verifyLifecycle = (compiled: CompiledLifecycle): Either.Either<CompiledLifecycle, InvalidLifecycle> => {
  const result = checkCompiledLifecycle(compiled, openCheckSize)
  const first = result.violations[0]
  return first === undefined
    ? Either.right(compiled)
    : Either.left(new InvalidLifecycle({ lifecycle: compiled.name, ...first }))
}
