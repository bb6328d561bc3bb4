import type { RegistrySettings } from "../../src/testing/simulation/index.ts"

/** Small limits, so that a short run rolls segments and compacts (fixed, not drawn per seed). */
export const smallRegistry: RegistrySettings = {
  recordBytesMax: 4096,
  segmentBytesMax: 12 * 1024,
  snapshotThresholdRecords: 6,
  snapshotThresholdLogToStateRatio: 0,
  tailEventsMax: 16,
}
