/**
 * The snapshot file format. Its checksum covers header and state together, so a torn or rotted snapshot is
 * detected, never half-used.
 *
 * Layout (48-byte header, little-endian): magic "VTSN" | u16 version | u8 checksum algorithm | u8 0 |
 * 16 B registry id | u64 last seq | u32 state length | u32 0 | u32 0 | u32 checksum (over bytes 0..44 + state) | state.
 */
import { byteLength, concatBytes, partsOf } from "./ByteParts.ts"
import type { Checksum } from "./Checksum.ts"
import { registryIdBytes, sameRegistryId } from "./SegmentHeader.ts"
import type { Snapshot, SnapshotToWrite } from "./SnapshotStore.ts"

export const snapshotHeaderBytes = 48
export const snapshotMagic = 0x4e535456 // "VTSN" read as a little-endian u32
export const snapshotFormatVersion = 1
const two32 = 0x100000000

/**
 * The header a snapshot's state follows in its file. Apart from the state, so that a writer can write the two in
 * sequence: copying a large state behind its header cost as much as encoding it (page faults on a fresh buffer
 * the size of the snapshot; bench/results/issue-15-server.md).
 */
export const snapshotHeader = (snapshot: SnapshotToWrite, registryId: Uint8Array, checksum: Checksum): Uint8Array => {
  const parts = partsOf(snapshot.state)
  const header = new Uint8Array(snapshotHeaderBytes)
  const view = new DataView(header.buffer)
  view.setUint32(0, snapshotMagic, true)
  view.setUint16(4, snapshotFormatVersion, true)
  view.setUint8(6, checksum.algorithm)
  header.set(registryId, 8)
  view.setUint32(24, snapshot.lastSeq % two32, true)
  view.setUint32(28, Math.floor(snapshot.lastSeq / two32), true)
  view.setUint32(32, byteLength(parts), true)
  let sum = checksum.compute(header.subarray(0, 44), 0)
  for (const part of parts) sum = checksum.compute(part, sum)
  view.setUint32(44, sum, true)
  return header
}

/** The whole file: header and state in one buffer. */
export const encodeSnapshot = (snapshot: SnapshotToWrite, registryId: Uint8Array, checksum: Checksum): Uint8Array =>
  concatBytes([snapshotHeader(snapshot, registryId, checksum), ...partsOf(snapshot.state)])

/** Decodes and checks a snapshot file; returns the reason it is unusable as a string. */
export const decodeSnapshot = (bytes: Uint8Array, registryId: Uint8Array, checksum: Checksum): Snapshot | string => {
  if (bytes.length < snapshotHeaderBytes) return `snapshot truncated (${bytes.length} bytes)`
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  if (view.getUint32(0, true) !== snapshotMagic) return "wrong magic: not a snapshot"
  const version = view.getUint16(4, true)
  if (version !== snapshotFormatVersion) return `unsupported snapshot format version ${version}`
  if (view.getUint8(6) !== checksum.algorithm) return `checksum algorithm ${view.getUint8(6)} is not configured`
  const length = view.getUint32(32, true)
  if (snapshotHeaderBytes + length !== bytes.length)
    return `snapshot length mismatch (header says ${length}, file holds ${bytes.length - snapshotHeaderBytes})`
  const sum = checksum.compute(bytes.subarray(snapshotHeaderBytes), checksum.compute(bytes.subarray(0, 44), 0))
  if (view.getUint32(44, true) !== sum) return "snapshot checksum mismatch"
  if (!sameRegistryId(bytes.subarray(8, 8 + registryIdBytes), registryId)) return "snapshot of a foreign registry"
  return {
    lastSeq: view.getUint32(24, true) + view.getUint32(28, true) * two32,
    state: new Uint8Array(bytes.buffer, bytes.byteOffset + snapshotHeaderBytes, length), // a plain view, no copy
  }
}
