/**
 * The header at the start of every segment file. It names the format version and checksum algorithm (so a file is
 * never guessed at), the registry it belongs to (so a segment copied from another data directory is refused), the
 * first seq it holds (so a missing segment is detected), and a random salt that seeds every record checksum in the
 * segment (so bytes from any other segment can never pass as records of this one). Format 2 adds the chain value
 * before the segment's first record, so each segment's chain checks on its own and links to the segment before.
 *
 * Layout, little-endian. Format 2 (96 bytes, every segment written now): magic "VTWL" | u16 version 2 |
 * u8 checksum algorithm | u8 chain algorithm (1 = SHA-256) | 16 B registry id | u32 salt | u32 0 | u64 first seq |
 * 32 B chain value before the first record | 20 B zero | u32 header checksum (over bytes 0..92).
 * Format 1 (64 bytes, earlier releases, read only): the same up to the first seq, byte 7 zero, then 20 B zero and the
 * header checksum over bytes 0..60.
 */
import { Encoding } from "effect"
import { sameBytes } from "./ByteParts.ts"
import { ChainAlgorithm, chainValueBytes } from "./ChainDigest.ts"
import type { Checksum } from "./Checksum.ts"

/** The header of the segments written now (format 2). */
export const segmentHeaderBytes = 96
/** The header of segments written by earlier releases (format 1). */
export const unchainedSegmentHeaderBytes = 64
export const segmentMagic = 0x4c575456 // "VTWL" read as a little-endian u32
export const segmentFormatVersion = 2
export const registryIdBytes = 16
const chainInAt = 40

export interface SegmentHeader {
  readonly registryId: Uint8Array
  readonly salt: number
  readonly firstSeq: number
  /** The chain value before the first record (format 2); absent in a format-1 segment, whose records are unchained. */
  readonly chainIn?: Uint8Array
}

/** Where the records of a segment with this header start. */
export const recordsStart = (header: Pick<SegmentHeader, "chainIn">): number =>
  header.chainIn === undefined ? unchainedSegmentHeaderBytes : segmentHeaderBytes

/** A format-2 header; `chainIn` is required. */
export const encodeSegmentHeader = (header: SegmentHeader & { readonly chainIn: Uint8Array }, checksum: Checksum) => {
  const bytes = new Uint8Array(segmentHeaderBytes)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, segmentMagic, true)
  view.setUint16(4, segmentFormatVersion, true)
  view.setUint8(6, checksum.algorithm)
  view.setUint8(7, ChainAlgorithm.sha256)
  bytes.set(header.registryId, 8)
  view.setUint32(24, header.salt >>> 0, true)
  view.setUint32(32, header.firstSeq % 0x100000000, true)
  view.setUint32(36, Math.floor(header.firstSeq / 0x100000000), true)
  bytes.set(header.chainIn, chainInAt)
  view.setUint32(segmentHeaderBytes - 4, checksum.compute(bytes.subarray(0, segmentHeaderBytes - 4), 0), true)
  return bytes
}

/** Decodes and checks a header of either format; returns the reason it is unusable as a string. */
export const decodeSegmentHeader = (bytes: Uint8Array, checksum: Checksum): SegmentHeader | string => {
  if (bytes.length < unchainedSegmentHeaderBytes)
    return `segment header truncated (${bytes.length} of ${unchainedSegmentHeaderBytes} bytes)`
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  if (view.getUint32(0, true) !== segmentMagic) return "wrong magic: not a WAL segment"
  const version = view.getUint16(4, true)
  if (version !== 1 && version !== segmentFormatVersion) return `unsupported format version ${version}`
  const size = version === 1 ? unchainedSegmentHeaderBytes : segmentHeaderBytes
  if (bytes.length < size) return `segment header truncated (${bytes.length} of ${size} bytes)`
  const algorithm = view.getUint8(6)
  if (algorithm !== checksum.algorithm)
    return `checksum algorithm ${algorithm} is not the configured ${checksum.algorithm}`
  const chain = view.getUint8(7)
  if (chain !== (version === 1 ? ChainAlgorithm.none : ChainAlgorithm.sha256))
    return `chain algorithm ${chain} is not known in format version ${version}`
  if (view.getUint32(size - 4, true) !== checksum.compute(bytes.subarray(0, size - 4), 0))
    return "segment header checksum mismatch"
  const header = {
    registryId: new Uint8Array(bytes.subarray(8, 8 + registryIdBytes)), // a copy: must not pin the segment buffer
    salt: view.getUint32(24, true),
    firstSeq: view.getUint32(32, true) + view.getUint32(36, true) * 0x100000000,
  }
  return version === 1
    ? header
    : { ...header, chainIn: new Uint8Array(bytes.subarray(chainInAt, chainInAt + chainValueBytes)) }
}

export const sameRegistryId: (a: Uint8Array, b: Uint8Array) => boolean = sameBytes

export const registryIdHex = (id: Uint8Array): string => Encoding.encodeHex(id)
