/**
 * The one seam between the harness and a design under test. Every durable-write design (baselines, the reference
 * and, later, the registry) implements this, and the closed-loop driver measures them all the same way.
 */
import type { Effect } from "effect"
import type { BenchRecord } from "../harness/records.ts"

/** Counters a design may expose, read before and after the measured phase and differenced. */
export interface WriteStats {
  /** fsync or fdatasync calls that completed. */
  readonly fsyncs: number
  /** Commit groups written; registers per batch = registers / batches. */
  readonly batches: number
}

export interface DurableTarget {
  /** Opens (creating if needed) the design's storage inside `dir`, an empty directory owned by this run. */
  open(dir: string): Promise<void>
  /**
   * Resolves only once `record` is durable (fsynced), which is what the closed loop counts as an ack. The value
   * is ignored, so a design's own result type (e.g. the registry's `Outcome`) passes through unmapped.
   */
  register(record: BenchRecord): Promise<unknown>
  /**
   * The same operation as an Effect. When present the driver runs its producers as Effect fibers calling this,
   * so an Effect API is measured without a Promise bridge on every operation.
   */
  readonly registerEffect?: (record: BenchRecord) => Effect.Effect<unknown, unknown>
  close(): Promise<void>
  /** Read once before and once after the measured phase, never on the hot path, so it may be asynchronous. */
  stats?(): WriteStats | Promise<WriteStats>
}

/**
 * Whose design it is, which decides where it appears in the ratios: "ours" and "reference" are compared against
 * every "baseline"; "floor" is the disk's own cost, which latency targets are relative to.
 */
export type TargetRole = "ours" | "reference" | "baseline" | "floor"

export interface TargetDefinition {
  /** Unique, human-readable; the report matches on it (e.g. "registry (Effect API)"). */
  readonly name: string
  readonly role: TargetRole
  /** One or two sentences for the report: what is measured and what is unusual about it. */
  readonly note: string
  /** Concurrency levels this design makes sense at; all levels when absent. */
  readonly levels?: ReadonlyArray<number>
  /** A fresh, unopened instance: every repetition gets its own. */
  make(): DurableTarget
}
