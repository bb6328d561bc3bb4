/**
 * A deliberately plain reference model of the registry for model-based tests: a Map and the lifecycle rules
 * written out by hand, independent of the production decider, so the two can disagree.
 */
export type State = "registered" | "production" | "deprecated"

export interface RefVersion {
  readonly id: string
  readonly metrics: Record<string, unknown>
  readonly state: State
}

export type RefEvent =
  | { readonly _tag: "Registered"; readonly name: string; readonly version: string }
  | { readonly _tag: "Promoted"; readonly name: string; readonly version: string; readonly supersedes: string | null }
  | { readonly _tag: "Deprecated"; readonly name: string; readonly version: string }

export type RefResult =
  | { readonly ok: true; readonly changed: boolean; readonly state: State }
  | { readonly ok: false; readonly tag: string }

export class ReferenceModel {
  readonly models = new Map<string, Map<string, RefVersion>>()
  readonly events: Array<RefEvent> = []
  /** The seq each compaction snapshotted, oldest first. */
  readonly snapshots: Array<number> = []

  /**
   * History up to this seq may be gone from the log: storage keeps two snapshots and deletes whole segments only
   * up to the older one (DESIGN §7), so a subscriber from at or below it may be told "Compacted".
   */
  compactedUpTo(): number {
    return this.snapshots.length >= 2 ? this.snapshots[this.snapshots.length - 2]! : 0
  }

  register(name: string, version: string, id: string, metrics: Record<string, unknown>): RefResult {
    const versions = this.models.get(name) ?? new Map<string, RefVersion>()
    const existing = versions.get(version)
    if (existing) {
      const same = existing.id === id && JSON.stringify(existing.metrics) === JSON.stringify(metrics)
      return same ? { ok: true, changed: false, state: existing.state } : { ok: false, tag: "VersionConflict" }
    }
    versions.set(version, { id, metrics, state: "registered" })
    this.models.set(name, versions)
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
    let supersedes: string | null = null
    for (const [v, entry] of versions)
      if (entry.state === "production") {
        versions.set(v, { ...entry, state: "registered" })
        supersedes = v
      }
    versions.set(version, { ...target, state: "production" })
    this.events.push({ _tag: "Promoted", name, version, supersedes })
    return { ok: true, changed: true, state: "production" }
  }

  deprecate(name: string, version: string): RefResult {
    const versions = this.models.get(name)
    if (!versions) return { ok: false, tag: "ModelNotFound" }
    const target = versions.get(version)
    if (!target) return { ok: false, tag: "VersionNotFound" }
    if (target.state === "deprecated") return { ok: true, changed: false, state: "deprecated" }
    versions.set(version, { ...target, state: "deprecated" })
    this.events.push({ _tag: "Deprecated", name, version })
    return { ok: true, changed: true, state: "deprecated" }
  }

  production(name: string): string | undefined {
    for (const [v, entry] of this.models.get(name) ?? []) if (entry.state === "production") return v
    return undefined
  }
}
