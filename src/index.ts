/**
 * The runtime-neutral public API. Node users import "@visutility/model-registry/node" for the file-backed
 * layer and the Promise facade; this entry imports no runtime module.
 */

export { approval, builtinLifecycles, defaultLifecycle, mlflowStages } from "./actors/builtinLifecycles.ts"
export type { LifecycleMapping } from "./actors/lifecycleBinding.ts"
export {
  defineLifecycle,
  type LifecycleContext,
  type LifecycleDefinition,
  type LifecycleDescription,
} from "./actors/lifecycleDefinition.ts"
export * from "./domain/index.ts"
export * as IdGenerator from "./effects/IdGenerator.ts"
export type {
  AliasOutcome,
  CompactReport,
  History,
  ModelOutcome,
  Outcome,
  RegistryOpenError,
  RegistryStats,
  WriteOptions,
} from "./effects/ModelRegistry.ts"
export * as ModelRegistry from "./effects/ModelRegistry.ts"
export { openPromiseRegistry, type PromiseRegistry } from "./effects/promise.ts"
export { defaultLimits, type Limits, type RegistryLimits, type StorageLimits } from "./storage/Limits.ts"
