/**
 * The public test kit (`@visutility/model-registry/testing`): a deterministic faulty disk for running the real
 * storage layer under crashes and injected faults, and the seeded PRNG and POSIX path layer it is built on.
 */
export * from "./Prng.ts"
export * from "./SimulatedFileSystem.ts"
export * from "./SimulatedPath.ts"
