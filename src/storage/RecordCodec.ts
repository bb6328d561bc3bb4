/**
 * The binary framing of WAL records (see docs/architecture.md, "File format"), little-endian. Segments written now
 * (segment format 2) frame a record as
 * `u32 payload length | u32 checksum | 32 B chain value | u64 seq | u8 type | payload`;
 * segments of earlier releases (format 1, read only) as `u32 payload length | u32 checksum | u64 seq | u8 type | payload`.
 *
 * The checksum covers everything after it and is seeded with the segment's salt, so a torn chain value is a checksum
 * failure like any torn byte. The chain value is SHA-256(previous chain value || seq | type | payload): the encoder
 * writes the previous value into the record's own chain slot, hashes the slot and the rest of the record in place,
 * then overwrites the slot with the result, so chaining needs no buffer beyond the digest's. Type 0 is invalid, so
 * zero-filled space can never read as a record. A batch encodes into ONE preallocated buffer with DataView writes.
 * Every record is validated right before it is written and right after it is read.
 */
import { Effect } from "effect"
import { sameBytes } from "./ByteParts.ts"
import { type ChainDigest, chainValueBytes } from "./ChainDigest.ts"
import type { Checksum } from "./Checksum.ts"
import type { WalRecord } from "./Wal.ts"

/** The record header every append writes (format 2, chained). */
export const recordHeaderBytes = 49
/** The record header of segments written by earlier releases (format 1, no chain value). */
export const unchainedRecordHeaderBytes = 17
/** Where a format-2 record's chain value starts: right after the checksum, so the checksum covers it. */
const chainAt = 8
const two32 = 0x100000000

const headerBytesOf = (chained: boolean) => (chained ? recordHeaderBytes : unchainedRecordHeaderBytes)

/** The framed size of a record with this payload, as appends write it. */
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
 * Lays out a batch whose seqs must be exactly `firstSeq, firstSeq + 1, …` in one buffer, its chain values and
 * checksums left for `sealBatch`. Throws on any contract violation, before anything is written.
 */
export const encodeBatch = (
  records: ReadonlyArray<WalRecord>,
  firstSeq: number,
  recordBytesMax: number,
): Uint8Array => {
  const bytes = new Uint8Array(batchBytes(records))
  const view = new DataView(bytes.buffer)
  let offset = 0
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!
    assertWritable(record, firstSeq + i, recordBytesMax)
    view.setUint32(offset, record.payload.length, true)
    view.setUint32(offset + 40, record.seq % two32, true)
    view.setUint32(offset + 44, Math.floor(record.seq / two32), true)
    bytes[offset + 48] = record.type
    bytes.set(record.payload, offset + recordHeaderBytes)
    offset += recordHeaderBytes + record.payload.length
  }
  return bytes
}

/**
 * Chains and checksums the `count` records `encodeBatch` laid out in `bytes`, the first one after `chainIn`: one
 * digest per record, in order. Succeeds with the chain value of the batch's last record (a copy).
 */
export const sealBatch = (
  bytes: Uint8Array,
  count: number,
  chainIn: Uint8Array,
  salt: number,
  checksum: Checksum,
  digest: ChainDigest,
): Effect.Effect<Uint8Array> => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  const head = new Uint8Array(chainValueBytes)
  let at = 0
  bytes.set(chainIn, chainAt)
  return Effect.as(
    digest.digestInOrder(
      count,
      () => bytes.subarray(at + chainAt, at + recordHeaderBytes + view.getUint32(at, true)),
      (_, value) => {
        const end = at + recordHeaderBytes + view.getUint32(at, true)
        bytes.set(value, at + chainAt)
        view.setUint32(at + 4, checksum.compute(bytes.subarray(at + chainAt, end), salt), true)
        at = end
        if (at < bytes.length) bytes.set(value, at + chainAt)
        else head.set(value)
        return undefined
      },
    ),
    head,
  )
}

/** Why the record at an offset is unusable, or `undefined` when it is a valid record. */
export type RecordProblem = string | undefined

export interface ScanOptions {
  /** Format 2 framing (with a chain value), else format 1. */
  readonly chained: boolean
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
  /** Offset of the last valid record, when one was found. */
  readonly lastAt?: number
  readonly bad?: {
    readonly offset: number
    readonly reason: string
    /** Every byte from `offset` to the end is zero (space that was never written). */
    readonly zeros: boolean
    /** The bytes form an intact record, only with the wrong seq: damage a crash cannot cause. */
    readonly intact: boolean
  }
}

const readSeq = (view: DataView, offset: number, headerBytes: number) =>
  view.getUint32(offset + headerBytes - 9, true) + view.getUint32(offset + headerBytes - 5, true) * two32

/** Checks the record at `offset` without trusting any of its fields before they are bounds-checked. */
const checkRecord = (bytes: Uint8Array, view: DataView, offset: number, options: ScanOptions): RecordProblem => {
  const remaining = bytes.length - offset
  const headerBytes = headerBytesOf(options.chained)
  if (remaining < headerBytes) return `record header truncated (${remaining} of ${headerBytes} bytes)`
  const length = view.getUint32(offset, true)
  if (headerBytes + length > options.recordBytesMax)
    return `length ${length} exceeds recordBytesMax ${options.recordBytesMax}`
  if (headerBytes + length > remaining) return `record truncated (${remaining} of ${headerBytes + length} bytes)`
  if (bytes[offset + headerBytes - 1] === 0) return "record type 0"
  const stored = view.getUint32(offset + 4, true)
  const actual = options.checksum.compute(bytes.subarray(offset + 8, offset + headerBytes + length), options.salt)
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
  const headerBytes = headerBytesOf(options.chained)
  let offset = start
  let seq = expectedSeq
  let lastAt: number | undefined
  while (offset < bytes.length) {
    const problem = checkRecord(bytes, view, offset, options)
    const found = problem === undefined ? readSeq(view, offset, headerBytes) : seq
    if (problem !== undefined || found !== seq) {
      const reason = problem ?? `expected seq ${seq}, found ${found}`
      const zeros = allZero(bytes, offset)
      const bad = { offset, reason, zeros, intact: problem === undefined }
      return lastAt === undefined
        ? { end: offset, lastSeq: seq - 1, bad }
        : { end: offset, lastSeq: seq - 1, lastAt, bad }
    }
    const payloadStart = offset + headerBytes
    const payloadEnd = payloadStart + view.getUint32(offset, true)
    onRecord(seq, bytes[payloadStart - 1]!, payloadStart, payloadEnd)
    lastAt = offset
    offset = payloadEnd
    seq++
  }
  return lastAt === undefined ? { end: offset, lastSeq: seq - 1 } : { end: offset, lastSeq: seq - 1, lastAt }
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
  const headerBytes = headerBytesOf(options.chained)
  const seqLimit = afterSeq + Math.floor((bytes.length - from) / headerBytes) + 1
  for (let offset = from; offset + headerBytes <= bytes.length; offset++) {
    if (bytes[offset + headerBytes - 1] === 0) continue
    const seq = readSeq(view, offset, headerBytes)
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
  chained: boolean,
): Iterable<WalRecord> => ({
  *[Symbol.iterator]() {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
    const headerBytes = headerBytesOf(chained)
    let offset = start
    for (let seq = expectedSeq; seq <= toSeq && offset < bytes.length; seq++) {
      const payloadStart = offset + headerBytes
      const payloadEnd = payloadStart + view.getUint32(offset, true)
      if (seq >= fromSeq)
        yield {
          seq,
          type: bytes[payloadStart - 1]!,
          payload: new Uint8Array(bytes.buffer, bytes.byteOffset + payloadStart, payloadEnd - payloadStart),
        }
      offset = payloadEnd
    }
  },
})

/** The chain value stored in the format-2 record at `offset` (a view into `bytes`). */
export const storedChainValue = (bytes: Uint8Array, offset: number): Uint8Array =>
  bytes.subarray(offset + chainAt, offset + chainAt + chainValueBytes)

/** The offset of the record with seq `seq` in format-2 records `scanRecords` found valid from `start`. */
export const chainedRecordOffset = (bytes: Uint8Array, start: number, expectedSeq: number, seq: number): number => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  let offset = start
  for (let s = expectedSeq; s < seq; s++) offset += recordHeaderBytes + view.getUint32(offset, true)
  return offset
}

/** Where a chain walk found a stored chain value that its record's bytes do not produce. */
export interface ChainBreak {
  readonly seq: number
  readonly offset: number
}

/**
 * Recomputes the chain over format-2 records `scanRecords` found valid (pass `bytes` cut at its `end`), starting
 * from `chainIn`, and compares each stored value. Succeeds with the first record whose stored value differs, or
 * with the chain value after the last record. Hashes a copy of each record (this is `verify`, not the append path).
 */
export const walkChain = (
  bytes: Uint8Array,
  start: number,
  expectedSeq: number,
  chainIn: Uint8Array,
  digest: ChainDigest,
): Effect.Effect<{ readonly head: Uint8Array } | { readonly broken: ChainBreak }> =>
  Effect.suspend(() => {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
    let count = 0
    for (let offset = start; offset < bytes.length; count++) offset += recordHeaderBytes + view.getUint32(offset, true)
    let at = start
    let previous = chainIn
    let broken: ChainBreak | undefined
    return Effect.map(
      digest.digestInOrder(
        count,
        () => {
          const end = at + recordHeaderBytes + view.getUint32(at, true)
          const message = new Uint8Array(end - at - chainAt)
          message.set(previous)
          message.set(bytes.subarray(at + chainAt + chainValueBytes, end), chainValueBytes)
          return message
        },
        (i, value) => {
          const stored = storedChainValue(bytes, at)
          if (!sameBytes(stored, value)) {
            broken = { seq: expectedSeq + i, offset: at }
            return false
          }
          previous = stored
          at += recordHeaderBytes + view.getUint32(at, true)
          return undefined
        },
      ),
      () => (broken === undefined ? { head: new Uint8Array(previous) } : { broken }),
    )
  })
