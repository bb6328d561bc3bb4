/**
 * The committed state, in memory: model → version → record, plus each model's versions kept in semver
 * order on insert and its production version. Only the registry actor's batch loop mutates it, and only
 * with events that are already durable, so every reader sees committed state and nothing else.
 */
import { Either } from "effect"
import { deepFreeze } from "../domain/Json.ts"
import type { LifecycleState } from "../domain/Lifecycle.ts"
import type { ModelMetadata } from "../domain/ModelMetadata.ts"
import type { ModelName } from "../domain/ModelName.ts"
import type { ModelSummary, ModelVersion } from "../domain/ModelVersion.ts"
import { type EventBody, eventModelName } from "../domain/RegistryEvent.ts"
import { compareParsed, type ParsedSemVer, parseSemVer, type SemVer } from "../domain/SemVer.ts"
import { type Lifecycle, lifecycle, type ModelView, type VersionChange, type VersionView } from "./lifecycleRules.ts"

/**
 * A version with what ordering needs. Plain releases (`1.2.3`, by far the common case) are ordered by their three
 * numbers; anything else is parsed by `semver` on first comparison. Parsing every version with `semver` on insert
 * was a tenth of a register's CPU budget (bench/results).
 */
class VersionEntry {
  /** major.minor.patch of a plain release; `major` is -1 for a version with a pre-release or build part. */
  readonly major: number
  readonly minor: number
  readonly patch: number
  private parsedVersion: ParsedSemVer | undefined = undefined

  constructor(
    readonly version: SemVer,
    /** Shared with readers, so it is replaced, never mutated. */
    public record: ModelVersion,
  ) {
    const parts = plainRelease(version)
    this.major = parts === undefined ? -1 : parts[0]
    this.minor = parts === undefined ? 0 : parts[1]
    this.patch = parts === undefined ? 0 : parts[2]
  }

  get parsed(): ParsedSemVer {
    this.parsedVersion ??= parseSemVer(this.version)
    return this.parsedVersion
  }
}

/** The three numbers of `d.d.d` (a version already validated as SemVer), or undefined for anything else. */
const plainRelease = (version: string): [number, number, number] | undefined => {
  const parts: [number, number, number] = [0, 0, 0]
  let part = 0
  let digits = 0
  for (let i = 0; i < version.length; i++) {
    const code = version.charCodeAt(i)
    if (code >= 48 && code <= 57) {
      parts[part] = parts[part]! * 10 + (code - 48)
      // Beyond 15 digits a part may not be an exact double; leave such versions to `semver`.
      if (++digits > 15) return undefined
    } else if (code === 46 && part < 2 && digits > 0) {
      part++
      digits = 0
    } else return undefined
  }
  return part === 2 && digits > 0 ? parts : undefined
}

/** SemVer precedence (build metadata ignored), as `compareParsed`. */
const compareEntries = (a: VersionEntry, b: VersionEntry): number => {
  if (a.major >= 0 && b.major >= 0) return a.major - b.major || a.minor - b.minor || a.patch - b.patch
  return compareParsed(a.parsed, b.parsed)
}

export class ModelEntry implements ModelView {
  /**
   * version → record, the records themselves rather than their entries: `get` over 100k random pairs is bound by
   * dependent cache misses, and an entry in between was one more (bench/, reads scenario).
   */
  readonly records = new Map<string, ModelVersion>()
  /** In semver order, maintained on insert: listing is then a copy, not a sort. */
  readonly sorted: Array<VersionEntry> = []
  production: SemVer | undefined = undefined
  private listed: ReadonlyArray<ModelVersion> | undefined = undefined

  readonly version = (version: SemVer): VersionView | undefined => {
    const record = this.records.get(version)
    return record && { metadata: record, state: record.state }
  }

  list(): ReadonlyArray<ModelVersion> {
    this.listed ??= Object.freeze(this.sorted.map((entry) => entry.record))
    return this.listed
  }

  apply(change: VersionChange): void {
    const metadata: ModelMetadata | undefined = change.metadata ?? this.records.get(change.version)
    if (metadata === undefined) throw new Error(`change to unknown version ${change.version}`)
    this.put(recordOf(metadata, change.state))
  }

  /** Stores `record` as its version's committed record (new or replacing), and keeps `production` in step. */
  put(record: ModelVersion): void {
    const existing = this.records.get(record.version)
    if (existing) {
      this.records.set(record.version, record)
      this.entryOf(record.version, existing).record = record
    } else this.insert(new VersionEntry(record.version, record))
    if (record.state === "production") this.production = record.version
    else if (this.production === record.version) this.production = undefined
    this.listed = undefined
  }

  /**
   * Adds a version exactly as a snapshot holds it; `record` (a fresh object) becomes the shared record. Returns
   * why the snapshot cannot be right instead, if the version is already here or a second production version.
   */
  restore(record: ModelVersion): string | undefined {
    if (this.records.has(record.version)) return `version ${record.version} of ${record.name} appears twice`
    if (record.state === "production") {
      if (this.production !== undefined)
        return `${record.name} has two production versions, ${this.production} and ${record.version}`
      this.production = record.version
    }
    deepFreeze(record.metrics)
    deepFreeze(record.tags)
    this.insert(new VersionEntry(record.version, Object.freeze(record)))
    this.listed = undefined
    return undefined
  }

  private insert(entry: VersionEntry): void {
    this.records.set(entry.version, entry.record)
    const last = this.sorted[this.sorted.length - 1]
    // Versions mostly arrive in increasing order: then the binary search and the splice are skipped.
    if (last === undefined || compareEntries(last, entry) <= 0) this.sorted.push(entry)
    else this.sorted.splice(this.firstAfter(entry), 0, entry)
  }

  /** Index of the first entry that sorts after `probe`. */
  private firstAfter(probe: VersionEntry): number {
    let low = 0
    let high = this.sorted.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (compareEntries(this.sorted[middle]!, probe) <= 0) low = middle + 1
      else high = middle
    }
    return low
  }

  /**
   * The entry of a stored version, by binary search: versions equal in precedence (they differ in build metadata
   * only) sit together just before `firstAfter`, so the search ends with a short scan back for the exact string.
   */
  private entryOf(version: SemVer, record: ModelVersion): VersionEntry {
    for (let i = this.firstAfter(new VersionEntry(version, record)) - 1; i >= 0; i--) {
      const entry = this.sorted[i]!
      if (entry.version === version) return entry
    }
    throw new Error(`version ${version} is missing from the sorted list`)
  }
}

/** Records are shared with every reader and written into snapshots, so they are frozen all the way down. */
export const recordOf = (metadata: ModelMetadata, state: LifecycleState): ModelVersion =>
  Object.freeze({
    id: metadata.id,
    name: metadata.name,
    version: metadata.version,
    createdAt: metadata.createdAt,
    metrics: deepFreeze(metadata.metrics),
    tags: deepFreeze(metadata.tags),
    state,
  })

/** The full state a snapshot stores: every version with its metadata and lifecycle state. */
export interface IndexSnapshot {
  readonly lastSeq: number
  readonly versions: ReadonlyArray<ModelVersion>
}

export class RegistryIndex {
  private readonly models = new Map<string, ModelEntry>()
  lastSeq = 0
  versionCount = 0

  constructor(private readonly rules: Lifecycle = lifecycle) {}

  model(name: string): ModelEntry | undefined {
    return this.models.get(name)
  }

  get(name: string, version: string): ModelVersion | undefined {
    return this.models.get(name)?.records.get(version)
  }

  listVersions(name: string): ReadonlyArray<ModelVersion> | undefined {
    return this.models.get(name)?.list()
  }

  production(name: string): ModelVersion | undefined {
    const model = this.models.get(name)
    return model?.production === undefined ? undefined : model.records.get(model.production)
  }

  listModels(): ReadonlyArray<ModelSummary> {
    return [...this.models.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, model]) => ({
        name: name as ModelName,
        production: model.production ?? null,
        versionCount: model.sorted.length,
        latest: model.sorted[model.sorted.length - 1]!.record.version,
      }))
  }

  /** Applies a committed event. Seqs must arrive in order: the WAL guarantees it, and this asserts it. */
  apply(seq: number, event: EventBody): void {
    if (seq !== this.lastSeq + 1) throw new Error(`index expected seq ${this.lastSeq + 1}, got ${seq}`)
    const name = eventModelName(event)
    let model = this.models.get(name)
    if (model === undefined) {
      model = new ModelEntry()
      this.models.set(name, model)
    }
    for (const change of this.rules.evolve(event)) {
      if (!model.records.has(change.version)) this.versionCount++
      model.apply(change)
    }
    this.lastSeq = seq
  }

  /**
   * Makes a durable batch's decided state the committed state: the overlay already evolved every event once and
   * built the records, so they are moved in as they are.
   */
  commit(overlay: BatchOverlay, lastSeq: number): void {
    for (const [name, decided] of overlay.models()) {
      let model = this.models.get(name)
      if (model === undefined) {
        model = new ModelEntry()
        this.models.set(name, model)
      }
      for (const record of decided.versions.values()) {
        if (!model.records.has(record.version)) this.versionCount++
        model.put(record)
      }
      model.production = decided.production
    }
    this.lastSeq = lastSeq
  }

  toSnapshot(): IndexSnapshot {
    const versions: Array<ModelVersion> = []
    for (const model of this.models.values()) for (const entry of model.sorted) versions.push(entry.record)
    return { lastSeq: this.lastSeq, versions }
  }

  /** The index a snapshot describes, or why the snapshot breaks an invariant no sequence of events can break. */
  static fromSnapshot(snapshot: IndexSnapshot, rules: Lifecycle = lifecycle): Either.Either<RegistryIndex, string> {
    const index = new RegistryIndex(rules)
    // The decoded versions are fresh objects in the record shape, so they become the records as they are:
    // copying each one twice (split off its state, rebuild the record) showed in recovery profiles.
    for (const record of snapshot.versions) {
      let model = index.models.get(record.name)
      if (model === undefined) {
        model = new ModelEntry()
        index.models.set(record.name, model)
      }
      const problem = model.restore(record)
      if (problem !== undefined) return Either.left(problem)
      index.versionCount++
    }
    index.lastSeq = snapshot.lastSeq
    return Either.right(index)
  }
}

/**
 * The state a batch decides against: committed state plus the effects of the batch's earlier commands,
 * without touching the committed index (which readers see) until the batch is durable. Each event is evolved
 * here once, into the records the index takes over at commit and the callers get as their result.
 */
export class BatchOverlay {
  private readonly pending = new Map<string, OverlayModel>()

  constructor(
    private readonly index: RegistryIndex,
    private readonly rules: Lifecycle = lifecycle,
  ) {}

  view(name: string): ModelView | undefined {
    return this.pending.get(name) ?? this.index.model(name)
  }

  /** The version as the batch has decided it so far (committed state if the batch has not touched it). */
  record(name: string, version: string): ModelVersion | undefined {
    return this.pending.get(name)?.versions.get(version) ?? this.index.get(name, version)
  }

  apply(event: EventBody): void {
    const name = eventModelName(event)
    let overlay = this.pending.get(name)
    if (overlay === undefined) {
      overlay = new OverlayModel(this.index.model(name))
      this.pending.set(name, overlay)
    }
    for (const change of this.rules.evolve(event)) {
      const metadata = change.metadata ?? overlay.version(change.version)?.metadata
      if (metadata === undefined) throw new Error(`change to unknown version ${change.version}`)
      overlay.versions.set(change.version, recordOf(metadata, change.state))
      if (change.state === "production") overlay.production = change.version
      else if (overlay.production === change.version) overlay.production = undefined
    }
  }

  models(): IterableIterator<[string, OverlayModel]> {
    return this.pending.entries()
  }

  clear(): void {
    this.pending.clear()
  }
}

/** One model as a batch sees it; made once per model per batch, not per lookup (a closure per view showed in profiles). */
class OverlayModel implements ModelView {
  /** The records the batch has decided, by version. */
  readonly versions = new Map<string, ModelVersion>()
  production: SemVer | undefined

  constructor(private readonly committed: ModelEntry | undefined) {
    this.production = committed?.production
  }

  readonly version = (version: SemVer): VersionView | undefined => {
    const record = this.versions.get(version)
    return record === undefined ? this.committed?.version(version) : { metadata: record, state: record.state }
  }
}
