/**
 * A deliberately plain reference model of the registry, shared by the model-based test and the simulator's oracle:
 * a Map and the lifecycle rules written out by hand, independent of the production decider, so the two can
 * disagree. Commands (`register`, `promote`, `deprecate`) decide and apply as the registry should; `applyEvent`
 * checks that a committed event is a legal next step and applies it.
 */
import type { LifecycleState } from "../domain/Lifecycle.ts"
import type { RegistryEvent } from "../domain/RegistryEvent.ts"

export type State = LifecycleState

export interface RefVersion {
  readonly id: string
  readonly metrics: unknown
  /** The full metadata as canonical JSON, when the version was built from its event. */
  readonly metadata: string | undefined
  state: State
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
  readonly events: Array<RefEvent> = []
  /** The seq each compaction snapshotted, oldest first. */
  readonly snapshots: Array<number> = []

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
    if (e._tag === "Registered") {
      const { name, version, id, metrics } = e.metadata
      if (this.models.get(name)?.has(version)) return `${name}@${version} registered twice`
      this.add(name, version, { id, metrics, metadata: canonical(e.metadata), state: "registered" })
      return undefined
    }
    if (e._tag !== "Promoted" && e._tag !== "Deprecated") return `${e._tag} is no event of the default lifecycle`
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
