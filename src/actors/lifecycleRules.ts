/**
 * The model-level decider over a compiled lifecycle (lifecycleDefinition.ts): which event, if any, a command writes,
 * given one model's committed state (possibly overlaid with a batch's earlier events); and `evolve`, what an event
 * does to that state.
 *
 * `decide` reads the lifecycle's tables, and runs the machine only for a guarded transition, so the hot path costs a
 * few map lookups. `evolve` reads only the event: every event names the states it moves versions to, so replay needs
 * no lifecycle and re-runs no guard. The model checker builds on the same two functions, which is how a broken
 * lifecycle makes the checker fail.
 */
import type {
  AliasNotAllowed,
  InvalidTransition,
  ModelNotFound,
  VersionConflict,
  VersionNotFound,
} from "../domain/errors.ts"
import * as Errors from "../domain/errors.ts"
import { jsonEqual } from "../domain/Json.ts"
import type { AliasName, LifecycleState } from "../domain/Lifecycle.ts"
import { addProvenance, type ModelMetadata } from "../domain/ModelMetadata.ts"
import type { ModelName } from "../domain/ModelName.ts"
import type { ClearedAlias, Displaced, EventBody } from "../domain/RegistryEvent.ts"
import type { SemVer } from "../domain/SemVer.ts"
import { compiledDefault } from "./builtinLifecycles.ts"
import type { CompiledLifecycle } from "./lifecycleDefinition.ts"

/** What `decide` needs to know about one model: committed state, possibly overlaid with a batch's earlier events. */
export interface ModelView {
  readonly version: (version: SemVer) => VersionView | undefined
  /** The version in an exclusive state, if any. */
  readonly holder: (state: LifecycleState) => SemVer | undefined
  /** The version an alias names, if it is set. */
  readonly alias: (alias: string) => SemVer | undefined
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
/** A lifecycle event for a version (`promote` and `deprecate` are the default lifecycle's). */
export interface ChangeCommand {
  readonly _tag: "Transition"
  readonly name: ModelName
  readonly version: SemVer
  readonly event: string
}
export interface SetAliasCommand {
  readonly _tag: "SetAlias"
  readonly name: ModelName
  readonly alias: AliasName
  readonly version: SemVer
}
export interface RemoveAliasCommand {
  readonly _tag: "RemoveAlias"
  readonly name: ModelName
  readonly alias: AliasName
}
export type AliasCommand = SetAliasCommand | RemoveAliasCommand
export type Command = RegisterCommand | ChangeCommand | AliasCommand

export type RegisterDecideError = VersionConflict
export type ChangeDecideError = ModelNotFound | VersionNotFound | InvalidTransition
export type AliasDecideError = ModelNotFound | VersionNotFound | AliasNotAllowed
export type DecideError = RegisterDecideError | ChangeDecideError | AliasDecideError

/**
 * `Unchanged`: the command asks for what is already true, so it succeeds and writes nothing (retries are safe);
 * `current` is the version it names, if any (removing an alias that is not set names none).
 */
export type Decision<E = DecideError> =
  | { readonly _tag: "Accept"; readonly event: EventBody }
  | { readonly _tag: "Unchanged"; readonly current: VersionView | undefined }
  | { readonly _tag: "Reject"; readonly error: E }

/** What an event does to one model: versions added or moved, aliases set (`version`) or removed (`null`). */
export interface ModelChange {
  readonly versions: ReadonlyArray<VersionChange>
  readonly aliases: ReadonlyArray<AliasChange>
}
export interface VersionChange {
  readonly version: SemVer
  /** Set for a registration only. */
  readonly metadata: ModelMetadata | undefined
  readonly state: LifecycleState
}
export interface AliasChange {
  readonly alias: string
  readonly version: SemVer | null
}

export interface Lifecycle {
  readonly compiled: CompiledLifecycle
  /** `at` is the commit time, the registration's `createdAt` when the caller gave none. */
  readonly decide: (model: ModelView | undefined, command: Command, at: string) => Decision
  readonly decideRegister: (
    model: ModelView | undefined,
    command: RegisterCommand,
    at: string,
  ) => Decision<RegisterDecideError>
  readonly decideChange: (model: ModelView | undefined, command: ChangeCommand) => Decision<ChangeDecideError>
  readonly decideAlias: (model: ModelView | undefined, command: AliasCommand) => Decision<AliasDecideError>
}

const noAliases: ReadonlyArray<AliasChange> = []

/** The state a registration leaves its version in: events of the first release name none, meaning "registered". */
export const registeredState = (event: Extract<EventBody, { readonly _tag: "Registered" }>): LifecycleState =>
  event.state ?? "registered"

/** The effect of a model's event on it; the same for every lifecycle, since the event names every state. */
export const evolve = (event: EventBody): ModelChange => {
  switch (event._tag) {
    case "Registered":
      return {
        versions: [{ version: event.metadata.version, metadata: event.metadata, state: registeredState(event) }],
        aliases: noAliases,
      }
    case "Deprecated":
      return { versions: [{ version: event.version, metadata: undefined, state: "deprecated" }], aliases: noAliases }
    case "Promoted": {
      const promoted = { version: event.version, metadata: undefined, state: "production" }
      if (event.supersedes === null) return { versions: [promoted], aliases: noAliases }
      return {
        versions: [{ version: event.supersedes, metadata: undefined, state: "registered" }, promoted],
        aliases: noAliases,
      }
    }
    case "Transitioned":
      return {
        versions: [
          ...event.displaced.map((d) => ({ version: d.version, metadata: undefined, state: d.to })),
          { version: event.version, metadata: undefined, state: event.to },
        ],
        aliases: event.aliasesCleared.map((cleared) => ({ alias: cleared.alias, version: null })),
      }
    case "AliasSet":
      return { versions: [], aliases: [{ alias: event.alias, version: event.version }] }
    case "AliasRemoved":
      return { versions: [], aliases: [{ alias: event.alias, version: null }] }
  }
}

const sameContent = (stored: ModelMetadata, command: RegisterCommand): boolean => {
  const given = command.metadata
  return (
    (!command.compareId || stored.id === given.id) &&
    (given.createdAt === undefined || stored.createdAt === given.createdAt) &&
    jsonEqual(stored.metrics, given.metrics) &&
    jsonEqual(stored.tags, given.tags) &&
    stored.source === given.source &&
    stored.runId === given.runId
  )
}

/**
 * Whether the default lifecycle's own events can state this transition: they are what directories written before
 * lifecycles could be chosen hold, and what their readers (observers, SSE clients) know.
 */
const defaultEvent = (
  lifecycle: CompiledLifecycle,
  name: ModelName,
  version: SemVer,
  event: string,
  displaced: ReadonlyArray<Displaced>,
): EventBody | undefined => {
  if (lifecycle.fingerprint !== compiledDefault.fingerprint) return undefined
  if (event === "deprecate") return { _tag: "Deprecated", name, version }
  if (event === "promote") return { _tag: "Promoted", name, version, supersedes: displaced[0]?.version ?? null }
  return undefined
}

export const makeLifecycle = (compiled: CompiledLifecycle): Lifecycle => {
  const { initial, transitions, targetsOf, exclusive, aliases } = compiled
  const registeredState = initial === "registered" ? undefined : initial

  /** The aliases of `version` that may not point at a version in `state`. */
  const clearedBy = (model: ModelView, version: SemVer, state: LifecycleState, into: Array<ClearedAlias>) => {
    for (const [alias, allowed] of aliases)
      if (!allowed.has(state) && model.alias(alias) === version) into.push({ alias: alias as AliasName, version })
  }

  const decideRegister = (
    model: ModelView | undefined,
    command: RegisterCommand,
    at: string,
  ): Decision<RegisterDecideError> => {
    const given = command.metadata
    const existing = model?.version(given.version)
    if (existing === undefined) {
      // Built field by field, not spread: this runs once per register.
      const metadata: ModelMetadata = addProvenance(
        {
          id: given.id,
          name: given.name,
          version: given.version,
          createdAt: given.createdAt ?? at,
          metrics: given.metrics,
          tags: given.tags,
        },
        given,
      )
      return registeredState === undefined
        ? { _tag: "Accept", event: { _tag: "Registered", metadata } }
        : { _tag: "Accept", event: { _tag: "Registered", metadata, state: registeredState } }
    }
    return sameContent(existing.metadata, command)
      ? { _tag: "Unchanged", current: existing }
      : { _tag: "Reject", error: new Errors.VersionConflict({ name: given.name, version: given.version }) }
  }

  const decideChange = (model: ModelView | undefined, command: ChangeCommand): Decision<ChangeDecideError> => {
    const { name, version, event } = command
    if (model === undefined) return { _tag: "Reject", error: new Errors.ModelNotFound({ name }) }
    const current = model.version(version)
    if (current === undefined) return { _tag: "Reject", error: new Errors.VersionNotFound({ name, version }) }
    const from = current.state
    const refused = () => ({
      _tag: "Reject" as const,
      error: new Errors.InvalidTransition({ name, version, from, event }),
    })
    if (transitions.get(from)?.get(event) === undefined)
      // A version the event could have brought here has had it: the retry of an accepted command is a no-op.
      return targetsOf.get(event)?.has(from) ? { _tag: "Unchanged", current } : refused()
    const metadata = current.metadata
    const to = compiled.evaluate(from, event, {
      name,
      version,
      metrics: metadata.metrics,
      tags: metadata.tags,
    })
    if (to === undefined) return refused()
    if (to === from) return { _tag: "Unchanged", current }
    const displaced: Array<Displaced> = []
    const displacement = exclusive.get(to)
    const holder = displacement === undefined ? undefined : model.holder(to)
    if (holder !== undefined && holder !== version) {
      const held = model.version(holder)!
      // The model checker proves the displacement is accepted, unguarded, from every exclusive state it guards.
      const moved = compiled.evaluate(to, displacement!, {
        name,
        version: holder,
        metrics: held.metadata.metrics,
        tags: held.metadata.tags,
      })
      if (moved === undefined) return refused()
      displaced.push({ version: holder, from: to, to: moved })
    }
    const aliasesCleared: Array<ClearedAlias> = []
    if (aliases.size > 0) {
      for (const d of displaced) clearedBy(model, d.version, d.to, aliasesCleared)
      clearedBy(model, version, to, aliasesCleared)
    }
    const body = aliasesCleared.length === 0 ? defaultEvent(compiled, name, version, event, displaced) : undefined
    return {
      _tag: "Accept",
      event: body ?? { _tag: "Transitioned", name, version, event, from, to, displaced, aliasesCleared },
    }
  }

  const decideAlias = (model: ModelView | undefined, command: AliasCommand): Decision<AliasDecideError> => {
    const { name, alias } = command
    if (model === undefined) return { _tag: "Reject", error: new Errors.ModelNotFound({ name }) }
    const pointed = model.alias(alias)
    if (command._tag === "RemoveAlias") {
      if (pointed === undefined) return { _tag: "Unchanged", current: undefined }
      return { _tag: "Accept", event: { _tag: "AliasRemoved", name, alias, version: pointed } }
    }
    const { version } = command
    const current = model.version(version)
    if (current === undefined) return { _tag: "Reject", error: new Errors.VersionNotFound({ name, version }) }
    const allowed = aliases.get(alias)
    if (allowed !== undefined && !allowed.has(current.state))
      return {
        _tag: "Reject",
        error: new Errors.AliasNotAllowed({ name, alias, version, state: current.state, allowed: [...allowed] }),
      }
    if (pointed === version) return { _tag: "Unchanged", current }
    return { _tag: "Accept", event: { _tag: "AliasSet", name, alias, version, previous: pointed ?? null } }
  }

  const decide = (model: ModelView | undefined, command: Command, at: string): Decision => {
    switch (command._tag) {
      case "Register":
        return decideRegister(model, command, at)
      case "Transition":
        return decideChange(model, command)
      default:
        return decideAlias(model, command)
    }
  }

  return { compiled, decide, decideRegister, decideChange, decideAlias }
}

/** The default lifecycle, which a registry opened without one runs. */
export const lifecycle: Lifecycle = makeLifecycle(compiledDefault)
