/**
 * The binary framing of WAL records (see docs/architecture.md), little-endian:
 * `u32 payload length | u32 checksum | u64 seq | u8 type | payload`.
 *
 * The checksum covers seq, type and payload and is seeded with the segment's salt. Type 0 is invalid, so zero-filled
 * space can never read as a record. A batch encodes into ONE preallocated buffer with DataView writes and no
 * per-record allocation beyond the checksum's subarray view, which keeps the append path within its CPU budget.
 * Every record is validated right before it is written and right after it is read.
 */
import type { Checksum } from "./Checksum.ts"
import type { WalRecord } from "./Wal.ts"

export const recordHeaderBytes = 17
const two32 = 0x100000000

/** The framed size of a record with this payload. */
export const recordBytes = (payloadLength: number): number => recordHeaderBytes + payloadLength

export const batchBytes = (records: ReadonlyArray<WalRecord>): number => {
  let total = 0
  for (let i = 0; i < records.length; i++) total += recordHeaderBytes + records[i]!.payload.length
  return total
}

/** Throws (a defect: the caller broke the port's contract) when a record cannot be written as given. */
export const assertWritable = (record: WalRecord, expectedSeq: number, recordBytesMax: number): void => {
  if (record.seq !== expectedSeq) throw new Error(`WAL append: expected seq ${expectedSeq}, got ${record.seq}`)
  if (!Number.isInteger(record.type) || record.type < 1 || record.type > 255)
    throw new Error(`WAL append: record ${record.seq} has type ${record.type}; types are 1..255`)
  if (recordBytes(record.payload.length) > recordBytesMax)
    throw new Error(
      `WAL append: record ${record.seq} is ${recordBytes(record.payload.length)} bytes; recordBytesMax is ${recordBytesMax}`,
    )
}

/**
 * Encodes a batch whose seqs must be exactly `firstSeq, firstSeq + 1, …` into one buffer.
 * Throws on any contract violation, before anything is written.
 */
export const encodeBatch = (
  records: ReadonlyArray<WalRecord>,
  firstSeq: number,
  salt: number,
  checksum: Checksum,
  recordBytesMax: number,
): Uint8Array => {
  const bytes = new Uint8Array(batchBytes(records))
  const view = new DataView(bytes.buffer)
  let offset = 0
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!
    assertWritable(record, firstSeq + i, recordBytesMax)
    const length = record.payload.length
    view.setUint32(offset, length, true)
    view.setUint32(offset + 8, record.seq % two32, true)
    view.setUint32(offset + 12, Math.floor(record.seq / two32), true)
    bytes[offset + 16] = record.type
    bytes.set(record.payload, offset + recordHeaderBytes)
    const end = offset + recordHeaderBytes + length
    view.setUint32(offset + 4, checksum.compute(bytes.subarray(offset + 8, end), salt), true)
    offset = end
  }
  return bytes
}

/** Why the record at an offset is unusable, or `undefined` when it is a valid record. */
export type RecordProblem = string | undefined

export interface ScanOptions {
  readonly salt: number
  readonly checksum: Checksum
  readonly recordBytesMax: number
}

/** Where scanning stopped. `bad` is absent when every byte up to the end was a valid record. */
export interface ScanResult {
  /** Offset just after the last valid record. */
  readonly end: number
  /** Seq of the last valid record, or `expectedSeq - 1` when none was found. */
  readonly lastSeq: number
  readonly bad?: {
    readonly offset: number
    readonly reason: string
    /** Every byte from `offset` to the end is zero (space that was never written). */
    readonly zeros: boolean
    /** The bytes form an intact record, only with the wrong seq: damage a crash cannot cause. */
    readonly intact: boolean
  }
}

const readSeq = (view: DataView, offset: number) =>
  view.getUint32(offset + 8, true) + view.getUint32(offset + 12, true) * two32

/** Checks the record at `offset` without trusting any of its fields before they are bounds-checked. */
const checkRecord = (bytes: Uint8Array, view: DataView, offset: number, options: ScanOptions): RecordProblem => {
  const remaining = bytes.length - offset
  if (remaining < recordHeaderBytes) return `record header truncated (${remaining} of ${recordHeaderBytes} bytes)`
  const length = view.getUint32(offset, true)
  if (recordBytes(length) > options.recordBytesMax)
    return `length ${length} exceeds recordBytesMax ${options.recordBytesMax}`
  if (recordBytes(length) > remaining) return `record truncated (${remaining} of ${recordBytes(length)} bytes)`
  if (bytes[offset + 16] === 0) return "record type 0"
  const stored = view.getUint32(offset + 4, true)
  const actual = options.checksum.compute(bytes.subarray(offset + 8, offset + recordHeaderBytes + length), options.salt)
  if (stored !== actual) return "checksum mismatch"
  return undefined
}

const allZero = (bytes: Uint8Array, from: number) => {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false
  return true
}

/**
 * Walks the records in `bytes` from `start`, calling `onRecord` for each valid one in order. Stops at the end or at
 * the first bad record (bad framing, bad checksum, or a seq other than the next expected one).
 */
export const scanRecords = (
  bytes: Uint8Array,
  start: number,
  expectedSeq: number,
  options: ScanOptions,
  onRecord: (seq: number, type: number, payloadStart: number, payloadEnd: number) => void,
): ScanResult => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  let offset = start
  let seq = expectedSeq
  while (offset < bytes.length) {
    const problem = checkRecord(bytes, view, offset, options)
    const found = problem === undefined ? readSeq(view, offset) : seq
    if (problem !== undefined || found !== seq) {
      const reason = problem ?? `expected seq ${seq}, found ${found}`
      const zeros = allZero(bytes, offset)
      return { end: offset, lastSeq: seq - 1, bad: { offset, reason, zeros, intact: problem === undefined } }
    }
    const payloadStart = offset + recordHeaderBytes
    const payloadEnd = payloadStart + view.getUint32(offset, true)
    onRecord(seq, bytes[offset + 16]!, payloadStart, payloadEnd)
    offset = payloadEnd
    seq++
  }
  return { end: offset, lastSeq: seq - 1 }
}

/**
 * The offset of a valid record with a seq above `afterSeq` anywhere after `from`, found by trying every byte
 * offset (a corrupt record's length is never trusted). Its existence is what makes a bad record "in the middle"
 * rather than a torn tail.
 */
export const findValidRecordAfter = (
  bytes: Uint8Array,
  from: number,
  afterSeq: number,
  options: ScanOptions,
): number | undefined => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  const seqLimit = afterSeq + Math.floor((bytes.length - from) / recordHeaderBytes) + 1
  for (let offset = from; offset + recordHeaderBytes <= bytes.length; offset++) {
    if (bytes[offset + 16] === 0) continue
    const seq = readSeq(view, offset)
    if (seq <= afterSeq || seq > seqLimit) continue
    if (checkRecord(bytes, view, offset, options) === undefined) return offset
  }
  return undefined
}

/**
 * The records with seq in `fromSeq..toSeq` from bytes that `scanRecords` found valid (pass them cut at its `end`),
 * made one at a time as they are iterated, each a view into `bytes`: a reader of a large segment holds its bytes
 * and the records it has not let go of, never a record object for every record in it. Each iteration walks anew.
 */
export const validatedRecords = (
  bytes: Uint8Array,
  start: number,
  expectedSeq: number,
  fromSeq: number,
  toSeq: number,
): Iterable<WalRecord> => ({
  *[Symbol.iterator]() {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
    let offset = start
    for (let seq = expectedSeq; seq <= toSeq && offset < bytes.length; seq++) {
      const payloadStart = offset + recordHeaderBytes
      const payloadEnd = payloadStart + view.getUint32(offset, true)
      if (seq >= fromSeq)
        yield {
          seq,
          type: bytes[offset + 16]!,
          payload: new Uint8Array(bytes.buffer, bytes.byteOffset + payloadStart, payloadEnd - payloadStart),
        }
      offset = payloadEnd
    }
  },
})
