/** The lifecycle model checker, as the test kit exports it (a registry runs the same checker when it opens). */
export {
  type CheckedModel,
  checkCompiledLifecycle,
  checkLifecycle,
  type LifecycleCheckOptions,
  type LifecycleViolation,
  type ModelCheckResult,
} from "../actors/lifecycleChecker.ts"
