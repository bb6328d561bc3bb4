/**
 * The deterministic simulator: the registry on the simulated faulty disk, under a deterministic
 * runtime, with seeded clients (built-in, or the user's own workload), crashes and faults, judged by an oracle after
 * every reopen and by the user's invariants after every step.
 */
export {
  type ClientOp,
  dataDirectory,
  type RegistrySettings,
  type SimulatedObserver,
} from "./engine.ts"
export {
  type EnumerationFailure,
  type EnumerationOptions,
  type EnumerationReport,
  enumerateCrashPoints,
  type FailNthOptions,
  type FailNthReport,
  failEveryNthIo,
  type WorkloadReport,
} from "./enumerate.ts"
export { canonical, type Submission, type Violation } from "./oracle.ts"
export {
  defaultFaults,
  formatFailure,
  recordingObserver,
  reproduceLine,
  SimulationFailure,
  type SimulationResult,
} from "./run.ts"
export { makeSimulatedRuntime, type RunResult, type SimulatedRuntime } from "./runtime.ts"
export { defaultWorkload, runSimulation, type SimulationOptions, simulate, type WorkloadMix } from "./simulate.ts"
export {
  type Invariant,
  type RegistryView,
  runUserSimulation,
  type UserSimulationOptions,
  type UserSimulationReport,
  type UserWorkload,
} from "./userWorkload.ts"
export { allWorkloads, bulkWorkloads, canonicalWorkloads, type Workload, type WorkloadStep } from "./workloads.ts"
