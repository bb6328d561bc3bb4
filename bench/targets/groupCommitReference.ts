/**
 * A reference, not ours: the least a group-commit writer must do, in plain Node, as an upper bound for what the
 * registry can reach on this machine. Everything queued while the previous batch was syncing becomes the next
 * batch: one write and one fdatasync for all of it. Records are framed as DESIGN §7 specifies
 * (u32 length | u32 crc32 | u64 seq | u8 type | JSON payload) so the CPU per record is comparable; there is no
 * decide step, no index, no observers and no Effect machinery.
 *
 * The write is synchronous and the fdatasync goes to the thread pool: per the performance facts that gives the
 * single-writer latency of a fully synchronous path without blocking the event loop for the sync.
 */
import { Effect } from "effect"
import type { BenchRecord } from "../harness/records.ts"
import type { DurableTarget, TargetDefinition } from "./DurableTarget.ts"
import { GroupCommitWriter } from "./groupCommitWriter.ts"

const makeTarget = (viaEffect: boolean): DurableTarget => {
  const writer = new GroupCommitWriter()
  const target: DurableTarget = {
    open: async (dir) => writer.open(dir),
    register: (record) =>
      new Promise<void>((resolve, reject) => writer.enqueue(record, (error) => (error ? reject(error) : resolve()))),
    close: async () => writer.close(),
    stats: () => writer.stats(),
  }
  if (!viaEffect) return target
  return {
    ...target,
    registerEffect: (record) =>
      Effect.async<void, Error>((resume) =>
        writer.enqueue(record, (error) => resume(error ? Effect.fail(error) : Effect.void)),
      ),
  }
}

export const groupCommitPromise: TargetDefinition = {
  name: "reference group commit (Promise)",
  role: "reference",
  note: "Not ours: plain-Node group commit (one write + one fdatasync per batch of everything queued, DESIGN §7 framing). An upper bound for the registry.",
  make: () => makeTarget(false),
}

export const groupCommitEffect: TargetDefinition = {
  name: "reference group commit (Effect fibers)",
  role: "reference",
  note: "Not ours: the same writer with its producers run as Effect fibers through Effect.async; the gap to the Promise row is Effect's own per-op cost.",
  make: () => makeTarget(true),
}

/**
 * Copies and freezes what a registry must keep of an acknowledged version to answer reads from memory: the
 * caller may mutate its input after the ack, so the nested records are copied too.
 */
const frozenRecord = (record: BenchRecord): BenchRecord => {
  const metrics: Record<string, number> = {}
  for (const key in record.metrics) metrics[key] = record.metrics[key]!
  const tags: Record<string, string> = {}
  for (const key in record.tags) tags[key] = record.tags[key]!
  return Object.freeze({
    id: record.id,
    name: record.name,
    version: record.version,
    createdAt: record.createdAt,
    metrics: Object.freeze(metrics),
    tags: Object.freeze(tags),
  })
}

/**
 * The Effect-fiber reference plus the one duty no registry can shed: every acknowledged version stays readable,
 * copied and frozen in a Map by name and version. The gap between this row and the bare reference at 512 in
 * flight is the garbage collector promoting records that live across the fsync wait and beyond; the gap between
 * this row and the registry is ours (validation, the decide step, the index, observers, Effect machinery).
 */
export const groupCommitRetaining: TargetDefinition = {
  name: "reference group commit + retained versions (Effect fibers)",
  role: "reference",
  note: "Not ours: the Effect-fiber reference that also keeps each acknowledged version, copied and frozen, in a Map by name and version, as any registry answering reads from memory must. Issue 15's restated target 3 is measured against it.",
  make: () => {
    const writer = new GroupCommitWriter()
    const versions = new Map<string, BenchRecord>()
    const register = (record: BenchRecord, done: (error: Error | undefined) => void) =>
      writer.enqueue(record, (error) => {
        if (error === undefined) versions.set(`${record.name}@${record.version}`, frozenRecord(record))
        done(error)
      })
    return {
      open: async (dir) => writer.open(dir),
      register: (record) =>
        new Promise<void>((resolve, reject) => register(record, (error) => (error ? reject(error) : resolve()))),
      registerEffect: (record) =>
        Effect.async<void, Error>((resume) =>
          register(record, (error) => resume(error ? Effect.fail(error) : Effect.void)),
        ),
      close: async () => {
        versions.clear()
        writer.close()
      },
      stats: () => writer.stats(),
    }
  },
}
