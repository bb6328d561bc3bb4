/**
 * The snapshot file format. Its checksum covers header and state together, so a torn or rotted snapshot is
 * detected, never half-used. Format 2 carries the log's chain value at the snapshot's seq, so that once compaction
 * deleted the records before it, `verify --chain` still checks the log that remains against an anchor.
 *
 * Layout, little-endian. Format 2 (80-byte header, written now): magic "VTSN" | u16 version 2 |
 * u8 checksum algorithm | u8 chain algorithm (0: the record at the snapshot's seq is not chained, 1: SHA-256) |
 * 16 B registry id | u64 last seq | u32 state length | u32 0 | u32 0 | 32 B chain value after the last seq (zero when
 * unchained) | u32 checksum (over bytes 0..76 + state) | state.
 * Format 1 (48-byte header, earlier releases): the same up to the two zero words, byte 7 zero, then the checksum
 * (over bytes 0..44 + state) | state.
 */
import { byteLength, concatBytes, partsOf } from "./ByteParts.ts"
import { ChainAlgorithm, chainValueBytes } from "./ChainDigest.ts"
import type { Checksum } from "./Checksum.ts"
import { registryIdBytes, sameRegistryId } from "./SegmentHeader.ts"
import type { Snapshot, SnapshotToWrite } from "./SnapshotStore.ts"

export const snapshotHeaderBytes = 80
const unchainedSnapshotHeaderBytes = 48
export const snapshotMagic = 0x4e535456 // "VTSN" read as a little-endian u32
export const snapshotFormatVersion = 2
const chainHeadAt = 44
const two32 = 0x100000000

/**
 * The header a snapshot's state follows in its file, with the log's chain value after `snapshot.lastSeq` when that
 * record is chained. Apart from the state, so that a writer can write the two in sequence: copying a large state
 * behind its header cost as much as encoding it (page faults on a fresh buffer the size of the snapshot;
 * bench/results/issue-15-server.md).
 */
export const snapshotHeader = (
  snapshot: SnapshotToWrite,
  registryId: Uint8Array,
  checksum: Checksum,
  chainHead?: Uint8Array,
): Uint8Array => {
  const parts = partsOf(snapshot.state)
  const header = new Uint8Array(snapshotHeaderBytes)
  const view = new DataView(header.buffer)
  view.setUint32(0, snapshotMagic, true)
  view.setUint16(4, snapshotFormatVersion, true)
  view.setUint8(6, checksum.algorithm)
  view.setUint8(7, chainHead === undefined ? ChainAlgorithm.none : ChainAlgorithm.sha256)
  header.set(registryId, 8)
  view.setUint32(24, snapshot.lastSeq % two32, true)
  view.setUint32(28, Math.floor(snapshot.lastSeq / two32), true)
  view.setUint32(32, byteLength(parts), true)
  if (chainHead !== undefined) header.set(chainHead, chainHeadAt)
  let sum = checksum.compute(header.subarray(0, snapshotHeaderBytes - 4), 0)
  for (const part of parts) sum = checksum.compute(part, sum)
  view.setUint32(snapshotHeaderBytes - 4, sum, true)
  return header
}

/** The whole file: header and state in one buffer. */
export const encodeSnapshot = (
  snapshot: SnapshotToWrite,
  registryId: Uint8Array,
  checksum: Checksum,
  chainHead?: Uint8Array,
): Uint8Array => concatBytes([snapshotHeader(snapshot, registryId, checksum, chainHead), ...partsOf(snapshot.state)])

/** Decodes and checks a snapshot file of either format; returns the reason it is unusable as a string. */
export const decodeSnapshot = (bytes: Uint8Array, registryId: Uint8Array, checksum: Checksum): Snapshot | string => {
  if (bytes.length < unchainedSnapshotHeaderBytes) return `snapshot truncated (${bytes.length} bytes)`
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  if (view.getUint32(0, true) !== snapshotMagic) return "wrong magic: not a snapshot"
  const version = view.getUint16(4, true)
  if (version !== 1 && version !== snapshotFormatVersion) return `unsupported snapshot format version ${version}`
  const headerBytes = version === 1 ? unchainedSnapshotHeaderBytes : snapshotHeaderBytes
  if (bytes.length < headerBytes) return `snapshot truncated (${bytes.length} bytes)`
  if (view.getUint8(6) !== checksum.algorithm) return `checksum algorithm ${view.getUint8(6)} is not configured`
  const chain = view.getUint8(7)
  if (chain !== ChainAlgorithm.none && (version === 1 || chain !== ChainAlgorithm.sha256))
    return `chain algorithm ${chain} is not known in snapshot format version ${version}`
  const length = view.getUint32(32, true)
  if (headerBytes + length !== bytes.length)
    return `snapshot length mismatch (header says ${length}, file holds ${bytes.length - headerBytes})`
  const sum = checksum.compute(bytes.subarray(headerBytes), checksum.compute(bytes.subarray(0, headerBytes - 4), 0))
  if (view.getUint32(headerBytes - 4, true) !== sum) return "snapshot checksum mismatch"
  if (!sameRegistryId(bytes.subarray(8, 8 + registryIdBytes), registryId)) return "snapshot of a foreign registry"
  const snapshot = {
    lastSeq: view.getUint32(24, true) + view.getUint32(28, true) * two32,
    state: new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, length), // a plain view, no copy
  }
  return chain === ChainAlgorithm.none
    ? snapshot
    : { ...snapshot, chainHead: new Uint8Array(bytes.subarray(chainHeadAt, chainHeadAt + chainValueBytes)) }
}
