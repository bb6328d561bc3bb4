/**
 * The header at the start of every segment file. It names the format version and checksum algorithm (so a file is
 * never guessed at), the registry it belongs to (so a segment copied from another data directory is refused), the
 * first seq it holds (so a missing segment is detected), and a random salt that seeds every record checksum in the
 * segment (so bytes from any other segment can never pass as records of this one).
 *
 * Layout (64 bytes, little-endian): magic "VTWL" | u16 version | u8 checksum algorithm | u8 0 |
 * 16 B registry id | u32 salt | u32 0 | u64 first seq | 16 B zero | u32 header checksum (over bytes 0..60).
 */
import type { Checksum } from "./Checksum.ts"

export const segmentHeaderBytes = 64
export const segmentMagic = 0x4c575456 // "VTWL" read as a little-endian u32
export const segmentFormatVersion = 1
export const registryIdBytes = 16

export interface SegmentHeader {
  readonly registryId: Uint8Array
  readonly salt: number
  readonly firstSeq: number
}

export const encodeSegmentHeader = (header: SegmentHeader, checksum: Checksum): Uint8Array => {
  const bytes = new Uint8Array(segmentHeaderBytes)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, segmentMagic, true)
  view.setUint16(4, segmentFormatVersion, true)
  view.setUint8(6, checksum.algorithm)
  bytes.set(header.registryId, 8)
  view.setUint32(24, header.salt >>> 0, true)
  view.setUint32(32, header.firstSeq % 0x100000000, true)
  view.setUint32(36, Math.floor(header.firstSeq / 0x100000000), true)
  view.setUint32(60, checksum.compute(bytes.subarray(0, 60), 0), true)
  return bytes
}

/** Decodes and checks a header; returns the reason it is unusable as a string. */
export const decodeSegmentHeader = (bytes: Uint8Array, checksum: Checksum): SegmentHeader | string => {
  if (bytes.length < segmentHeaderBytes)
    return `segment header truncated (${bytes.length} of ${segmentHeaderBytes} bytes)`
  const view = new DataView(bytes.buffer, bytes.byteOffset, segmentHeaderBytes)
  if (view.getUint32(0, true) !== segmentMagic) return "wrong magic: not a WAL segment"
  const version = view.getUint16(4, true)
  if (version !== segmentFormatVersion) return `unsupported format version ${version}`
  const algorithm = view.getUint8(6)
  if (algorithm !== checksum.algorithm)
    return `checksum algorithm ${algorithm} is not the configured ${checksum.algorithm}`
  if (view.getUint32(60, true) !== checksum.compute(bytes.subarray(0, 60), 0)) return "segment header checksum mismatch"
  return {
    registryId: new Uint8Array(bytes.subarray(8, 8 + registryIdBytes)), // a copy: must not pin the segment buffer
    salt: view.getUint32(24, true),
    firstSeq: view.getUint32(32, true) + view.getUint32(36, true) * 0x100000000,
  }
}

export const sameRegistryId = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export const registryIdHex = (id: Uint8Array): string => Array.from(id, (b) => b.toString(16).padStart(2, "0")).join("")
