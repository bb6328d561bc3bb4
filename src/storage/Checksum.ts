/**
 * The checksum that guards every WAL record, segment header and snapshot.
 *
 * It is a service so each runtime can plug in its fastest implementation of the SAME algorithm (Node's
 * `zlib.crc32` runs ~3× faster than a JS table), while the data directory stays portable: the algorithm id is
 * written into every header, so a file never needs guessing. The table-driven CRC-32 here is the runtime-neutral
 * default and the reference the fast implementations must agree with.
 */
import { Context, Effect, Option } from "effect"

/** Algorithm ids as written in file headers. Ids are never reused. */
export const ChecksumAlgorithm = { crc32Ieee: 1 } as const
export type ChecksumAlgorithm = (typeof ChecksumAlgorithm)[keyof typeof ChecksumAlgorithm]

/**
 * A checksum function. `compute(data, previous)` continues a running checksum (`previous` = 0 starts one), with
 * the same chaining contract as `zlib.crc32(data, value)`. The result is an unsigned 32-bit integer.
 */
export interface Checksum {
  readonly algorithm: ChecksumAlgorithm
  readonly compute: (data: Uint8Array, previous: number) => number
}

export const Checksum: Context.Tag<Checksum, Checksum> = Context.GenericTag<Checksum>(
  "@visutility/model-registry/Checksum",
)

const table = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

/** CRC-32 (IEEE 802.3, the zlib/PNG polynomial), table-driven, in plain JS. */
export const crc32 = (data: Uint8Array, previous: number): number => {
  let c = ~previous
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}

/** The runtime-neutral CRC-32 (IEEE) service. */
export const crc32Table: Checksum = { algorithm: ChecksumAlgorithm.crc32Ieee, compute: crc32 }

/** Builds a CRC-32 (IEEE) service from a faster native function with zlib's chaining contract. */
export const makeCrc32 = (compute: (data: Uint8Array, previous: number) => number): Checksum => ({
  algorithm: ChecksumAlgorithm.crc32Ieee,
  compute,
})

/** The provided checksum, or the runtime-neutral CRC-32 when none is provided. */
export const checksumOrDefault: Effect.Effect<Checksum> = Effect.map(Effect.serviceOption(Checksum), (o) =>
  Option.getOrElse(o, () => crc32Table),
)
