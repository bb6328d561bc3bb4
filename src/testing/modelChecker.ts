/**
 * An exhaustive model checker for the lifecycle of one model with up to N versions.
 *
 * Breadth-first search over every reachable model state under every command (register with the canonical
 * content, register with conflicting content, promote, deprecate; on every version, valid or not). The
 * state space is small and finite (at most 7^N states), so the search is complete, not sampled. It
 * checks the invariants in every state and on every transition, and returns the counts it explored.
 */
import { Schema } from "effect"
import {
  type Command,
  type DecideError,
  lifecycle as defaultLifecycle,
  type Lifecycle,
  type LifecycleEventType,
  type ModelView,
  type TransitionTable,
  type VersionView,
} from "../actors/lifecycleRules.ts"
import type { ModelMetadata } from "../domain/ModelMetadata.ts"
import type { ModelName } from "../domain/ModelName.ts"
import { type EventBody, RegistryEvent } from "../domain/RegistryEvent.ts"
import type { SemVer } from "../domain/SemVer.ts"

export interface ModelCheckResult {
  readonly versions: number
  readonly states: number
  readonly transitions: number
  readonly accepted: number
  readonly rejected: number
  readonly unchanged: number
  /** Every invariant broken, with the path of commands that reaches it. Empty means the lifecycle is sound. */
  readonly violations: ReadonlyArray<string>
}

type ModelState = ReadonlyMap<SemVer, VersionView>

const modelName = "model" as ModelName
const versionsOf = (count: number) => Array.from({ length: count }, (_, i) => `1.${i}.0` as SemVer)
const contentOf = (version: SemVer, variant: "a" | "b"): ModelMetadata => ({
  id: variant === "a" ? "00000000-0000-4000-8000-000000000001" : "00000000-0000-4000-8000-000000000002",
  name: modelName,
  version,
  createdAt: "2026-01-01T00:00:00.000Z",
  metrics: { variant },
  tags: {},
})

const viewOf = (state: ModelState): ModelView | undefined => {
  if (state.size === 0) return undefined
  const production = [...state.entries()].find(([, v]) => v.state === "production")?.[0]
  return { version: (v) => state.get(v), production }
}

const keyOf = (state: ModelState) =>
  [...state.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([v, s]) => `${v}:${s.metadata.metrics.variant}:${s.state}`)
    .join(" ")

const describe = (command: Command) =>
  command._tag === "Register"
    ? `register ${command.metadata.version} (${command.metadata.metrics.variant})`
    : `${command._tag.toLowerCase()} ${command.version}`

/** Every command in the checker gives its createdAt, so the commit time never fills one in. */
const committedAt = "2026-01-01T00:00:00.000Z"

const decodeEvent = Schema.decodeUnknownSync(Schema.parseJson(RegistryEvent))
const encodeEvent = Schema.encodeSync(Schema.parseJson(RegistryEvent))

/** Whether the state explains a rejection: the model or version is missing, the content differs, or no transition. */
const justified = (error: DecideError, state: ModelState, command: Command, table: TransitionTable): boolean => {
  const existing = state.get(command._tag === "Register" ? command.metadata.version : command.version)
  switch (error._tag) {
    case "ModelNotFound":
      return state.size === 0
    case "VersionNotFound":
      return existing === undefined
    case "VersionConflict":
      return existing !== undefined && command._tag === "Register"
    case "InvalidTransition":
      return existing !== undefined && !table.get(existing.state)?.has(error.event as LifecycleEventType)
  }
}

export const checkLifecycle = (options: {
  readonly versions: number
  readonly lifecycle?: Lifecycle
}): ModelCheckResult => {
  const { decide, evolve, table } = options.lifecycle ?? defaultLifecycle
  const versions = versionsOf(options.versions)
  const commands: ReadonlyArray<Command> = versions.flatMap(
    (version): Array<Command> => [
      { _tag: "Register", metadata: contentOf(version, "a"), compareId: true },
      { _tag: "Register", metadata: contentOf(version, "b"), compareId: true },
      { _tag: "Promote", name: modelName, version },
      { _tag: "Deprecate", name: modelName, version },
    ],
  )

  const apply = (state: ModelState, event: EventBody): ModelState => {
    const next = new Map(state)
    for (const change of evolve(event)) {
      const metadata = change.metadata ?? next.get(change.version)?.metadata
      if (metadata === undefined) throw new Error(`evolve changed unknown version ${change.version}`)
      next.set(change.version, { metadata, state: change.state })
    }
    return next
  }

  /** Rebuilds a state the way recovery does: from the events as they are encoded on disk. */
  const replay = (events: ReadonlyArray<EventBody>): ModelState =>
    events.reduce<ModelState>((state, body, i) => {
      const committed = { ...body, seq: i + 1, at: "2026-01-01T00:00:00.000Z" } as RegistryEvent
      const { seq: _seq, at: _at, ...decoded } = decodeEvent(encodeEvent(committed))
      return apply(state, decoded)
    }, new Map())

  const violations: Array<string> = []
  const start: ModelState = new Map()
  const seen = new Map<string, { state: ModelState; path: ReadonlyArray<string>; events: ReadonlyArray<EventBody> }>([
    [keyOf(start), { state: start, path: [], events: [] }],
  ])
  const queue = [keyOf(start)]
  let transitions = 0
  let accepted = 0
  let rejected = 0
  let unchanged = 0

  for (let head = 0; head < queue.length; head++) {
    const { state, path, events } = seen.get(queue[head]!)!
    const where = path.length === 0 ? "(initial)" : path.join(" → ")
    const productions = [...state.values()].filter((v) => v.state === "production").length
    if (productions > 1) violations.push(`${productions} production versions after ${where}`)
    if (keyOf(replay(events)) !== keyOf(state)) violations.push(`replaying the events does not rebuild ${where}`)

    for (const command of commands) {
      transitions++
      const view = viewOf(state)
      const decision = decide(view, command, committedAt)
      const step = `${where} → ${describe(command)}`
      if (decision._tag === "Reject") {
        rejected++
        const { error } = decision
        if (!justified(error, state, command, table)) violations.push(`unjustified ${error._tag} at ${step}`)
        continue
      }
      if (decision._tag === "Unchanged") {
        unchanged++
        continue
      }
      accepted++
      const next = apply(state, decision.event)
      for (const [version, after] of next) {
        const before = state.get(version)
        if (before?.state === "deprecated" && after.state === "production")
          violations.push(`deprecated ${version} returned to production at ${step}`)
      }
      const retry = decide(viewOf(next), command, committedAt)
      if (retry._tag !== "Unchanged") violations.push(`retrying is not a no-op (${retry._tag}) at ${step}`)
      const key = keyOf(next)
      if (!seen.has(key)) {
        seen.set(key, { state: next, path: [...path, describe(command)], events: [...events, decision.event] })
        queue.push(key)
      }
    }
  }
  return { versions: options.versions, states: seen.size, transitions, accepted, rejected, unchanged, violations }
}
