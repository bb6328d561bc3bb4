/**
 * The durable facts. Each committed event carries its `seq` (consecutive from 1, assigned by the WAL order)
 * and `at` (the commit time from the injected Clock). An event that moves versions names every version it moves and
 * where to (a promotion names the version it displaces, a transition its displaced versions and cleared aliases),
 * so replay needs no lifecycle and re-runs no guard, and every exclusive state has at most one holder on disk at
 * every seq. Each also names its `actor` (Actor.ts): who caused it; a record written before actors were recorded
 * decodes with the reserved `(unknown)`.
 */
import { Schema } from "effect"
import { Actor, unknownActor } from "./Actor.ts"
import { FieldChange, TagsChanged } from "./Annotation.ts"
import { AliasName, LifecycleBinding, LifecycleEventName, LifecycleStateName } from "./Lifecycle.ts"
import { IsoTimestamp, ModelMetadata } from "./ModelMetadata.ts"
import { ModelName } from "./ModelName.ts"
import { SemVer } from "./SemVer.ts"

const committed: {
  seq: Schema.filter<typeof Schema.Int>
  at: typeof IsoTimestamp
  actor: Schema.optionalWith<typeof Actor, { default: () => string }>
} = {
  seq: Schema.Int.pipe(Schema.positive()),
  at: IsoTimestamp,
  actor: Schema.optionalWith(Actor, { default: () => unknownActor }),
}
type Committed = typeof committed
type StateName = typeof LifecycleStateName

/**
 * A new version. `state` is its initial state, written only when it is not the default lifecycle's `registered`
 * (records written before lifecycles could be chosen have none).
 */
export const Registered: Schema.TaggedStruct<
  "Registered",
  Committed & { metadata: typeof ModelMetadata; state: Schema.optionalWith<StateName, { exact: true }> }
> = Schema.TaggedStruct("Registered", {
  ...committed,
  metadata: ModelMetadata,
  state: Schema.optionalWith(LifecycleStateName, { exact: true }),
})

/** The default lifecycle's `promote`: the version enters `production`; `supersedes` goes back to `registered`. */
export const Promoted: Schema.TaggedStruct<
  "Promoted",
  Committed & { name: typeof ModelName; version: typeof SemVer; supersedes: Schema.NullOr<typeof SemVer> }
> = Schema.TaggedStruct("Promoted", {
  ...committed,
  name: ModelName,
  version: SemVer,
  supersedes: Schema.NullOr(SemVer),
})

/** The default lifecycle's `deprecate`: the version enters `deprecated`. */
export const Deprecated: Schema.TaggedStruct<
  "Deprecated",
  Committed & { name: typeof ModelName; version: typeof SemVer }
> = Schema.TaggedStruct("Deprecated", { ...committed, name: ModelName, version: SemVer })

/** A version another one moved out of an exclusive state, by that state's displacement event. */
export const Displaced: Schema.Struct<{ version: typeof SemVer; from: StateName; to: StateName }> = Schema.Struct({
  version: SemVer,
  from: LifecycleStateName,
  to: LifecycleStateName,
})
export type Displaced = typeof Displaced.Type

/** An alias an event removed because its version entered a state the alias may not point at. */
export const ClearedAlias: Schema.Struct<{ alias: typeof AliasName; version: typeof SemVer }> = Schema.Struct({
  alias: AliasName,
  version: SemVer,
})
export type ClearedAlias = typeof ClearedAlias.Type

/** Any lifecycle event on a version (every one, under a lifecycle other than the default). */
export const Transitioned: Schema.TaggedStruct<
  "Transitioned",
  Committed & {
    name: typeof ModelName
    version: typeof SemVer
    event: typeof LifecycleEventName
    from: StateName
    to: StateName
    displaced: Schema.Array$<typeof Displaced>
    aliasesCleared: Schema.Array$<typeof ClearedAlias>
  }
> = Schema.TaggedStruct("Transitioned", {
  ...committed,
  name: ModelName,
  version: SemVer,
  event: LifecycleEventName,
  from: LifecycleStateName,
  to: LifecycleStateName,
  displaced: Schema.Array(Displaced),
  aliasesCleared: Schema.Array(ClearedAlias),
})

/** An alias set or moved: `previous` is the version it pointed at before, in the same event. */
export const AliasSet: Schema.TaggedStruct<
  "AliasSet",
  Committed & {
    name: typeof ModelName
    alias: typeof AliasName
    version: typeof SemVer
    previous: Schema.NullOr<typeof SemVer>
  }
> = Schema.TaggedStruct("AliasSet", {
  ...committed,
  name: ModelName,
  alias: AliasName,
  version: SemVer,
  previous: Schema.NullOr(SemVer),
})

/** An alias removed; `version` is the one it pointed at. */
export const AliasRemoved: Schema.TaggedStruct<
  "AliasRemoved",
  Committed & { name: typeof ModelName; alias: typeof AliasName; version: typeof SemVer }
> = Schema.TaggedStruct("AliasRemoved", { ...committed, name: ModelName, alias: AliasName, version: SemVer })

/** One version a lifecycle change moved into the new lifecycle's state. */
export const MappedVersion: Schema.Struct<{
  name: typeof ModelName
  version: typeof SemVer
  from: StateName
  to: StateName
}> = Schema.Struct({ name: ModelName, version: SemVer, from: LifecycleStateName, to: LifecycleStateName })

/** An alias a lifecycle change removed, because the new lifecycle does not allow its version's state. */
export const MappedAlias: Schema.Struct<{ name: typeof ModelName; alias: typeof AliasName; version: typeof SemVer }> =
  Schema.Struct({ name: ModelName, alias: AliasName, version: SemVer })

/**
 * The directory moves to another lifecycle: every version whose state the mapping changes, and every alias the new
 * lifecycle no longer allows, are listed. Written at open, before any command, when the caller opens the directory
 * with a lifecycle other than the one it was written under and gives the state mapping (or the directory is empty).
 */
export const LifecycleChanged: Schema.TaggedStruct<
  "LifecycleChanged",
  Committed & {
    from: typeof LifecycleBinding
    to: typeof LifecycleBinding
    mapping: Schema.Record$<StateName, StateName>
    changes: Schema.Array$<typeof MappedVersion>
    aliasesCleared: Schema.Array$<typeof MappedAlias>
  }
> = Schema.TaggedStruct("LifecycleChanged", {
  ...committed,
  from: LifecycleBinding,
  to: LifecycleBinding,
  mapping: Schema.Record({ key: LifecycleStateName, value: LifecycleStateName }),
  changes: Schema.Array(MappedVersion),
  aliasesCleared: Schema.Array(MappedAlias),
})

/**
 * A version's tags or description changed after registration: each changed tag and the description, if it changed,
 * with what it held before and after (`null`: absent). Only what changes is listed.
 */
export const VersionAnnotated: Schema.TaggedStruct<
  "VersionAnnotated",
  Committed & {
    name: typeof ModelName
    version: typeof SemVer
    tags: typeof TagsChanged
    description: Schema.optionalWith<typeof FieldChange, { exact: true }>
  }
> = Schema.TaggedStruct("VersionAnnotated", {
  ...committed,
  name: ModelName,
  version: SemVer,
  tags: TagsChanged,
  description: Schema.optionalWith(FieldChange, { exact: true }),
})

/** A model's own tags or description changed, recorded as `VersionAnnotated` records a version's. */
export const ModelAnnotated: Schema.TaggedStruct<
  "ModelAnnotated",
  Committed & {
    name: typeof ModelName
    tags: typeof TagsChanged
    description: Schema.optionalWith<typeof FieldChange, { exact: true }>
  }
> = Schema.TaggedStruct("ModelAnnotated", {
  ...committed,
  name: ModelName,
  tags: TagsChanged,
  description: Schema.optionalWith(FieldChange, { exact: true }),
})

/** A model hidden from default listings and search, and closed to changes, until restored; nothing is deleted. */
export const ModelArchived: Schema.TaggedStruct<"ModelArchived", Committed & { name: typeof ModelName }> =
  Schema.TaggedStruct("ModelArchived", { ...committed, name: ModelName })

/** An archived model back in listings and search, open to changes again. */
export const ModelRestored: Schema.TaggedStruct<"ModelRestored", Committed & { name: typeof ModelName }> =
  Schema.TaggedStruct("ModelRestored", { ...committed, name: ModelName })

export const RegistryEvent: Schema.Union<
  [
    typeof Registered,
    typeof Promoted,
    typeof Deprecated,
    typeof Transitioned,
    typeof AliasSet,
    typeof AliasRemoved,
    typeof LifecycleChanged,
    typeof VersionAnnotated,
    typeof ModelAnnotated,
    typeof ModelArchived,
    typeof ModelRestored,
  ]
> = Schema.Union(
  Registered,
  Promoted,
  Deprecated,
  Transitioned,
  AliasSet,
  AliasRemoved,
  LifecycleChanged,
  VersionAnnotated,
  ModelAnnotated,
  ModelArchived,
  ModelRestored,
)
export type Registered = typeof Registered.Type
export type Promoted = typeof Promoted.Type
export type Deprecated = typeof Deprecated.Type
export type Transitioned = typeof Transitioned.Type
export type AliasSet = typeof AliasSet.Type
export type AliasRemoved = typeof AliasRemoved.Type
export type LifecycleChanged = typeof LifecycleChanged.Type
export type VersionAnnotated = typeof VersionAnnotated.Type
export type ModelAnnotated = typeof ModelAnnotated.Type
export type ModelArchived = typeof ModelArchived.Type
export type ModelRestored = typeof ModelRestored.Type
export type RegistryEvent = typeof RegistryEvent.Type

/** What is recorded about versions and models besides their lifecycle: annotations, archiving and restoring. */
export type RecordEvent = VersionAnnotated | ModelAnnotated | ModelArchived | ModelRestored

/** The lifecycle's events on one model: registrations, state changes and alias moves. */
export type ModelEvent = Exclude<RegistryEvent, LifecycleChanged | RecordEvent>

type Uncommitted<E> = E extends unknown ? Omit<E, "seq" | "at" | "actor"> : never
/** An event decided but not yet committed: it has no seq, commit time or actor yet (the batch stamps them). */
export type EventBody = Uncommitted<ModelEvent>
/** Any event without its seq, commit time and actor, the directory-wide `LifecycleChanged` included. */
export type AnyEventBody = Uncommitted<RegistryEvent>
/** A record event decided but not yet committed. */
export type RecordEventBody = Uncommitted<RecordEvent>

export const eventModelName = (event: EventBody): ModelName =>
  event._tag === "Registered" ? event.metadata.name : event.name

/** The version an event is about: the registered or moved one, or the one an alias now names or named. */
export const eventVersion = (event: EventBody): SemVer =>
  event._tag === "Registered" ? event.metadata.version : event.version
