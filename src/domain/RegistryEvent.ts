/**
 * The durable facts. Each committed event carries its `seq` (consecutive from 1, assigned by the WAL order)
 * and `at` (the commit time from the injected Clock). A promotion that replaces the production version
 * names the replaced one in the same event, so "at most one production version" holds on disk at every seq.
 */
import { Schema } from "effect"
import { IsoTimestamp, ModelMetadata } from "./ModelMetadata.ts"
import { ModelName } from "./ModelName.ts"
import { SemVer } from "./SemVer.ts"

const committed: { seq: Schema.filter<typeof Schema.Int>; at: typeof IsoTimestamp } = {
  seq: Schema.Int.pipe(Schema.positive()),
  at: IsoTimestamp,
}
type Committed = typeof committed

export const Registered: Schema.TaggedStruct<"Registered", Committed & { metadata: typeof ModelMetadata }> =
  Schema.TaggedStruct("Registered", { ...committed, metadata: ModelMetadata })
export const Promoted: Schema.TaggedStruct<
  "Promoted",
  Committed & { name: typeof ModelName; version: typeof SemVer; supersedes: Schema.NullOr<typeof SemVer> }
> = Schema.TaggedStruct("Promoted", {
  ...committed,
  name: ModelName,
  version: SemVer,
  supersedes: Schema.NullOr(SemVer),
})
export const Deprecated: Schema.TaggedStruct<
  "Deprecated",
  Committed & { name: typeof ModelName; version: typeof SemVer }
> = Schema.TaggedStruct("Deprecated", { ...committed, name: ModelName, version: SemVer })

export const RegistryEvent: Schema.Union<[typeof Registered, typeof Promoted, typeof Deprecated]> = Schema.Union(
  Registered,
  Promoted,
  Deprecated,
)
export type Registered = typeof Registered.Type
export type Promoted = typeof Promoted.Type
export type Deprecated = typeof Deprecated.Type
export type RegistryEvent = typeof RegistryEvent.Type

/** An event decided but not yet committed: it has no seq or commit time yet. */
export type EventBody = Omit<Registered, "seq" | "at"> | Omit<Promoted, "seq" | "at"> | Omit<Deprecated, "seq" | "at">

export const eventModelName = (event: EventBody): ModelName =>
  event._tag === "Registered" ? event.metadata.name : event.name

export const eventVersion = (event: EventBody): SemVer =>
  event._tag === "Registered" ? event.metadata.version : event.version
