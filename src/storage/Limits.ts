/**
 * Every limit of the registry, named with its unit last (`…Max` for an upper bound, `…Threshold…` for a level that
 * triggers work) and checked once at start-up: a misconfiguration fails the layer with `InvalidInput` naming the
 * field, before any file is touched, instead of misbehaving later. It sits in storage, the lowest layer that needs
 * limits, so the actor, the storage ports and the public API share one definition.
 */
import { Effect } from "effect"
import { InvalidInput } from "../domain/errors.ts"
import { recordHeaderBytes } from "./RecordCodec.ts"
import { segmentHeaderBytes } from "./SegmentHeader.ts"

export interface StorageLimits {
  /** A segment rolls before the batch that would take it past this size (a single batch is never split). */
  readonly segmentBytesMax: number
  /** Largest framed record (header + payload). Checked before writing and before allocating on read. */
  readonly recordBytesMax: number
}

export interface RegistryLimits {
  /** Commands queued for the next batches before callers wait (or get `Overloaded` if they asked not to wait). */
  readonly mailboxCommandsMax: number
  /** Callers waiting for room in a full mailbox; one more gets `Overloaded`, so a stalled disk cannot grow memory. */
  readonly blockedCommandsMax: number
  /** Commands decided and made durable together in one write + one fsync. */
  readonly batchCommandsMax: number
  /** Records appended since the last snapshot that trigger a compaction. */
  readonly snapshotThresholdRecords: number
  /**
   * And at least this many records per version the last snapshot held (0: only `snapshotThresholdRecords` counts).
   * A snapshot writes the whole state, so a fixed interval alone makes the snapshot cost per record grow with the
   * registry. With the default 1 the log grows at least as long as the last snapshot before the next one (as Redis
   * rewrites its AOF after 100 % growth), so compaction costs a bounded amount per record at every size.
   */
  readonly snapshotThresholdLogToStateRatio: number
  /** Committed events kept in memory so that live and slightly lagging subscribers do not read the log. */
  readonly tailEventsMax: number
}

export type Limits = RegistryLimits & StorageLimits

export const defaultLimits: Limits = {
  mailboxCommandsMax: 65_536,
  blockedCommandsMax: 1_048_576,
  batchCommandsMax: 4_096,
  snapshotThresholdRecords: 100_000,
  snapshotThresholdLogToStateRatio: 1,
  tailEventsMax: 65_536,
  segmentBytesMax: 64 * 1024 * 1024,
  recordBytesMax: 1024 * 1024,
}

/** Segments are read whole into memory, so they stay well below the 2 GiB typed-array limit. */
export const segmentBytesMaxLimit = 1024 * 1024 * 1024

const bounds: { readonly [K in keyof Limits]: readonly [min: number, max: number] } = {
  mailboxCommandsMax: [1, 16_777_216],
  blockedCommandsMax: [0, 16_777_216],
  batchCommandsMax: [1, 1_048_576],
  snapshotThresholdRecords: [1, Number.MAX_SAFE_INTEGER],
  snapshotThresholdLogToStateRatio: [0, 1000],
  tailEventsMax: [1, 16_777_216],
  segmentBytesMax: [1, segmentBytesMaxLimit],
  recordBytesMax: [recordHeaderBytes + 1, Number.MAX_SAFE_INTEGER],
}

const invalid = (field: string, message: string) =>
  Effect.fail(new InvalidInput({ field, message: `${field}: ${message}` }))

/**
 * Fills defaults and checks every limit and the relations between them. Generic in what it is given, so the storage
 * layers and the registry each validate their own part with the same rules.
 */
export const validateLimits = <L extends Partial<Limits>>(input: L): Effect.Effect<L & Limits, InvalidInput> =>
  Effect.suspend(() => {
    const limits = { ...defaultLimits, ...input }
    for (const key of Object.keys(bounds) as Array<keyof Limits>) {
      const [min, max] = bounds[key]
      const value = limits[key]
      if (!Number.isSafeInteger(value) || value < min || value > max)
        return invalid(key, `must be an integer from ${min} to ${max} (got ${value})`)
    }
    if (limits.batchCommandsMax > limits.mailboxCommandsMax)
      return invalid("batchCommandsMax", "must not exceed mailboxCommandsMax")
    if (limits.segmentBytesMax < segmentHeaderBytes + limits.recordBytesMax)
      return invalid("segmentBytesMax", "must hold the segment header plus one record of recordBytesMax")
    return Effect.succeed(limits)
  })

/** Whether a batch of `batchBytes` must go to a fresh segment (the current one holds records and would overflow). */
export const mustRoll = (limits: StorageLimits, segmentBytes: number, hasRecords: boolean, batchBytes: number) =>
  hasRecords && segmentBytes + batchBytes > limits.segmentBytesMax
