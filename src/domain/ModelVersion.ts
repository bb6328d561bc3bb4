/** What readers get back: a version's metadata with its lifecycle state. Immutable; replaced on every change. */
import type { LifecycleState } from "./Lifecycle.ts"
import type { ModelMetadata } from "./ModelMetadata.ts"
import type { ModelName } from "./ModelName.ts"
import type { SemVer } from "./SemVer.ts"

export interface ModelVersion extends ModelMetadata {
  readonly state: LifecycleState
}

export interface ModelSummary {
  readonly name: ModelName
  readonly production: SemVer | null
  readonly versionCount: number
  readonly latest: SemVer
}
