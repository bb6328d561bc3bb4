/**
 * The public test kit (`@visutility/model-registry/testing`): a deterministic faulty disk for running the real
 * storage layer under crashes and injected faults, the seeded PRNG and POSIX path layer it is built on, the
 * simulator that runs the whole registry on that disk (with your observers, or your own workload and invariants
 * under your lifecycle), and the lifecycle model checker.
 */

export type { ActorMutations } from "./actorMutations.ts"
export { failureOf, failureTag } from "./exits.ts"
export * from "./modelChecker.ts"
export * from "./Prng.ts"
export * from "./SimulatedFileSystem.ts"
export * from "./SimulatedPath.ts"
export * from "./simulation/index.ts"
