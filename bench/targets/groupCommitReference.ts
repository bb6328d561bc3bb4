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
import { closeSync, fdatasync, openSync, writeSync } from "node:fs"
import { join } from "node:path"
import { crc32 } from "node:zlib"
import { Effect } from "effect"
import type { BenchRecord } from "../harness/records.ts"
import type { DurableTarget, TargetDefinition } from "./DurableTarget.ts"

const headerBytes = 4 + 4 + 8 + 1
const recordTypeRegistered = 1
// Bounds one batch's buffer; the registry's default mailbox capacity, so it never binds in these runs.
const batchRecordsMax = 65_536

interface Pending {
  readonly record: BenchRecord
  readonly done: (error: Error | undefined) => void
}

class GroupCommitWriter {
  private fd = -1
  private seq = 0n
  private queue: Array<Pending> = []
  private flushing = false
  private failure: Error | undefined
  private fsyncs = 0
  private batches = 0

  open(dir: string): void {
    this.fd = openSync(join(dir, "reference.wal"), "a")
  }

  enqueue(record: BenchRecord, done: (error: Error | undefined) => void): void {
    if (this.failure) {
      done(this.failure)
      return
    }
    this.queue.push({ record, done })
    if (!this.flushing) {
      this.flushing = true
      // One event-loop turn lets every producer woken by the previous batch join this one.
      setImmediate(() => this.flush())
    }
  }

  private flush(): void {
    const batch = this.queue.length <= batchRecordsMax ? this.queue : this.queue.slice(0, batchRecordsMax)
    this.queue = batch === this.queue ? [] : this.queue.slice(batchRecordsMax)
    const payloads = batch.map((pending) => JSON.stringify(pending.record))
    let size = 0
    for (const payload of payloads) size += headerBytes + Buffer.byteLength(payload)
    const buffer = Buffer.allocUnsafe(size)
    let offset = 0
    for (const payload of payloads) {
      const length = buffer.write(payload, offset + headerBytes, "utf8")
      buffer.writeUInt32LE(length, offset)
      buffer.writeBigUInt64LE(++this.seq, offset + 8)
      buffer.writeUInt8(recordTypeRegistered, offset + 16)
      buffer.writeUInt32LE(crc32(buffer.subarray(offset + 8, offset + headerBytes + length)), offset + 4)
      offset += headerBytes + length
    }
    try {
      // write(2) may accept less than asked; what is acknowledged must all be in the file.
      for (let written = 0; written < size; ) written += writeSync(this.fd, buffer, written, size - written)
    } catch (error) {
      this.fail(batch, error)
      return
    }
    fdatasync(this.fd, (error) => {
      if (error) {
        this.fail(batch, error)
        return
      }
      this.fsyncs++
      this.batches++
      for (const pending of batch) pending.done(undefined)
      if (this.queue.length > 0) setImmediate(() => this.flush())
      else this.flushing = false
    })
  }

  // Never retry a failed fsync: the page cache may have dropped the dirty pages ("fsyncgate").
  private fail(batch: ReadonlyArray<Pending>, error: unknown): void {
    this.failure = error instanceof Error ? error : new Error(String(error))
    for (const pending of [...batch, ...this.queue]) pending.done(this.failure)
    this.queue = []
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
  }

  stats() {
    return { fsyncs: this.fsyncs, batches: this.batches }
  }
}

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
