/** The three states a version can be in. */
export type LifecycleState = "registered" | "production" | "deprecated"
export const lifecycleStates: ReadonlyArray<LifecycleState> = ["registered", "production", "deprecated"]
