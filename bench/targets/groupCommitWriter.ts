/**
 * The reference group-commit writer, without Effect, so the bare HTTP reference server (children/
 * bareHttpServer.ts) bundles it alone: everything queued while the previous batch was syncing becomes the next
 * batch, one write and one fdatasync for all of it, records framed as DESIGN §7 specifies
 * (u32 length | u32 crc32 | u64 seq | u8 type | JSON payload). groupCommitReference.ts says why it is built so.
 */
import { closeSync, fdatasync, openSync, writeSync } from "node:fs"
import { join } from "node:path"
import { crc32 } from "node:zlib"
import type { BenchRecord } from "../harness/records.ts"

const headerBytes = 4 + 4 + 8 + 1
const recordTypeRegistered = 1
// Bounds one batch's buffer; the registry's default mailbox capacity, so it never binds in these runs.
const batchRecordsMax = 65_536

interface Pending {
  readonly record: BenchRecord
  readonly done: (error: Error | undefined) => void
}

export class GroupCommitWriter {
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
