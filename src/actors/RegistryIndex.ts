/**
 * The committed state, in memory: model → version → record, plus each model's versions kept in semver order on
 * insert, the holder of each exclusive state, and its aliases. Only the registry actor's batch loop mutates it, and
 * only with events that are already durable, so every reader sees committed state and nothing else.
 */
import { Either } from "effect"
import { unknownActor } from "../domain/Actor.ts"
import type { AsOf } from "../domain/AsOf.ts"
import type { HistoryUnavailable, InvalidInput } from "../domain/errors.ts"
import { deepFreeze } from "../domain/Json.ts"
import type { AliasName, LifecycleBinding, LifecycleState } from "../domain/Lifecycle.ts"
import { addProvenance, type ModelMetadata, type Tags } from "../domain/ModelMetadata.ts"
import type { ModelName } from "../domain/ModelName.ts"
import type { LastChange, ModelSummary, ModelVersion } from "../domain/ModelVersion.ts"
import {
  type AnyEventBody,
  type EventBody,
  eventModelName,
  type LifecycleChanged,
  type RecordEventBody,
  type RegistryEvent,
} from "../domain/RegistryEvent.ts"
import {
  decodeCursor,
  encodeCursor,
  type ModelsPage,
  type ModelsQuery,
  queryFingerprint,
  type SearchQuery,
} from "../domain/Search.ts"
import type { SemVer } from "../domain/SemVer.ts"
import { compiledDefault } from "./builtinLifecycles.ts"
import {
  baselineAt,
  type Change,
  type HistorySnapshot,
  type ModelAt,
  type ModelNow,
  Registration,
  RegistryHistory,
  Stamp,
} from "./History.ts"
import { evolve, type ModelChange, type ModelView, registeredState, type VersionView } from "./lifecycleRules.ts"
import { partitionPoint } from "./partitionPoint.ts"
import { SearchIndex, type SearchResult } from "./SearchIndex.ts"
import { compareVersionKeys, VersionKey } from "./versionOrder.ts"

/**
 * A version's place in its model's sorted list, its record, and its registration (History.ts): two fields here
 * rather than a registration object per version, which cost three times as much memory (bench/, memory scenario).
 */
class VersionEntry extends VersionKey {
  registeredSeq = 0
  /** When, by whom, into which state; shared by the versions one batch registered for one actor. */
  registeredStamp: Stamp = unstamped

  constructor(
    override readonly version: SemVer,
    /** Shared with readers, so it is replaced, never mutated; a restored one stays its JSON until first read. */
    public record: ModelVersion | PendingBodies,
  ) {
    super(version)
  }

  registered(seq: number, stamp: Stamp): void {
    this.registeredSeq = seq
    this.registeredStamp = stamp
  }

  registration(): Registration {
    const { at, actor, state } = this.registeredStamp
    return new Registration(this.registeredSeq, at, actor, this.version, state)
  }
}

const noAliases: ReadonlyArray<string> = Object.freeze([])
/** The stamp of an entry until its registration is recorded, which follows its insertion at once. */
const unstamped = new Stamp("", "", "")

/**
 * The bodies of one model's run of versions in one snapshot block: the block's decoded text, shared by those
 * versions while their records are still their JSON (`id`, `createdAt`, `metrics`, `tags`). Parsing a million
 * records at open was most of opening a registry (JSON.parse, then the garbage collector promoting what it built;
 * issue 15).
 */
export class PendingBodies {
  constructor(
    readonly name: string,
    readonly text: string,
  ) {}
}

/**
 * A version restored from a snapshot whose record is still its body, `text.slice(start, end)` of its
 * `PendingBodies`: proven at open to parse into valid metadata (`isStoredBodyFastPath`, snapshotCodec.ts), so
 * parsing it on first read cannot fail; the rest of the record (name, version, state, aliases) came from the
 * snapshot's checked columns. One object per version, the entry itself, rather than an entry and a pending record:
 * a million fewer objects for the collector to promote at open.
 */
class RestoredEntry extends VersionEntry {
  constructor(
    version: SemVer,
    bodies: PendingBodies,
    readonly state: LifecycleState,
    readonly aliases: ReadonlyArray<string>,
    readonly start: number,
    readonly end: number,
  ) {
    super(version, bodies)
  }

  materialize(bodies: PendingBodies): ModelVersion {
    const body = JSON.parse(bodies.text.slice(this.start, this.end)) as Omit<ModelMetadata, "name" | "version">
    const { id, createdAt, metrics, tags, source, runId, description } = body as typeof body & {
      description?: string
    }
    return recordOf(
      {
        id,
        name: bodies.name,
        version: this.version,
        createdAt,
        metrics,
        tags,
        source,
        runId,
        description,
      } as Described,
      this.state,
      this.aliases,
    )
  }
}

/**
 * A model's records by version. A restored version's slot holds its `VersionEntry` until the first read parses its
 * body and puts the record in both places; `get` never returns anything but a record.
 *
 * The map is always exactly what the model's sorted entries say (each entry's record if it has one, else the entry),
 * so it is built on first use rather than at open: a million map insertions, and the hash tables' growth, were a
 * tenth of opening a registry from a snapshot (bench/results/issue-15-snapshot.md), and a model nobody reads or
 * writes never needs its map.
 */
export class VersionRecords {
  private map: Map<string, ModelVersion | VersionEntry> | undefined = undefined
  private searches = 0

  constructor(private readonly sorted: ReadonlyArray<VersionEntry>) {}

  private get slots(): Map<string, ModelVersion | VersionEntry> {
    if (this.map === undefined) {
      this.map = new Map()
      for (const entry of this.sorted) this.map.set(entry.version, slotOf(entry))
    }
    return this.map
  }

  /** Whether the map exists yet: until it does, a version sorting after every stored one cannot be a duplicate. */
  get built(): boolean {
    return this.map !== undefined
  }

  get size(): number {
    return this.sorted.length
  }

  /**
   * The slot of `version`. Until the map exists the first few lookups of plain releases search the sorted entries
   * instead: the registers of a log's tail then leave the maps of the models they touch unbuilt.
   */
  private find(version: string): ModelVersion | VersionEntry | undefined {
    if (this.map === undefined && this.searches < searchesBeforeMap) {
      const probe = new VersionEntry(version as SemVer, probeBodies)
      if (probe.major >= 0) {
        this.searches++
        for (let i = firstAfter(this.sorted, probe) - 1; i >= 0; i--) {
          const entry = this.sorted[i]!
          if (entry.version === version) return slotOf(entry)
          if (compareVersionKeys(entry, probe) < 0) return undefined
        }
        return undefined
      }
    }
    return this.slots.get(version)
  }

  get(version: string): ModelVersion | undefined {
    const slot = this.find(version)
    return slot instanceof VersionEntry ? settle(this, slot) : slot
  }

  has(version: string): boolean {
    return this.find(version) !== undefined
  }

  /** The slot as stored: the record, or the entry of a version not read yet. */
  slot(version: string): ModelVersion | VersionEntry | undefined {
    return this.find(version)
  }

  /** Records a version's new slot, whose entry already holds it (so an unbuilt map has nothing to learn). */
  set(version: string, slot: ModelVersion | VersionEntry): void {
    this.map?.set(version, slot)
  }

  /** Keeps a built map in step with an entry just added to the sorted entries. */
  added(entry: VersionEntry): void {
    this.map?.set(entry.version, slotOf(entry))
  }
}

const slotOf = (entry: VersionEntry): ModelVersion | VersionEntry =>
  entry.record instanceof PendingBodies ? entry : entry.record

/** Binary searches a model answers before it builds its map: a log's tail rarely registers more per model. */
const searchesBeforeMap = 64
const probeBodies = new PendingBodies("", "")

/** Index of the first of `sorted` that sorts after `probe`. */
const firstAfter = (sorted: ReadonlyArray<VersionEntry>, probe: VersionEntry): number =>
  partitionPoint(sorted, (entry) => compareVersionKeys(entry, probe) > 0)

/** The entry's record, parsed from its snapshot body on first use and then kept in the entry and the records map. */
const settle = (records: VersionRecords, entry: VersionEntry): ModelVersion => {
  const held = entry.record
  if (!(held instanceof PendingBodies)) return held
  const record = (entry as RestoredEntry).materialize(held)
  entry.record = record
  records.set(entry.version, record)
  return record
}

/**
 * Most models have no holder and no alias: they share this map, never written, until their first one, instead of
 * two empty hash tables each (a few hundred bytes per model, a lot at a million models).
 */
const none: ReadonlyMap<string, SemVer> = new Map()

const recordEventTags: ReadonlySet<string> = new Set([
  "VersionAnnotated",
  "ModelAnnotated",
  "ModelArchived",
  "ModelRestored",
])
const isRecordBody = (event: AnyEventBody): event is RecordEventBody => recordEventTags.has(event._tag)

/** A model's own record: what is annotated on it, and whether it is archived. Immutable; replaced on change. */
export interface ModelMeta {
  readonly description?: string
  readonly tags: Tags
  readonly archived: boolean
}
const noMeta: ModelMeta = Object.freeze({ tags: Object.freeze({}), archived: false })

/**
 * One model's state as `applyChange` edits it: the committed entry, or a batch's overlay of it. Holders and aliases
 * are a handful per model, so they are plain maps; the records are what readers share.
 */
interface MutableModel extends ModelView {
  readonly meta: ModelMeta
  setMeta(meta: ModelMeta): void
  record(version: string): ModelVersion | undefined
  store(record: ModelVersion): void
  setHolder(state: LifecycleState, version: SemVer | undefined): void
  setAlias(alias: string, version: SemVer | undefined): void
  aliasesOf(version: SemVer): ReadonlyArray<string>
}

/** Moves one version to `state` (with new metadata, or its own), keeping exclusive holders in step. */
const applyMove = (
  model: MutableModel,
  version: SemVer,
  given: ModelMetadata | undefined,
  state: LifecycleState,
  exclusive: ReadonlySet<LifecycleState>,
): void => {
  const existing = model.record(version)
  const metadata = given ?? existing
  if (metadata === undefined) throw new Error(`change to unknown version ${version}`)
  model.store(recordOf(metadata, state, existing?.aliases ?? noAliases))
  if (existing !== undefined && existing.state !== state && model.holder(existing.state) === version)
    model.setHolder(existing.state, undefined)
  if (exclusive.has(state)) model.setHolder(state, version)
}

/** Applies an event's change to a model: records replaced, exclusive holders and aliases kept in step. */
const applyChange = (model: MutableModel, change: ModelChange, exclusive: ReadonlySet<LifecycleState>): void => {
  for (const moved of change.versions) applyMove(model, moved.version, moved.metadata, moved.state, exclusive)
  if (change.aliases.length === 0) return
  for (const { alias, version } of change.aliases) {
    const previous = model.alias(alias)
    model.setAlias(alias, version ?? undefined)
    for (const touched of [previous, version]) {
      if (touched === undefined || touched === null) continue
      const record = model.record(touched)
      if (record !== undefined) model.store(recordOf(record, record.state, model.aliasesOf(touched)))
    }
  }
}

/** `tags` with each change applied: a key set to its new value, or removed where it is `null`. */
const changedTags = (tags: Tags, changes: { readonly [key: string]: { readonly to: string | null } }): Tags => {
  const next: Record<string, string> = { ...tags }
  for (const key of Object.keys(changes)) {
    const to = changes[key]!.to
    if (to === null) delete next[key]
    else next[key] = to
  }
  return Object.freeze(next)
}

/** Applies an annotation, archiving or restoring to a model: the version's record or the model's own replaced. */
const applyRecordEvent = (model: MutableModel, event: RecordEventBody): void => {
  switch (event._tag) {
    case "VersionAnnotated": {
      const record = model.record(event.version)
      if (record === undefined) throw new Error(`annotation of unknown version ${event.version}`)
      const description = event.description === undefined ? record.description : (event.description.to ?? undefined)
      model.store(
        recordOf({ ...record, tags: changedTags(record.tags, event.tags), description }, record.state, record.aliases),
      )
      return
    }
    case "ModelAnnotated": {
      const { meta } = model
      const description = event.description === undefined ? meta.description : (event.description.to ?? undefined)
      const tags = changedTags(meta.tags, event.tags)
      model.setMeta(
        Object.freeze(
          description === undefined
            ? { tags, archived: meta.archived }
            : { description, tags, archived: meta.archived },
        ),
      )
      return
    }
    case "ModelArchived":
    case "ModelRestored":
      model.setMeta(Object.freeze({ ...model.meta, archived: event._tag === "ModelArchived" }))
  }
}

const aliasesNaming = (aliases: ReadonlyMap<string, SemVer>, version: SemVer): ReadonlyArray<string> => {
  const named: Array<string> = []
  for (const [alias, target] of aliases) if (target === version) named.push(alias)
  return named.length === 0 ? noAliases : Object.freeze(named.sort())
}

export class ModelEntry implements MutableModel {
  /** In semver order, maintained on insert: listing is then a copy, not a sort. */
  readonly sorted: Array<VersionEntry> = []
  /**
   * version → record, the records themselves rather than their entries once read: `get` over 100k random pairs is
   * bound by dependent cache misses, and an entry in between was one more (bench/, reads scenario).
   */
  readonly records = new VersionRecords(this.sorted)
  /** Exclusive state → its holder. Replaced whole by a batch that changed it. */
  holders: ReadonlyMap<LifecycleState, SemVer> = none
  /** Alias → version. Replaced whole by a batch that changed it. */
  aliases: ReadonlyMap<string, SemVer> = none
  /** The model's own description, tags and archiving. */
  meta: ModelMeta = noMeta
  /** Its newest event, once known: set as events apply, found from the history after a restore (`lastChangeOf`). */
  lastChange: LastChange | null | undefined = undefined
  private listed: ReadonlyArray<ModelVersion> | undefined = undefined

  get archived(): boolean {
    return this.meta.archived
  }

  setMeta(meta: ModelMeta): void {
    this.meta = meta
  }

  get production(): SemVer | undefined {
    return this.holders.get("production")
  }

  version(version: SemVer): VersionView | undefined {
    const record = this.records.get(version)
    return record && { metadata: record, state: record.state }
  }

  holder(state: LifecycleState): SemVer | undefined {
    return this.holders.get(state)
  }

  alias(alias: string): SemVer | undefined {
    return this.aliases.get(alias)
  }

  record(version: string): ModelVersion | undefined {
    return this.records.get(version)
  }

  store(record: ModelVersion): void {
    this.put(record)
  }

  setHolder(state: LifecycleState, version: SemVer | undefined): void {
    if (version !== undefined) this.ownHolders().set(state, version)
    else if (this.holders.has(state)) this.ownHolders().delete(state)
  }

  setAlias(alias: string, version: SemVer | undefined): void {
    if (version !== undefined) this.ownAliases().set(alias, version)
    else if (this.aliases.has(alias)) this.ownAliases().delete(alias)
  }

  private ownHolders(): Map<LifecycleState, SemVer> {
    if (this.holders === none) this.holders = new Map()
    return this.holders as Map<LifecycleState, SemVer>
  }

  private ownAliases(): Map<string, SemVer> {
    if (this.aliases === none) this.aliases = new Map()
    return this.aliases as Map<string, SemVer>
  }

  aliasesOf(version: SemVer): ReadonlyArray<string> {
    return aliasesNaming(this.aliases, version)
  }

  list(): ReadonlyArray<ModelVersion> {
    this.listed ??= Object.freeze(this.sorted.map((entry) => settle(this.records, entry)))
    return this.listed
  }

  /** Stores `record` as its version's committed record (new or replacing). */
  put(record: ModelVersion): void {
    const existing = this.records.slot(record.version)
    if (existing) {
      this.records.set(record.version, record)
      ;(existing instanceof VersionEntry ? existing : this.entryOf(record.version, existing)).record = record
    } else this.insert(new VersionEntry(record.version, record))
    this.listed = undefined
  }

  /**
   * Adds a version exactly as a snapshot holds it; `record` (a fresh object) becomes the shared record. Returns
   * why the snapshot cannot be right instead: the version is already here, a second holder of an exclusive state,
   * or an alias that names two versions.
   */
  restore(record: ModelVersion, exclusive: ReadonlySet<LifecycleState>): string | undefined {
    if (this.records.has(record.version)) return `version ${record.version} of ${record.name} appears twice`
    if (exclusive.has(record.state)) {
      const holder = this.holders.get(record.state)
      if (holder !== undefined)
        return `${record.name} has two versions in exclusive state ${record.state}, ${holder} and ${record.version}`
      this.ownHolders().set(record.state, record.version)
    }
    for (const alias of record.aliases) {
      const named = this.aliases.get(alias)
      if (named !== undefined) return `alias ${alias} of ${record.name} names both ${named} and ${record.version}`
      this.ownAliases().set(alias, record.version)
    }
    deepFreeze(record.metrics)
    deepFreeze(record.tags)
    Object.freeze(record.aliases)
    this.insert(new VersionEntry(record.version, Object.freeze(record)))
    this.listed = undefined
    return undefined
  }

  /**
   * Adds a version from a snapshot's columns, its record left as its body until first read; refuses what
   * `restore` refuses. The name, version, state and aliases were checked by the caller.
   */
  restorePending(
    version: SemVer,
    bodies: PendingBodies,
    start: number,
    end: number,
    state: LifecycleState,
    aliases: ReadonlyArray<string>,
    exclusive: ReadonlySet<LifecycleState>,
  ): string | undefined {
    const entry = new RestoredEntry(version, bodies, state, aliases, start, end)
    const last = this.sorted[this.sorted.length - 1]
    // A snapshot lists each model's versions in order, so a version sorting after the last one is new, and the map
    // that would say so is left unbuilt.
    const after = last === undefined || compareVersionKeys(last, entry) < 0
    if ((!after || this.records.built) && this.records.has(version))
      return `version ${version} of ${bodies.name} appears twice`
    if (exclusive.has(state)) {
      const holder = this.holders.get(state)
      if (holder !== undefined)
        return `${bodies.name} has two versions in exclusive state ${state}, ${holder} and ${version}`
      this.ownHolders().set(state, version)
    }
    for (const alias of aliases) {
      const named = this.aliases.get(alias)
      if (named !== undefined) return `alias ${alias} of ${bodies.name} names both ${named} and ${version}`
      this.ownAliases().set(alias, version)
    }
    this.insert(entry)
    this.listed = undefined
    return undefined
  }

  /** Every entry's record, in semver order (parsing those not read yet). */
  *settled(): Generator<ModelVersion> {
    for (const entry of this.sorted) yield settle(this.records, entry)
  }

  /** Records a version's registration on its entry, the newest version's (a register's) found without a search. */
  registered(version: string, seq: number, stamp: Stamp): void {
    const last = this.sorted[this.sorted.length - 1]
    const entry = last !== undefined && last.version === version ? last : this.entryOf(version as SemVer, probeBodies)
    entry.registered(seq, stamp)
  }

  /** Every version's registration, in seq order. */
  registrations(): Array<Registration> {
    return this.sorted.map((entry) => entry.registration()).sort((a, b) => a.seq - b.seq)
  }

  /** The version's registration, if it exists. */
  registrationOf(version: string): Registration | undefined {
    const slot = this.records.slot(version)
    if (slot === undefined) return undefined
    return (slot instanceof VersionEntry ? slot : this.entryOf(version as SemVer, slot)).registration()
  }

  /** What the model holds now, for the history to rebuild its past from. */
  now(): ModelNow {
    const { tags, description } = this.meta
    return { record: (v) => this.records.get(v), registrations: () => this.registrations(), tags, description }
  }

  /** The state of the version at `index` in semver order, without parsing its record. */
  stateAt(index: number): LifecycleState {
    const entry = this.sorted[index]!
    return entry.record instanceof PendingBodies ? (entry as RestoredEntry).state : entry.record.state
  }

  private insert(entry: VersionEntry): void {
    this.records.added(entry)
    const last = this.sorted[this.sorted.length - 1]
    // Versions mostly arrive in increasing order: then the binary search and the splice are skipped.
    if (last === undefined || compareVersionKeys(last, entry) <= 0) this.sorted.push(entry)
    else this.sorted.splice(firstAfter(this.sorted, entry), 0, entry)
  }

  /**
   * The entry of a stored version, by binary search: versions equal in precedence (they differ in build metadata
   * only) sit together just before `firstAfter`, so the search ends with a short scan back for the exact string.
   */
  private entryOf(version: SemVer, record: ModelVersion | PendingBodies): VersionEntry {
    for (let i = firstAfter(this.sorted, new VersionEntry(version, record)) - 1; i >= 0; i--) {
      const entry = this.sorted[i]!
      if (entry.version === version) return entry
    }
    throw new Error(`version ${version} is missing from the sorted list`)
  }
}

/** Records are shared with every reader and written into snapshots, so they are frozen all the way down. */
/** Metadata, and the description a version may have been annotated with. */
type Described = ModelMetadata & { readonly description?: string | undefined }

export const recordOf = (
  metadata: Described,
  state: LifecycleState,
  aliases: ReadonlyArray<string> = noAliases,
): ModelVersion => {
  const record = {
    id: metadata.id,
    name: metadata.name,
    version: metadata.version,
    createdAt: metadata.createdAt,
    metrics: deepFreeze(metadata.metrics),
    tags: deepFreeze(metadata.tags),
    state,
    aliases,
  }
  const { description } = metadata
  if (metadata.source === undefined && metadata.runId === undefined && description === undefined)
    return Object.freeze(record)
  // The rare provenance fields and the description sit where the Schema and the wire put them, before the state: a
  // record is printed as it is (the local CLI), and must read as a server's answer does.
  const { state: _state, aliases: _aliases, ...fields } = record
  const provenance = addProvenance(fields, metadata)
  return Object.freeze(
    description === undefined ? { ...provenance, state, aliases } : { ...provenance, description, state, aliases },
  )
}

/** The state a snapshot of an earlier release stores: the versions, without their history. */
export interface IndexState {
  readonly lastSeq: number
  readonly lifecycle: LifecycleBinding
  readonly versions: ReadonlyArray<ModelVersion>
}

/**
 * The full state a snapshot stores: the lifecycle binding, every version with its state and aliases and, beside
 * each, its registration, and the history's other events.
 */
export interface IndexSnapshot extends IndexState {
  /** `registrations[i]` is `versions[i]`'s. */
  readonly registrations: ReadonlyArray<Registration>
  readonly history: HistorySnapshot
}

const sortedObject = <V>(entries: Iterable<readonly [string, V]>): { readonly [key: string]: V } =>
  Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))

export class RegistryIndex {
  private readonly models = new Map<string, ModelEntry>()
  lastSeq = 0
  versionCount = 0
  /** The lifecycle the log is written under: the default until a `LifecycleChanged` event says otherwise. */
  binding: LifecycleBinding = compiledDefault.binding
  exclusive: ReadonlySet<LifecycleState> = new Set(compiledDefault.binding.exclusive)
  /** Built by the first search, then kept current by every commit; events applied one by one drop it. */
  private searchIndex: SearchIndex | undefined = undefined
  /** Model names in order, for listing pages; dropped when a model is added. */
  private modelNames: ReadonlyArray<string> | undefined = undefined
  /** Every registration and change, kept through compactions (History.ts). */
  readonly history = new RegistryHistory()

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

  /** Every model but the archived ones, in name order. */
  listModels(): ReadonlyArray<ModelSummary> {
    const summaries: Array<ModelSummary> = []
    for (const name of this.sortedModelNames()) if (!this.models.get(name)!.archived) summaries.push(this.summary(name))
    return summaries
  }

  summary(name: string): ModelSummary {
    const model = this.models.get(name)!
    const { description, tags, archived } = model.meta
    return {
      name: name as ModelName,
      production: model.production ?? null,
      versionCount: model.sorted.length,
      latest: model.sorted[model.sorted.length - 1]!.version,
      holders: sortedObject(model.holders),
      aliases: sortedObject(model.aliases),
      ...(description === undefined ? {} : { description }),
      tags,
      archived,
      lastChange: this.lastChangeOf(name, model),
    }
  }

  /**
   * The model's newest event: its newest registration or its newest other change, whichever came later; `null` when
   * that is a baseline fact (before the history's start), whose time and actor no record kept.
   */
  private lastChangeOf(name: string, model: ModelEntry): LastChange | null {
    if (model.lastChange !== undefined) return model.lastChange
    let seq = 0
    let stamp: Stamp | undefined
    for (const entry of model.sorted)
      if (entry.registeredSeq > seq) {
        seq = entry.registeredSeq
        stamp = entry.registeredStamp
      }
    const change = this.history.lastChangeOf(name)
    const newest =
      change !== undefined && change.seq > seq
        ? { seq: change.seq, at: change.at, actor: change.actor }
        : stamp === undefined || seq <= this.history.since
          ? null
          : { seq, at: stamp.at, actor: stamp.actor }
    model.lastChange = newest
    return newest
  }

  /** Notes an event as its model's newest; a lifecycle move belongs to no one model. */
  private touched(event: RegistryEvent): void {
    if (event._tag === "LifecycleChanged") return
    const name = event._tag === "Registered" ? event.metadata.name : event.name
    const model = this.models.get(name)
    if (model !== undefined) model.lastChange = { seq: event.seq, at: event.at, actor: event.actor }
  }

  private sortedModelNames(): ReadonlyArray<string> {
    this.modelNames ??= [...this.models.keys()].sort()
    return this.modelNames
  }

  /** A page of models in name order: those after the cursor's name whose name starts with the prefix. */
  listModelsPage(query: ModelsQuery): Either.Either<ModelsPage, InvalidInput> {
    const fingerprint = queryFingerprint(query)
    const names = this.sortedModelNames()
    let from = 0
    if (query.cursor !== undefined) {
      const key = decodeCursor(query.cursor, fingerprint)
      if (Either.isLeft(key)) return Either.left(key.left)
      const after = key.right.name
      from = partitionPoint(names, (name) => name > after)
    }
    const prefix = query.namePrefix ?? ""
    from = Math.max(
      from,
      partitionPoint(names, (name) => name >= prefix),
    )
    // Models are few next to versions (each has at least one), so an unbounded listing stays what it always was.
    const limit = query.limit ?? Number.POSITIVE_INFINITY
    const models: Array<ModelSummary> = []
    let i = from
    const shown = (name: string) => query.includeArchived === true || !this.models.get(name)!.archived
    for (; i < names.length && names[i]!.startsWith(prefix) && models.length < limit; i++)
      if (shown(names[i]!)) models.push(this.summary(names[i]!))
    while (i < names.length && names[i]!.startsWith(prefix) && !shown(names[i]!)) i++
    const more = i < names.length && names[i]!.startsWith(prefix)
    const last = models[models.length - 1]
    const nextCursor =
      more && last !== undefined
        ? encodeCursor({ query: fingerprint, value: null, name: last.name, version: "" })
        : null
    return Either.right({ models, nextCursor })
  }

  /** A page of the versions `query` matches, answered from the search indexes (SearchIndex.ts). */
  search(query: SearchQuery): Either.Either<SearchResult, InvalidInput> {
    this.searchIndex ??= new SearchIndex(
      this.allVersions(),
      (name, version) => this.get(name, version),
      (name) => this.models.get(name)?.archived ?? false,
    )
    return this.searchIndex.search(query)
  }

  /**
   * A search of the registry as it was at `asOf`: the versions of that moment, indexed for this query alone (a
   * past moment has no standing index; the cursor works across pages as in a search of the present).
   */
  searchAt(query: SearchQuery, asOf: AsOf): Either.Either<SearchResult, InvalidInput | HistoryUnavailable> {
    const refused = this.history.refusal(asOf, this.lastSeq)
    if (refused !== undefined) return Either.left(refused)
    const past = new Map<string, { readonly at: ModelAt; readonly records: Map<string, ModelVersion> }>()
    const records: Array<ModelVersion> = []
    for (const name of this.sortedModelNames()) {
      const at = this.modelAt(name, asOf)
      if (at === undefined) continue
      const byVersion = new Map<string, ModelVersion>()
      for (const record of this.recordsAt(name, at)) {
        byVersion.set(record.version, record)
        records.push(record)
      }
      past.set(name, { at, records: byVersion })
    }
    return new SearchIndex(
      records,
      (name, version) => past.get(name)?.records.get(version),
      (name) => past.get(name)?.at.archived ?? false,
    ).search(query)
  }

  /** The model as it was at `asOf`, which `history.refusal` accepted; `undefined` if it had no version then. */
  modelAt(name: string, asOf: AsOf): ModelAt | undefined {
    const model = this.models.get(name)
    if (model === undefined) return undefined
    return this.history.modelAt(name, asOf, model.now(), this.exclusive)
  }

  /** Each version the model had at that moment, as it was then, in SemVer order. */
  recordsAt(name: string, at: ModelAt): Array<ModelVersion> {
    const model = this.models.get(name)!
    const records: Array<ModelVersion> = []
    for (const entry of model.sorted) {
      const past = at.versions.get(entry.version)
      if (past === undefined) continue
      const current = settle(model.records, entry)
      const { tags, description, state } = past
      records.push(recordOf({ ...current, tags, description }, state, aliasesNaming(at.aliases, entry.version)))
    }
    return records
  }

  /** Every model's versions, in name order then semver order. */
  *allVersions(): Generator<ModelVersion> {
    for (const model of this.models.values()) yield* model.settled()
  }

  /**
   * Applies a committed event. Seqs must arrive in order: the WAL guarantees it, and this asserts it. A decided body
   * without its commit time and actor (a test's) is kept in the history at the last commit time, by `(unknown)`.
   */
  apply(seq: number, given: AnyEventBody | RegistryEvent): void {
    if (seq !== this.lastSeq + 1) throw new Error(`index expected seq ${this.lastSeq + 1}, got ${seq}`)
    this.searchIndex = undefined
    const event = given as AnyEventBody
    if (event._tag === "LifecycleChanged") this.changeLifecycle(event)
    else if (isRecordBody(event)) applyRecordEvent(this.modelFor(event.name), event)
    else {
      const model = this.modelFor(eventModelName(event))
      const change = evolve(event)
      for (const moved of change.versions) if (!model.records.has(moved.version)) this.versionCount++
      applyChange(model, change, this.exclusive)
    }
    const committed =
      "at" in given
        ? (given as RegistryEvent)
        : ({ ...given, seq, at: this.history.lastAt || baselineAt, actor: unknownActor } as RegistryEvent)
    this.history.record(committed)
    this.touched(committed)
    if (committed._tag === "Registered")
      this.models
        .get(committed.metadata.name)!
        .registered(
          committed.metadata.version,
          seq,
          this.history.stamp(committed.at, committed.actor, registeredState(committed)),
        )
    this.lastSeq = seq
  }

  /** Moves every listed version and drops every listed alias, then finds the new exclusive states' holders. */
  private changeLifecycle(event: Omit<LifecycleChanged, "seq" | "at" | "actor">): void {
    for (const { name, version, to } of event.changes) {
      const model = this.models.get(name)
      const record = model?.records.get(version)
      if (model === undefined || record === undefined) throw new Error(`lifecycle change of unknown ${name} ${version}`)
      model.put(recordOf(record, to, record.aliases))
    }
    for (const { name, alias } of event.aliasesCleared) {
      const model = this.models.get(name)
      if (model === undefined) throw new Error(`lifecycle change of unknown model ${name}`)
      applyChange(model, { versions: [], aliases: [{ alias, version: null }] }, this.exclusive)
    }
    this.binding = event.to
    this.exclusive = new Set(event.to.exclusive)
    for (const model of this.models.values()) {
      const holders = new Map<LifecycleState, SemVer>()
      for (let i = 0; i < model.sorted.length; i++) {
        const state = model.stateAt(i)
        if (this.exclusive.has(state)) holders.set(state, model.sorted[i]!.version)
      }
      model.holders = holders.size === 0 ? none : holders
    }
  }

  /**
   * Makes a durable batch's decided state the committed state: the overlay already evolved every event once and
   * built the records, so they are moved in as they are.
   */
  commit(overlay: BatchOverlay, events: ReadonlyArray<RegistryEvent>): void {
    for (const [name, decided] of overlay.models()) {
      const model = this.modelFor(name)
      for (const record of decided.versions.values()) {
        if (!model.records.has(record.version)) this.versionCount++
        model.put(record)
        this.searchIndex?.changed(record)
      }
      if (decided.ownHolders !== undefined) model.holders = decided.ownHolders
      if (decided.ownAliases !== undefined) model.aliases = decided.ownAliases
      if (decided.ownMeta !== undefined) model.meta = decided.ownMeta
    }
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!
      this.history.record(event)
      this.touched(event)
      if (event._tag === "Registered")
        this.models
          .get(event.metadata.name)!
          .registered(
            event.metadata.version,
            event.seq,
            this.history.stamp(event.at, event.actor, registeredState(event)),
          )
    }
    if (events.length > 0) this.lastSeq = events[events.length - 1]!.seq
  }

  toSnapshot(): IndexSnapshot {
    const versions: Array<ModelVersion> = []
    const registrations: Array<Registration> = []
    for (const model of this.models.values())
      for (const entry of model.sorted) {
        versions.push(settle(model.records, entry))
        registrations.push(entry.registration())
      }
    return { lastSeq: this.lastSeq, lifecycle: this.binding, versions, registrations, history: this.history.snapshot() }
  }

  /**
   * The index a state of an earlier release describes (versions without their history), or why the state breaks an
   * invariant no sequence of events can break. Its history starts at its seq (`restoreBaseline`).
   */
  static fromState(state: IndexState): Either.Either<RegistryIndex, string> {
    const index = RegistryIndex.restoring(state.lastSeq, state.lifecycle)
    // The decoded versions are fresh objects in the record shape, so they become the records as they are:
    // copying each one twice (split off its state, rebuild the record) showed in recovery profiles.
    for (const record of state.versions) {
      const problem = index.modelFor(record.name).restore(record, index.exclusive)
      if (problem !== undefined) return Either.left(problem)
      index.versionCount++
    }
    index.restoreBaseline()
    return Either.right(index)
  }

  /**
   * Restores a snapshot's history after its versions: each change kept (and a model's own record rebuilt from its
   * annotations and archiving, which no column holds), or why a change cannot belong to this state.
   */
  restoreHistory(header: Omit<HistorySnapshot, "changes">, changes: ReadonlyArray<Change>): string | undefined {
    const { history } = this
    history.since = header.since
    history.lastAt = header.lastAt
    history.firstAtAfterSince = header.firstAtAfterSince
    for (const change of changes) {
      if (change._tag !== "LifecycleChanged") {
        const model = this.models.get(change.name)
        if (model === undefined) return `change at seq ${change.seq} names model ${change.name}, which has no version`
        if (change._tag === "ModelAnnotated" || change._tag === "ModelArchived" || change._tag === "ModelRestored")
          applyRecordEvent(model, change)
      }
      history.restoreChange(change)
    }
    return undefined
  }

  /**
   * Records the restored state as the history's baseline, for a snapshot of an earlier release, which kept no
   * history: each version registered in its state, and each alias set, at the snapshot's seq (History.ts).
   */
  restoreBaseline(): void {
    const since = this.lastSeq
    this.history.since = since
    for (const [name, model] of this.models) {
      for (let i = 0; i < model.sorted.length; i++)
        model.sorted[i]!.registered(since, this.history.stamp(baselineAt, unknownActor, model.stateAt(i)))
      for (const [alias, version] of [...model.aliases].sort(([a], [b]) => (a < b ? -1 : 1)))
        this.history.restoreChange({
          _tag: "AliasSet",
          seq: since,
          at: baselineAt,
          actor: unknownActor,
          name: name as ModelName,
          alias: alias as AliasName,
          version,
          previous: null,
        })
    }
  }

  /**
   * An index for a snapshot's restorer to fill through `modelFor`, version by version with
   * `ModelEntry.restore` or `restorePending`, counting each in `versionCount`.
   */
  static restoring(lastSeq: number, lifecycle: LifecycleBinding): RegistryIndex {
    const index = new RegistryIndex()
    index.binding = lifecycle
    index.exclusive = new Set(lifecycle.exclusive)
    index.lastSeq = lastSeq
    return index
  }

  /** The model's entry, made (and the name listing dropped) on its first version; a restorer fills it too. */
  modelFor(name: string): ModelEntry {
    let model = this.models.get(name)
    if (model === undefined) {
      model = new ModelEntry()
      this.models.set(name, model)
      this.modelNames = undefined
    }
    return model
  }
}

/**
 * The state a batch decides against: committed state plus the effects of the batch's earlier commands,
 * without touching the committed index (which readers see) until the batch is durable. Each event is evolved
 * here once, into the records the index takes over at commit and the callers get as their result.
 */
export class BatchOverlay {
  private readonly pending = new Map<string, OverlayModel>()

  constructor(private readonly index: RegistryIndex) {}

  view(name: string): ModelView | undefined {
    return this.pending.get(name) ?? this.index.model(name)
  }

  /** The version as the batch has decided it so far (committed state if the batch has not touched it). */
  record(name: string, version: string): ModelVersion | undefined {
    return this.pending.get(name)?.versions.get(version) ?? this.index.get(name, version)
  }

  /** The model's own record as the batch has decided it so far, or `undefined` if it has no version. */
  meta(name: string): ModelMeta | undefined {
    return (this.pending.get(name) ?? this.index.model(name))?.meta
  }

  private overlayOf(name: string): OverlayModel {
    let overlay = this.pending.get(name)
    if (overlay === undefined) {
      overlay = new OverlayModel(this.index.model(name))
      this.pending.set(name, overlay)
    }
    return overlay
  }

  applyRecord(event: RecordEventBody): void {
    applyRecordEvent(this.overlayOf(event.name), event)
  }

  apply(event: EventBody): void {
    const overlay = this.overlayOf(eventModelName(event))
    // A registration, most of a batch, moves one version: `evolve`'s change, its array and its move (three objects
    // per register) are skipped.
    if (event._tag === "Registered")
      applyMove(overlay, event.metadata.version, event.metadata, registeredState(event), this.index.exclusive)
    else applyChange(overlay, evolve(event), this.index.exclusive)
  }

  models(): IterableIterator<[string, OverlayModel]> {
    return this.pending.entries()
  }

  clear(): void {
    this.pending.clear()
  }
}

/**
 * One model as a batch sees it; made once per model per batch, not per lookup. Its lookups are prototype methods,
 * not arrow properties: three closures per instance (and tsx's `__name` per closure) cost about 1 % of a register's
 * CPU in the durable-registers profile (bench/results/issue-13-lifecycle.md). Holders and aliases are copied only by
 * a batch that changes them, which a register does not.
 */
class OverlayModel implements MutableModel {
  /** The records the batch has decided, by version. */
  readonly versions = new Map<string, ModelVersion>()
  ownHolders: Map<LifecycleState, SemVer> | undefined = undefined
  ownAliases: Map<string, SemVer> | undefined = undefined
  ownMeta: ModelMeta | undefined = undefined

  constructor(private readonly committed: ModelEntry | undefined) {}

  get meta(): ModelMeta {
    return this.ownMeta ?? this.committed?.meta ?? noMeta
  }

  get archived(): boolean {
    return this.meta.archived
  }

  setMeta(meta: ModelMeta): void {
    this.ownMeta = meta
  }

  version(version: SemVer): VersionView | undefined {
    const record = this.versions.get(version)
    return record === undefined ? this.committed?.version(version) : { metadata: record, state: record.state }
  }

  holder(state: LifecycleState): SemVer | undefined {
    return (this.ownHolders ?? this.committed?.holders)?.get(state)
  }

  alias(alias: string): SemVer | undefined {
    return (this.ownAliases ?? this.committed?.aliases)?.get(alias)
  }

  record(version: string): ModelVersion | undefined {
    return this.versions.get(version) ?? this.committed?.records.get(version)
  }

  store(record: ModelVersion): void {
    this.versions.set(record.version, record)
  }

  setHolder(state: LifecycleState, version: SemVer | undefined): void {
    this.ownHolders ??= new Map(this.committed?.holders)
    if (version === undefined) this.ownHolders.delete(state)
    else this.ownHolders.set(state, version)
  }

  setAlias(alias: string, version: SemVer | undefined): void {
    this.ownAliases ??= new Map(this.committed?.aliases)
    if (version === undefined) this.ownAliases.delete(alias)
    else this.ownAliases.set(alias, version)
  }

  aliasesOf(version: SemVer): ReadonlyArray<string> {
    return aliasesNaming(this.ownAliases ?? this.committed?.aliases ?? new Map(), version)
  }
}
