/**
 * Test-only switches that re-introduce the seed's storage bugs (DESIGN.md §1), one at a time, so the simulator
 * can prove it catches each. Nothing outside the test suites sets them.
 */
export interface StorageMutations {
  /** Create and rename files without fsyncing their directory: a new segment or snapshot can vanish on a crash. */
  readonly skipDirectorySyncAfterRename?: boolean
  /** Delete segments up to whatever seq compaction names, even past what a durable snapshot covers. */
  readonly compactionDeletesUnsnapshottedSegments?: boolean
  /** Recovery stops at a torn tail without truncating it, so later appends land after the garbage. */
  readonly tornTailNotTruncated?: boolean
}
