/** What readers get back: a version's metadata with its lifecycle state and aliases. Immutable; replaced on every change. */
import type { LifecycleState } from "./Lifecycle.ts"
import type { ModelMetadata } from "./ModelMetadata.ts"
import type { ModelName } from "./ModelName.ts"
import type { SemVer } from "./SemVer.ts"

export interface ModelVersion extends ModelMetadata {
  /** Annotated after registration (`annotate`); absent until then. Its `tags` are annotated the same way. */
  readonly description?: string
  readonly state: LifecycleState
  /** The model's aliases that name this version, sorted. */
  readonly aliases: ReadonlyArray<string>
}

/** A model's newest event: when, by whom, at which seq. */
export interface LastChange {
  readonly seq: number
  readonly at: string
  readonly actor: string
}

export interface ModelSummary {
  readonly name: ModelName
  /** The version in the `production` state, when the lifecycle has one and it is exclusive. */
  readonly production: SemVer | null
  readonly versionCount: number
  readonly latest: SemVer
  /** Each exclusive state's holder (at most one version per model is in an exclusive state). */
  readonly holders: { readonly [state: string]: SemVer }
  /** Every set alias and the version it names. */
  readonly aliases: { readonly [alias: string]: SemVer }
  /** The model's own description and tags (`annotateModel`). */
  readonly description?: string
  readonly tags: { readonly [key: string]: string }
  /** Archived models are left out of listings and search unless asked for (`includeArchived`), and refuse changes. */
  readonly archived: boolean
  /**
   * The model's newest event (a registration, or any change of it or its versions; a directory-wide lifecycle move
   * is not one model's), or `null` where the history does not reach it (a directory an earlier release compacted).
   */
  readonly lastChange: LastChange | null
}
