/**
 * Every limit of the registry, named with its unit last and checked once at start-up (TigerBeetle style):
 * a misconfiguration fails the layer with `InvalidInput` naming the field, instead of misbehaving later.
 */
import { Effect } from "effect"
import { InvalidInput } from "../domain/errors.ts"

export interface RegistryLimits {
  /** Commands queued before callers wait (or get `Overloaded` if they asked not to wait). */
  readonly mailboxCapacity: number
  /** Commands decided and made durable together in one write + one fsync. */
  readonly batchMax: number
  /** Records appended since the last snapshot that trigger a compaction. */
  readonly snapshotEveryRecords: number
  /**
   * And at least this many records per version the last snapshot held (0: only `snapshotEveryRecords` counts). A
   * snapshot writes the whole state, so a fixed interval alone made the snapshot cost per record grow with the
   * registry: at 1M versions, a ~8 s snapshot every 100k records. With the default 1, the log grows at least as long
   * as the last snapshot before the next one (as Redis rewrites its AOF after 100 % growth), so compaction costs a
   * bounded amount per record at every size.
   */
  readonly snapshotLogToStateRatio: number
  /** Committed events kept in memory so that live and slightly lagging subscribers do not read the log. */
  readonly tailEventsMax: number
}

export const defaultLimits: RegistryLimits = {
  mailboxCapacity: 65_536,
  batchMax: 4_096,
  snapshotEveryRecords: 100_000,
  snapshotLogToStateRatio: 1,
  tailEventsMax: 65_536,
}

const bounds: { readonly [K in keyof RegistryLimits]: readonly [min: number, max: number] } = {
  mailboxCapacity: [1, 16_777_216],
  batchMax: [1, 1_048_576],
  snapshotEveryRecords: [1, Number.MAX_SAFE_INTEGER],
  snapshotLogToStateRatio: [0, 1000],
  tailEventsMax: [1, 16_777_216],
}

export const resolveLimits = (given: Partial<RegistryLimits>): Effect.Effect<RegistryLimits, InvalidInput> =>
  Effect.suspend(() => {
    const limits = { ...defaultLimits, ...given }
    for (const key of Object.keys(bounds) as Array<keyof RegistryLimits>) {
      const [min, max] = bounds[key]
      const value = limits[key]
      if (!Number.isInteger(value) || value < min || value > max)
        return Effect.fail(
          new InvalidInput({ field: key, message: `${key}: must be an integer from ${min} to ${max} (got ${value})` }),
        )
    }
    if (limits.batchMax > limits.mailboxCapacity)
      return Effect.fail(new InvalidInput({ field: "batchMax", message: "batchMax: must not exceed mailboxCapacity" }))
    return Effect.succeed(limits)
  })
