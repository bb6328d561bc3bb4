/**
 * The registry's past, kept in memory and in snapshots so that it survives compaction: every model's registrations
 * and every later event, from which `history` lists a version's or a model's changes and `asOf` reads rebuild what
 * the registry held at any seq or time.
 *
 * A registration is kept without its metadata (the current record holds it, and metadata never changes); the other
 * events are kept as committed. A past state is rebuilt forward for what events say outright (which versions
 * existed, their states, the aliases, archiving) with `evolve`, the function replay runs, and backward for the
 * annotations, whose events name what each changed field held before: a version's tags at seq N are its current
 * tags with every later annotation undone.
 *
 * A snapshot written by an earlier release kept the state, not the changes. Opening one records that state as
 * baseline facts at the snapshot's seq (`since`), which answer every moment from then on and are never listed as
 * changes; a moment before it is `HistoryUnavailable`.
 */
import { type AsOf, formatAsOf } from "../domain/AsOf.ts"
import { HistoryUnavailable, InvalidInput } from "../domain/errors.ts"
import type { LifecycleState } from "../domain/Lifecycle.ts"
import { addProvenance, type Tags } from "../domain/ModelMetadata.ts"
import type { ModelVersion } from "../domain/ModelVersion.ts"
import type { LifecycleChanged, RegistryEvent } from "../domain/RegistryEvent.ts"
import type { SemVer } from "../domain/SemVer.ts"
import { evolve } from "./lifecycleRules.ts"

/** A version's registration as the history keeps it: the `Registered` event without the metadata. */
export class Registration {
  constructor(
    readonly seq: number,
    readonly at: string,
    readonly actor: string,
    readonly version: SemVer,
    /** The state it was registered in. */
    readonly state: LifecycleState,
  ) {}
}

/**
 * When, by whom and into which state versions were registered: one object shared by the versions a batch registered
 * for one actor, so that a version's registration costs its entry two fields (RegistryIndex.ts).
 */
export class Stamp {
  constructor(
    readonly at: string,
    readonly actor: string,
    readonly state: LifecycleState,
  ) {}
}

/** The events other than registrations, as the history keeps them. */
export type Change = Exclude<RegistryEvent, { readonly _tag: "Registered" }>

/**
 * One model's past besides its registrations, which its versions' entries keep (RegistryIndex.ts): a registration
 * object per version was most of what history cost in memory (bench/, memory scenario).
 */
export class ModelHistory {
  readonly changes: Array<ModelChange> = []
}

/** The changes of one model: all but the directory's lifecycle changes. */
export type ModelChange = Exclude<Change, LifecycleChanged>

/** What a snapshot keeps of the history besides each version's registration (which rides with the version). */
export interface HistorySnapshot {
  readonly since: number
  readonly lastAt: string
  readonly firstAtAfterSince: string | undefined
  /** Every event but registrations, in seq order. */
  readonly changes: ReadonlyArray<Change>
}

/** A version at a past moment: its state and what was annotated on it then. */
export interface VersionAt {
  state: LifecycleState
  tags: Tags
  description: string | undefined
}

/** A model at a past moment. `versions` holds the versions registered by then, in registration order. */
export interface ModelAt {
  readonly versions: Map<string, VersionAt>
  readonly aliases: Map<string, SemVer>
  readonly exclusive: ReadonlySet<LifecycleState>
  readonly archived: boolean
  readonly tags: Tags
  readonly description: string | undefined
}

/** What a model holds now, which the past is rebuilt from. */
export interface ModelNow {
  readonly record: (version: string) => ModelVersion | undefined
  /** Its versions' registrations, in seq order. */
  readonly registrations: () => ReadonlyArray<Registration>
  readonly tags: Tags
  readonly description: string | undefined
}

/** Actors are a registry's users and services, a handful; a bound keeps a stream of one-off names from growing it. */
const actorsInternedMax = 4096

/** The epoch, as the time of baseline facts: no moment a reader may ask for lies before the first fact after them. */
export const baselineAt = "1970-01-01T00:00:00.000Z"

/** Whether a fact committed at `seq`, `at` had happened by the moment. */
type Moment = (seq: number, at: string) => boolean

const momentOf = (asOf: AsOf): Moment =>
  asOf._tag === "Seq" ? (seq) => seq <= asOf.seq : (_seq, at) => Date.parse(at) <= asOf.ms

/** Whether the event changes, moves or names `version` of its model. */
const concerns = (event: Change, name: string, version: string): boolean => {
  switch (event._tag) {
    case "Promoted":
      return event.version === version || event.supersedes === version
    case "Deprecated":
    case "AliasRemoved":
    case "VersionAnnotated":
      return event.version === version
    case "Transitioned":
      return (
        event.version === version ||
        event.displaced.some((d) => d.version === version) ||
        event.aliasesCleared.some((c) => c.version === version)
      )
    case "AliasSet":
      return event.version === version || event.previous === version
    case "LifecycleChanged":
      return (
        event.changes.some((c) => c.name === name && c.version === version) ||
        event.aliasesCleared.some((c) => c.name === name && c.version === version)
      )
    case "ModelAnnotated":
    case "ModelArchived":
    case "ModelRestored":
      return false
  }
}

const touchesModel = (event: LifecycleChanged, name: string): boolean =>
  event.changes.some((c) => c.name === name) || event.aliasesCleared.some((c) => c.name === name)

/** `tags` with the annotation's changes undone: each changed key back to what it held before. */
const undoTags = (tags: Tags, changed: { readonly [key: string]: { readonly from: string | null } }): Tags => {
  const before: Record<string, string> = { ...tags }
  for (const key of Object.keys(changed)) {
    const from = changed[key]!.from
    if (from === null) delete before[key]
    else before[key] = from
  }
  return before
}

export class RegistryHistory {
  private readonly models = new Map<string, ModelHistory>()
  /** Every change in seq order: what a snapshot writes. */
  private readonly changes: Array<Change> = []
  /** The directory's lifecycle changes, which move versions of every model. */
  private readonly lifecycleChanges: Array<LifecycleChanged> = []
  /** Changes are complete after this seq (0: from the start); facts at or before it are the baseline. */
  since = 0
  /** The commit time of the newest event: the next batch's is never earlier (see commitBatch.ts). */
  lastAt = ""
  /** Each actor's one copy of its name. */
  private readonly actors = new Map<string, string>()
  private lastStamp: Stamp | undefined = undefined
  /** The commit time of the first event after `since`, when `since` is not 0: no time before it can be answered. */
  firstAtAfterSince: string | undefined = undefined

  private modelFor(name: string): ModelHistory {
    let model = this.models.get(name)
    if (model === undefined) {
      model = new ModelHistory()
      this.models.set(name, model)
    }
    return model
  }

  /** Keeps a committed event, in seq order. */
  record(event: RegistryEvent): void {
    if (this.since > 0 && this.firstAtAfterSince === undefined) this.firstAtAfterSince = event.at
    if (event.at > this.lastAt) this.lastAt = event.at
    if (event._tag !== "Registered") this.restoreChange(event)
  }

  /**
   * The stamp of a registration: the previous one when it is equal (the versions of one batch by one actor), so a
   * replayed log, which parses each time and actor anew, keeps one copy of each (bench/, memory scenario).
   */
  stamp(at: string, actor: string, state: LifecycleState): Stamp {
    const last = this.lastStamp
    if (last !== undefined && last.at === at && last.actor === actor && last.state === state) return last
    let name = this.actors.get(actor)
    if (name === undefined) {
      name = actor
      if (this.actors.size < actorsInternedMax) this.actors.set(name, name)
    }
    this.lastStamp = new Stamp(at, name, state)
    return this.lastStamp
  }

  /** A change read back from a snapshot, in seq order. */
  restoreChange(event: Change): void {
    this.changes.push(event)
    if (event._tag === "LifecycleChanged") this.lifecycleChanges.push(event)
    else this.modelFor(event.name).changes.push(event)
  }

  snapshot(): HistorySnapshot {
    return {
      since: this.since,
      lastAt: this.lastAt,
      firstAtAfterSince: this.firstAtAfterSince,
      changes: this.changes.slice(),
    }
  }

  /** Why `asOf` cannot be answered (before the history's start, or after the last seq), if it cannot. */
  refusal(asOf: AsOf, lastSeq: number): HistoryUnavailable | InvalidInput | undefined {
    if (asOf._tag === "Seq") {
      if (asOf.seq > lastSeq)
        return new InvalidInput({ field: "asOf", message: `asOf: seq ${asOf.seq} is after the last seq, ${lastSeq}` })
      if (asOf.seq < this.since) return new HistoryUnavailable({ asOf: formatAsOf(asOf), since: this.since })
      return undefined
    }
    if (this.since === 0) return undefined
    const first = this.firstAtAfterSince
    return first === undefined || asOf.ms < Date.parse(first)
      ? new HistoryUnavailable({ asOf: formatAsOf(asOf), since: this.since })
      : undefined
  }

  /**
   * A version's changes in seq order: its registration (as `Registered`, with the tags it was registered with) and
   * every event that moved, named or annotated it. Baseline facts are not changes and are left out.
   */
  versionHistory(
    name: string,
    version: string,
    current: ModelVersion,
    registration: Registration | undefined,
  ): Array<RegistryEvent> {
    const model = this.models.get(name) ?? noChanges
    const events: Array<RegistryEvent> = []
    if (registration !== undefined && registration.seq > this.since)
      events.push(this.registered(registration, current, model))
    const lifecycle = this.lifecycleChanges.filter((e) => e.seq > this.since && concerns(e, name, version))
    const own: Array<Change> = model.changes.filter((e) => e.seq > this.since && concerns(e, name, version))
    return mergeBySeq(events, mergeBySeq(own, lifecycle))
  }

  /** The model's newest change besides registrations, if the history holds one. */
  lastChangeOf(name: string): ModelChange | undefined {
    return this.models.get(name)?.changes.at(-1)
  }

  /** A model's changes in seq order: every registration and every event on it or its versions. */
  modelHistory(name: string, now: ModelNow): Array<RegistryEvent> {
    const model = this.models.get(name) ?? noChanges
    const registrations: Array<RegistryEvent> = []
    for (const registration of now.registrations()) {
      if (registration.seq <= this.since) continue
      const current = now.record(registration.version)
      if (current !== undefined) registrations.push(this.registered(registration, current, model))
    }
    const lifecycle = this.lifecycleChanges.filter((e) => e.seq > this.since && touchesModel(e, name))
    const own: Array<Change> = model.changes.filter((e) => e.seq > this.since)
    return mergeBySeq(registrations, mergeBySeq(own, lifecycle))
  }

  /** The `Registered` event a registration was: the current record's metadata with the tags it was registered with. */
  private registered(registration: Registration, current: ModelVersion, model: ModelHistory): RegistryEvent {
    let tags = current.tags
    for (let i = model.changes.length - 1; i >= 0; i--) {
      const change = model.changes[i]!
      if (change._tag === "VersionAnnotated" && change.version === registration.version)
        tags = undoTags(tags, change.tags)
    }
    const { id, name, version, createdAt, metrics } = current
    const metadata = addProvenance({ id, name, version, createdAt, metrics, tags }, current)
    const { seq, at, actor, state } = registration
    return state === "registered"
      ? { _tag: "Registered", seq, at, actor, metadata }
      : { _tag: "Registered", seq, at, actor, metadata, state }
  }

  /**
   * The model as it was at `asOf` (which `refusal` accepted), or `undefined` if it had no version then.
   * `exclusiveNow` is the exclusive states of the lifecycle the directory runs under now.
   */
  modelAt(name: string, asOf: AsOf, now: ModelNow, exclusiveNow: ReadonlySet<LifecycleState>): ModelAt | undefined {
    const model = this.models.get(name) ?? noChanges
    const happened = momentOf(asOf)
    const versions = new Map<string, VersionAt>()
    const aliases = new Map<string, SemVer>()
    const firstChange = this.lifecycleChanges[0]
    let exclusive: ReadonlySet<LifecycleState> =
      firstChange === undefined ? exclusiveNow : new Set(firstChange.from.exclusive)
    let archived = false
    const registrations = now.registrations()
    const { changes } = model
    const lifecycle = this.lifecycleChanges
    let r = 0
    let c = 0
    let l = 0
    for (;;) {
      const registration = registrations[r]
      const change = changes[c]
      const moved = lifecycle[l]
      const seq = Math.min(
        registration?.seq ?? Number.POSITIVE_INFINITY,
        change?.seq ?? Number.POSITIVE_INFINITY,
        moved?.seq ?? Number.POSITIVE_INFINITY,
      )
      if (seq === Number.POSITIVE_INFINITY) break
      if (registration !== undefined && registration.seq === seq) {
        r++
        if (happened(seq, registration.at))
          versions.set(registration.version, { state: registration.state, tags: {}, description: undefined })
      } else if (change !== undefined && change.seq === seq) {
        c++
        if (happened(seq, change.at)) archived = applyChange(change, versions, aliases, archived)
      } else if (moved !== undefined) {
        l++
        if (!happened(seq, moved.at)) continue
        for (const { name: movedName, version, to } of moved.changes) {
          const at = movedName === name ? versions.get(version) : undefined
          if (at !== undefined) at.state = to
        }
        for (const { name: clearedName, alias } of moved.aliasesCleared) if (clearedName === name) aliases.delete(alias)
        exclusive = new Set(moved.to.exclusive)
      }
    }
    if (versions.size === 0) return undefined
    // Annotations, backward: each version's current tags and description with every later annotation undone.
    for (const [version, at] of versions) {
      const record = now.record(version)
      at.tags = record?.tags ?? {}
      at.description = record?.description
    }
    let tags = now.tags
    let description = now.description
    for (let i = changes.length - 1; i >= 0; i--) {
      const change = changes[i]!
      if (happened(change.seq, change.at)) break
      if (change._tag === "VersionAnnotated") {
        const at = versions.get(change.version)
        if (at === undefined) continue
        at.tags = undoTags(at.tags, change.tags)
        if (change.description !== undefined) at.description = change.description.from ?? undefined
      } else if (change._tag === "ModelAnnotated") {
        tags = undoTags(tags, change.tags)
        if (change.description !== undefined) description = change.description.from ?? undefined
      }
    }
    return { versions, aliases, exclusive, archived, tags, description }
  }
}

const noChanges = new ModelHistory()

/** A change's effect on a model's states, aliases and archiving, going forward; returns whether it is archived. */
const applyChange = (
  change: ModelChange,
  versions: Map<string, VersionAt>,
  aliases: Map<string, SemVer>,
  archived: boolean,
): boolean => {
  switch (change._tag) {
    case "ModelArchived":
      return true
    case "ModelRestored":
      return false
    case "VersionAnnotated":
    case "ModelAnnotated":
      return archived
    default: {
      const { versions: moved, aliases: set } = evolve(change)
      for (const { version, state } of moved) {
        const at = versions.get(version)
        if (at !== undefined) at.state = state
      }
      for (const { alias, version } of set) {
        if (version === null) aliases.delete(alias)
        else aliases.set(alias, version)
      }
      return archived
    }
  }
}

/** Two seq-ordered lists as one. */
const mergeBySeq = <A extends { readonly seq: number }, B extends { readonly seq: number }>(
  a: ReadonlyArray<A>,
  b: ReadonlyArray<B>,
): Array<A | B> => {
  const merged: Array<A | B> = []
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) merged.push(a[i]!.seq <= b[j]!.seq ? a[i++]! : b[j++]!)
  while (i < a.length) merged.push(a[i++]!)
  while (j < b.length) merged.push(b[j++]!)
  return merged
}
