/**
 * The deterministic simulator: the registry on the simulated faulty disk, under a deterministic
 * runtime, with seeded clients, crashes and faults, judged by an oracle after every reopen.
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
export { makeSimulatedRuntime, type RunResult, type SimulatedRuntime } from "./runtime.ts"
export {
  defaultFaults,
  defaultWorkload,
  formatFailure,
  recordingObserver,
  reproduceLine,
  runSimulation,
  SimulationFailure,
  type SimulationOptions,
  type SimulationResult,
  simulate,
  type WorkloadMix,
} from "./simulate.ts"
export { allWorkloads, bulkWorkloads, canonicalWorkloads, type Workload, type WorkloadStep } from "./workloads.ts"
