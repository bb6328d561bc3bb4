/**
 * A deliberately plain reference model of the registry, shared by the model-based test and the simulator's oracle:
 * a Map and the lifecycle rules written out by hand, independent of the production decider, so the two can
 * disagree. Commands (`register`, `promote`, `deprecate`) decide and apply as the default lifecycle should;
 * `applyEvent` checks that a committed event of any lifecycle is a legal next step and applies it. For a lifecycle
 * other than the default it reads the lifecycle as data (its `LifecycleDescription`: transitions, exclusive states,
 * alias constraints), never through the registry's decider.
 */
import type { LifecycleDescription } from "../actors/lifecycleDefinition.ts"
import type { LifecycleState } from "../domain/Lifecycle.ts"
import type { LifecycleChanged, RegistryEvent, Transitioned } from "../domain/RegistryEvent.ts"

export type State = LifecycleState

export interface RefVersion {
  readonly id: string
  readonly metrics: unknown
  /** The full metadata as canonical JSON, when the version was built from its event. */
  readonly metadata: string | undefined
  state: State
  /** The version's tags as annotated since (registration's tags first); kept when built from events. */
  tags?: Record<string, string>
  description?: string | undefined
}

/** A model's own record. */
export interface RefModelMeta {
  tags: Record<string, string>
  description: string | undefined
  archived: boolean
}

/** The whole reference state right after one event: what an `asOf` read of that seq must answer. */
export interface RefMoment {
  readonly seq: number
  readonly at: string
  readonly models: ReadonlyMap<string, ReadonlyMap<string, Readonly<RefVersion>>>
  readonly aliases: ReadonlyMap<string, ReadonlyMap<string, string>>
  readonly meta: ReadonlyMap<string, Readonly<RefModelMeta>>
}

export type RefEvent =
  | { readonly _tag: "Registered"; readonly name: string; readonly version: string }
  | { readonly _tag: "Promoted"; readonly name: string; readonly version: string; readonly supersedes: string | null }
  | { readonly _tag: "Deprecated"; readonly name: string; readonly version: string }

export type RefResult =
  | { readonly ok: true; readonly changed: boolean; readonly state: State }
  | { readonly ok: false; readonly tag: string }

/** JSON with object keys sorted, so that equal content compares equal whatever path (memory, disk) built it. */
export const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  )

export class ReferenceModel {
  readonly models = new Map<string, Map<string, RefVersion>>()
  /** Model → alias → the version it names. */
  readonly aliases = new Map<string, Map<string, string>>()
  /** The lifecycle the log is bound to: the default one until a `LifecycleChanged` event. */
  binding = "default"
  readonly events: Array<RefEvent> = []
  /** The seq each compaction snapshotted, oldest first. */
  readonly snapshots: Array<number> = []
  /** Model → its own record, once annotated or archived. */
  readonly meta = new Map<string, RefModelMeta>()
  /** With `keepPast`, the state after every applied event, in seq order. */
  readonly past: Array<RefMoment> = []
  private keepPast = false

  /** Keeps a copy of the whole state after every event from now on, for `moment`. */
  keepingPast(): this {
    this.keepPast = true
    return this
  }

  /** The state at a seq (after the last event at or before it), or at a time (after every event at or before it). */
  moment(asOf: { readonly seq: number } | { readonly ms: number }): RefMoment | undefined {
    let found: RefMoment | undefined
    for (const moment of this.past)
      if ("seq" in asOf ? moment.seq <= asOf.seq : Date.parse(moment.at) <= asOf.ms) found = moment
    return found
  }

  private remember(e: RegistryEvent): void {
    const models = new Map<string, Map<string, RefVersion>>()
    for (const [name, versions] of this.models) {
      const copies = new Map<string, RefVersion>()
      for (const [version, entry] of versions)
        copies.set(version, { ...entry, ...(entry.tags === undefined ? {} : { tags: { ...entry.tags } }) })
      models.set(name, copies)
    }
    const aliases = new Map([...this.aliases].map(([name, named]) => [name, new Map(named)] as const))
    const meta = new Map([...this.meta].map(([name, own]) => [name, { ...own, tags: { ...own.tags } }] as const))
    this.past.push({ seq: e.seq, at: e.at, models, aliases, meta })
  }

  private metaOf(name: string): RefModelMeta {
    let own = this.meta.get(name)
    if (own === undefined) {
      own = { tags: {}, description: undefined, archived: false }
      this.meta.set(name, own)
    }
    return own
  }

  /**
   * `lifecycle`: the lifecycle whose events `applyEvent` judges (transitions, exclusive states, aliases). Without
   * it, events other than the default lifecycle's are checked only for consistency with the state they move.
   */
  constructor(readonly lifecycle?: LifecycleDescription) {}

  /**
   * History up to this seq may be gone from the log: storage keeps two snapshots and deletes whole segments only
   * up to the older one (docs/architecture.md), so a subscriber from at or below it may be told "Compacted".
   */
  compactedUpTo(): number {
    return this.snapshots.length >= 2 ? this.snapshots[this.snapshots.length - 2]! : 0
  }

  register(name: string, version: string, id: string, metrics: Record<string, unknown>): RefResult {
    const existing = this.models.get(name)?.get(version)
    if (existing) {
      const same = existing.id === id && canonical(existing.metrics) === canonical(metrics)
      return same ? { ok: true, changed: false, state: existing.state } : { ok: false, tag: "VersionConflict" }
    }
    this.add(name, version, { id, metrics, metadata: undefined, state: "registered" })
    this.events.push({ _tag: "Registered", name, version })
    return { ok: true, changed: true, state: "registered" }
  }

  promote(name: string, version: string): RefResult {
    const versions = this.models.get(name)
    if (!versions) return { ok: false, tag: "ModelNotFound" }
    const target = versions.get(version)
    if (!target) return { ok: false, tag: "VersionNotFound" }
    if (target.state === "production") return { ok: true, changed: false, state: "production" }
    if (target.state === "deprecated") return { ok: false, tag: "InvalidTransition" }
    const supersedes = this.supersede(name)
    target.state = "production"
    this.events.push({ _tag: "Promoted", name, version, supersedes })
    return { ok: true, changed: true, state: "production" }
  }

  deprecate(name: string, version: string): RefResult {
    const target = this.models.get(name)?.get(version)
    if (!this.models.has(name)) return { ok: false, tag: "ModelNotFound" }
    if (!target) return { ok: false, tag: "VersionNotFound" }
    if (target.state === "deprecated") return { ok: true, changed: false, state: "deprecated" }
    target.state = "deprecated"
    this.events.push({ _tag: "Deprecated", name, version })
    return { ok: true, changed: true, state: "deprecated" }
  }

  production(name: string): string | undefined {
    for (const [v, entry] of this.models.get(name) ?? []) if (entry.state === "production") return v
    return undefined
  }

  /** Applies a committed event. Returns why it is not a legal next step, if it is not. */
  applyEvent(e: RegistryEvent): string | undefined {
    const problem = this.applyOne(e)
    if (problem === undefined && this.keepPast) this.remember(e)
    return problem
  }

  private applyOne(e: RegistryEvent): string | undefined {
    if (e._tag !== "Registered" && e._tag !== "LifecycleChanged" && this.meta.get(e.name)?.archived === true) {
      if (e._tag !== "ModelRestored") return `${e._tag} of archived model ${e.name}`
    }
    switch (e._tag) {
      case "VersionAnnotated": {
        const target = this.models.get(e.name)?.get(e.version)
        if (target === undefined) return `annotation of unknown version ${e.name}@${e.version}`
        const tags = target.tags ?? {}
        for (const [key, change] of Object.entries(e.tags)) {
          if ((tags[key] ?? null) !== change.from)
            return `annotation of ${e.name}@${e.version} says tag ${key} was ${change.from}, it was ${tags[key] ?? null}`
          if (change.to === null) delete tags[key]
          else tags[key] = change.to
        }
        target.tags = tags
        if (e.description !== undefined) {
          if ((target.description ?? null) !== e.description.from)
            return `annotation of ${e.name}@${e.version} says the description was ${e.description.from}`
          target.description = e.description.to ?? undefined
        }
        return undefined
      }
      case "ModelAnnotated": {
        if (!this.models.has(e.name)) return `annotation of unknown model ${e.name}`
        const own = this.metaOf(e.name)
        for (const [key, change] of Object.entries(e.tags)) {
          if ((own.tags[key] ?? null) !== change.from)
            return `model annotation of ${e.name}: tag ${key} was not ${change.from}`
          if (change.to === null) delete own.tags[key]
          else own.tags[key] = change.to
        }
        if (e.description !== undefined) {
          if ((own.description ?? null) !== e.description.from) return `model annotation of ${e.name}: description`
          own.description = e.description.to ?? undefined
        }
        return undefined
      }
      case "ModelArchived":
      case "ModelRestored": {
        if (!this.models.has(e.name)) return `${e._tag} of unknown model ${e.name}`
        const own = this.metaOf(e.name)
        const archiving = e._tag === "ModelArchived"
        if (own.archived === archiving) return `${e._tag} of ${e.name}, which already was`
        own.archived = archiving
        return undefined
      }
      case "Registered": {
        const { name, version, id, metrics } = e.metadata
        if (this.models.get(name)?.has(version)) return `${name}@${version} registered twice`
        const state = e.state ?? "registered"
        const initial = this.lifecycle?.initial ?? "registered"
        if (state !== initial) return `${name}@${version} registered in ${state}, the lifecycle starts in ${initial}`
        this.add(name, version, { id, metrics, metadata: canonical(e.metadata), state, tags: { ...e.metadata.tags } })
        return undefined
      }
      case "Transitioned":
        return this.transitioned(e)
      case "AliasSet": {
        const target = this.models.get(e.name)?.get(e.version)
        if (target === undefined) return `alias ${e.alias} set on unknown version ${e.name}@${e.version}`
        const previous = this.aliasesOf(e.name).get(e.alias) ?? null
        if (previous !== e.previous)
          return `alias ${e.alias} says it moved from ${e.previous}, but it named ${previous}`
        // An alias the lifecycle does not declare is unconstrained.
        const allowed = this.lifecycle?.aliases[e.alias]
        if (allowed !== undefined && !allowed.includes(target.state))
          return `alias ${e.alias} set on ${e.name}@${e.version}, which is ${target.state}`
        this.aliasesOf(e.name).set(e.alias, e.version)
        return undefined
      }
      case "AliasRemoved": {
        const current = this.aliasesOf(e.name).get(e.alias)
        if (current !== e.version)
          return `alias ${e.alias} removed from ${e.version}, but it named ${current ?? "nothing"}`
        this.aliasesOf(e.name).delete(e.alias)
        return undefined
      }
      case "LifecycleChanged":
        return this.lifecycleChanged(e)
      default:
        return this.defaultLifecycleEvent(e)
    }
  }

  private defaultLifecycleEvent(e: RegistryEvent & { readonly _tag: "Promoted" | "Deprecated" }): string | undefined {
    const target = this.models.get(e.name)?.get(e.version)
    if (target === undefined) return `${e._tag} of unknown version ${e.name}@${e.version}`
    if (e._tag === "Deprecated") {
      if (target.state === "deprecated") return `${e.name}@${e.version} deprecated twice`
      target.state = "deprecated"
      return undefined
    }
    if (target.state !== "registered") return `promotion of ${e.name}@${e.version} while ${target.state}`
    const production = this.production(e.name) ?? null
    if (production !== e.supersedes)
      return `promotion of ${e.name}@${e.version} says it supersedes ${e.supersedes}, but production was ${production}`
    this.supersede(e.name)
    target.state = "production"
    return undefined
  }

  /**
   * A transition must start from the version's state along one of the lifecycle's transitions for its event; entering
   * an exclusive state must displace exactly its holder, by the state's displacement event; and it must clear
   * exactly the aliases that may not name their version in its new state.
   */
  private transitioned(e: Transitioned): string | undefined {
    const versions = this.models.get(e.name)
    const target = versions?.get(e.version)
    if (versions === undefined || target === undefined) return `Transitioned of unknown version ${e.name}@${e.version}`
    const label = `${e.name}@${e.version} ${e.event} ${e.from} → ${e.to}`
    if (target.state !== e.from) return `${label}, but the version was ${target.state}`
    const lifecycle = this.lifecycle
    if (lifecycle !== undefined) {
      if (!lifecycle.transitions.some((t) => t.from === e.from && t.event === e.event && t.to === e.to))
        return `${label} is no transition of ${lifecycle.name}`
      const displacement = lifecycle.exclusive[e.to]
      const holder = [...versions].find(([v, entry]) => v !== e.version && entry.state === e.to)?.[0]
      const expected =
        displacement === undefined || holder === undefined
          ? []
          : [{ version: holder, from: e.to, to: this.target(e.to, displacement) }]
      if (canonical(e.displaced) !== canonical(expected))
        return `${label} displaced ${canonical(e.displaced)}, expected ${canonical(expected)}`
    }
    for (const d of e.displaced) {
      const displaced = versions.get(d.version)
      if (displaced?.state !== d.from)
        return `${label} displaced ${d.version} from ${d.from}, but it was ${displaced?.state}`
      displaced.state = d.to
    }
    target.state = e.to
    return this.clearAliases(e.name, e.aliasesCleared, label)
  }

  private lifecycleChanged(e: LifecycleChanged): string | undefined {
    if (e.from.name !== this.binding)
      return `lifecycle changed from ${e.from.name}, but the log was bound to ${this.binding}`
    if (this.lifecycle !== undefined && e.to.name !== this.lifecycle.name)
      return `lifecycle changed to ${e.to.name}, but the registry runs ${this.lifecycle.name}`
    for (const change of e.changes) {
      const version = this.models.get(change.name)?.get(change.version)
      if (version?.state !== change.from)
        return `lifecycle change moves ${change.name}@${change.version} from ${change.from}, but it was ${version?.state}`
      version.state = change.to
    }
    for (const name of new Set(e.aliasesCleared.map((a) => a.name))) {
      const problem = this.clearAliases(
        name,
        e.aliasesCleared.filter((a) => a.name === name),
        "lifecycle change",
      )
      if (problem !== undefined) return problem
    }
    this.binding = e.to.name
    return undefined
  }

  /**
   * Removes the aliases an event cleared; with a lifecycle, exactly the declared aliases now naming a state they do not
   * allow (undeclared aliases are unconstrained).
   */
  private clearAliases(
    name: string,
    cleared: ReadonlyArray<{ readonly alias: string; readonly version: string }>,
    label: string,
  ): string | undefined {
    const aliases = this.aliasesOf(name)
    const allowed = this.lifecycle?.aliases
    for (const { alias, version } of cleared) {
      if (aliases.get(alias) !== version)
        return `${label} cleared alias ${alias} from ${version}, which it did not name`
      const state = this.models.get(name)?.get(version)?.state ?? ""
      if (allowed !== undefined && allowed[alias]?.includes(state) !== false)
        return `${label} cleared alias ${alias} from ${version}, which it may still name in ${state}`
      aliases.delete(alias)
    }
    if (allowed === undefined) return undefined
    for (const [alias, version] of aliases) {
      const state = this.models.get(name)?.get(version)?.state
      const states = allowed[alias]
      if (state === undefined || (states !== undefined && !states.includes(state)))
        return `${label} left alias ${alias} on ${name}@${version}, which is ${state}`
    }
    return undefined
  }

  /** Where `event` leads from `state` (the first candidate: displacement events are unguarded). */
  private target(state: string, event: string): string {
    return this.lifecycle?.transitions.find((t) => t.from === state && t.event === event)?.to ?? state
  }

  aliasesOf(name: string): Map<string, string> {
    const existing = this.aliases.get(name)
    if (existing !== undefined) return existing
    const created = new Map<string, string>()
    this.aliases.set(name, created)
    return created
  }

  private add(name: string, version: string, entry: RefVersion): void {
    const versions = this.models.get(name) ?? new Map<string, RefVersion>()
    versions.set(version, entry)
    this.models.set(name, versions)
  }

  /** Moves the model's production version back to registered; returns which it was. */
  private supersede(name: string): string | null {
    const production = this.production(name)
    if (production === undefined) return null
    this.models.get(name)!.get(production)!.state = "registered"
    return production
  }
}
