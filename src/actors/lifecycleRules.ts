/**
 * The version lifecycle as an XState machine, and the model-level decider built on it.
 *
 * The machine is the single source of the rules. It stays pure: at load time we derive a transition table
 * from it with xstate's pure `transition()`, and `decide` consults the table, so the hot path costs a
 * few map lookups instead of an actor per version. The model checker builds its decider from the same
 * function, which is how a deliberately broken machine makes the checker fail.
 */
import {
  type EventObject,
  type MachineContext,
  type MetaObject,
  type NonReducibleUnknown,
  type StateMachine,
  setup,
  transition,
} from "xstate"
import type { InvalidTransition, ModelNotFound, VersionConflict, VersionNotFound } from "../domain/errors.ts"
import * as Errors from "../domain/errors.ts"
import { jsonEqual } from "../domain/Json.ts"
import { type LifecycleState, lifecycleStates } from "../domain/Lifecycle.ts"
import type { ModelMetadata } from "../domain/ModelMetadata.ts"
import type { ModelName } from "../domain/ModelName.ts"
import type { EventBody } from "../domain/RegistryEvent.ts"
import type { SemVer } from "../domain/SemVer.ts"

/** `supersede` is not a user command: it is what a promotion does to the version it replaces. */
export type LifecycleEventType = "promote" | "deprecate" | "supersede"
export const lifecycleEventTypes: ReadonlyArray<LifecycleEventType> = ["promote", "deprecate", "supersede"]

/** The machine's type, spelled out because JSR's fast type check cannot infer it from `setup(…).createMachine(…)`. */
export type LifecycleMachine = StateMachine<
  MachineContext,
  { type: LifecycleEventType },
  {},
  never,
  never,
  never,
  never,
  LifecycleState,
  string,
  NonReducibleUnknown,
  NonReducibleUnknown,
  EventObject,
  MetaObject,
  { id: "modelVersion"; states: { readonly registered: {}; readonly production: {}; readonly deprecated: {} } },
  MetaObject
>

export const lifecycleMachine: LifecycleMachine = setup({
  types: { events: {} as { type: LifecycleEventType } },
}).createMachine({
  id: "modelVersion",
  initial: "registered",
  states: {
    registered: { on: { promote: "production", deprecate: "deprecated" } },
    production: { on: { supersede: "registered", deprecate: "deprecated" } },
    deprecated: {},
  },
})

export type TransitionTable = ReadonlyMap<LifecycleState, ReadonlyMap<LifecycleEventType, LifecycleState>>

/** Every (state, event) pair the machine accepts, with its target; pairs it ignores are absent. */
export const transitionTableOf = (machine: typeof lifecycleMachine): TransitionTable =>
  new Map(
    lifecycleStates.map((from) => {
      const snapshot = machine.resolveState({ value: from, context: {} })
      const targets = new Map<LifecycleEventType, LifecycleState>()
      for (const type of lifecycleEventTypes) {
        const [next] = transition(machine, snapshot, { type })
        if (next !== snapshot) targets.set(type, next.value as LifecycleState)
      }
      return [from, targets] as const
    }),
  )

/** What `decide` needs to know about one model: committed state, possibly overlaid with a batch's earlier events. */
export interface ModelView {
  readonly version: (version: SemVer) => VersionView | undefined
  readonly production: SemVer | undefined
}
export interface VersionView {
  readonly metadata: ModelMetadata
  readonly state: LifecycleState
}

/** What `register` asks for: the caller's metadata, with `createdAt` left to the batch's commit time when not given. */
export interface RegisterMetadata extends Omit<ModelMetadata, "createdAt"> {
  readonly createdAt: string | undefined
}

export interface RegisterCommand {
  readonly _tag: "Register"
  readonly metadata: RegisterMetadata
  /** Fields the caller did not give (and the registry filled) are not compared for idempotency. */
  readonly compareId: boolean
}
export interface ChangeCommand {
  readonly _tag: "Promote" | "Deprecate"
  readonly name: ModelName
  readonly version: SemVer
}
export type Command = RegisterCommand | ChangeCommand

export type RegisterDecideError = VersionConflict
export type ChangeDecideError = ModelNotFound | VersionNotFound | InvalidTransition
export type DecideError = RegisterDecideError | ChangeDecideError

/** `Unchanged`: the command asks for what is already true, so it succeeds and writes nothing (retries are safe). */
export type Decision<E = DecideError> =
  | { readonly _tag: "Accept"; readonly event: EventBody }
  | { readonly _tag: "Unchanged"; readonly current: VersionView }
  | { readonly _tag: "Reject"; readonly error: E }

/** The version-level effect of an event: its new state (and metadata, for a registration). */
export interface VersionChange {
  readonly version: SemVer
  readonly metadata: ModelMetadata | undefined
  readonly state: LifecycleState
}

export interface Lifecycle {
  readonly table: TransitionTable
  /** `at` is the commit time, the registration's `createdAt` when the caller gave none. */
  readonly decide: (model: ModelView | undefined, command: Command, at: string) => Decision
  readonly decideRegister: (
    model: ModelView | undefined,
    command: RegisterCommand,
    at: string,
  ) => Decision<RegisterDecideError>
  readonly decideChange: (model: ModelView | undefined, command: ChangeCommand) => Decision<ChangeDecideError>
  readonly evolve: (event: EventBody) => ReadonlyArray<VersionChange>
}

const commandEvent = { Promote: "promote", Deprecate: "deprecate" } as const
const commandTarget = { Promote: "production", Deprecate: "deprecated" } as const

const sameContent = (stored: ModelMetadata, command: RegisterCommand): boolean => {
  const given = command.metadata
  return (
    (!command.compareId || stored.id === given.id) &&
    (given.createdAt === undefined || stored.createdAt === given.createdAt) &&
    jsonEqual(stored.metrics, given.metrics) &&
    jsonEqual(stored.tags, given.tags)
  )
}

export const makeLifecycle = (machine: typeof lifecycleMachine): Lifecycle => {
  const table = transitionTableOf(machine)
  const target = (from: LifecycleState, event: LifecycleEventType) => table.get(from)?.get(event)
  const initial = machine.resolveState({ value: "registered", context: {} }).value as LifecycleState

  const decideRegister = (
    model: ModelView | undefined,
    command: RegisterCommand,
    at: string,
  ): Decision<RegisterDecideError> => {
    const given = command.metadata
    const existing = model?.version(given.version)
    if (existing === undefined) {
      // Built field by field, not spread: this runs once per register.
      const metadata: ModelMetadata = {
        id: given.id,
        name: given.name,
        version: given.version,
        createdAt: given.createdAt ?? at,
        metrics: given.metrics,
        tags: given.tags,
      }
      return { _tag: "Accept", event: { _tag: "Registered", metadata } }
    }
    return sameContent(existing.metadata, command)
      ? { _tag: "Unchanged", current: existing }
      : { _tag: "Reject", error: new Errors.VersionConflict({ name: given.name, version: given.version }) }
  }

  const decideChange = (model: ModelView | undefined, command: ChangeCommand): Decision<ChangeDecideError> => {
    const { name, version } = command
    if (model === undefined) return { _tag: "Reject", error: new Errors.ModelNotFound({ name }) }
    const current = model.version(version)
    if (current === undefined) return { _tag: "Reject", error: new Errors.VersionNotFound({ name, version }) }
    const event = commandEvent[command._tag]
    if (current.state === commandTarget[command._tag]) return { _tag: "Unchanged", current }
    if (target(current.state, event) === undefined)
      return { _tag: "Reject", error: new Errors.InvalidTransition({ name, version, from: current.state, event }) }
    if (command._tag === "Deprecate") return { _tag: "Accept", event: { _tag: "Deprecated", name, version } }
    const supersedes = model.production !== undefined && model.production !== version ? model.production : null
    return { _tag: "Accept", event: { _tag: "Promoted", name, version, supersedes } }
  }

  const decide = (model: ModelView | undefined, command: Command, at: string): Decision =>
    command._tag === "Register" ? decideRegister(model, command, at) : decideChange(model, command)

  const evolve = (event: EventBody): ReadonlyArray<VersionChange> => {
    switch (event._tag) {
      case "Registered":
        return [{ version: event.metadata.version, metadata: event.metadata, state: initial }]
      case "Deprecated":
        return [{ version: event.version, metadata: undefined, state: "deprecated" }]
      case "Promoted": {
        const promoted = { version: event.version, metadata: undefined, state: "production" as const }
        if (event.supersedes === null) return [promoted]
        return [{ version: event.supersedes, metadata: undefined, state: target("production", "supersede")! }, promoted]
      }
    }
  }

  return { table, decide, decideRegister, decideChange, evolve }
}

/** The lifecycle the registry runs. */
export const lifecycle: Lifecycle = makeLifecycle(lifecycleMachine)
