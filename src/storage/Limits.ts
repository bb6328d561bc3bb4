/**
 * The storage limits, named with their unit last and checked once at start-up, so a bad configuration fails
 * before any file is touched, and the file and memory implementations roll segments by the same rule.
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

export const defaultLimits: StorageLimits = {
  segmentBytesMax: 64 * 1024 * 1024,
  recordBytesMax: 1024 * 1024,
}

/** Segments are read whole into memory, so they stay well below the 2 GiB typed-array limit. */
export const segmentBytesMaxLimit = 1024 * 1024 * 1024

/** Fills defaults and checks every limit and the relations between them. */
export const validateLimits = (input: Partial<StorageLimits>): Effect.Effect<StorageLimits, InvalidInput> => {
  const limits = { ...defaultLimits, ...input }
  const problem = (field: keyof StorageLimits, message: string) =>
    Effect.fail(new InvalidInput({ field, message: `${field} ${message}, got ${limits[field]}` }))
  if (!Number.isSafeInteger(limits.recordBytesMax) || limits.recordBytesMax <= recordHeaderBytes)
    return problem("recordBytesMax", `must be an integer greater than ${recordHeaderBytes}`)
  if (!Number.isSafeInteger(limits.segmentBytesMax) || limits.segmentBytesMax > segmentBytesMaxLimit)
    return problem("segmentBytesMax", `must be an integer of at most ${segmentBytesMaxLimit}`)
  if (limits.segmentBytesMax < segmentHeaderBytes + limits.recordBytesMax)
    return problem("segmentBytesMax", `must hold the segment header plus one record of recordBytesMax`)
  return Effect.succeed(limits)
}

/** Whether a batch of `batchBytes` must go to a fresh segment (the current one holds records and would overflow). */
export const mustRoll = (limits: StorageLimits, segmentBytes: number, hasRecords: boolean, batchBytes: number) =>
  hasRecords && segmentBytes + batchBytes > limits.segmentBytesMax
