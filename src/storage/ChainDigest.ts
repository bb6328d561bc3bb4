/**
 * The digest that chains WAL records for tamper evidence (docs/architecture.md, "File format"): SHA-256, always.
 *
 * It is a service for the same reason `Checksum` is: each runtime plugs in its fastest SHA-256 (Node's one-shot
 * `crypto.hash`, Web Crypto on Deno and the edge) while the bytes on disk stay the same everywhere. Web Crypto only
 * hashes asynchronously, and a record's input holds the digest of the record before it, so the port hashes a whole
 * batch in order inside one effect rather than one record per call. The plain-JS SHA-256 here is the runtime-neutral
 * default (and what deterministic tests use); the runtime implementations must agree with it.
 */
import { Context, Effect, Option } from "effect"

/** Chain algorithm ids as written in segment and snapshot headers; 0 means "not chained". Ids are never reused. */
export const ChainAlgorithm = { none: 0, sha256: 1 } as const

/** The size of a chain value. */
export const chainValueBytes = 32

/**
 * The chain value before the first chained record of a log (32 zero bytes): where a new log's chain starts, and
 * where an older log's starts at its first record written by this format.
 */
export const chainStart: Uint8Array = new Uint8Array(chainValueBytes)

/**
 * Hashes `count` messages in order. `message(i)` is asked for only after `done(i - 1, …)` returned, so a message
 * may hold the digest before it. `done(i, digest)` receives a 32-byte digest that is valid only during the call
 * (copy what you keep); returning `false` stops the walk there.
 */
export interface ChainDigest {
  readonly algorithm: typeof ChainAlgorithm.sha256
  readonly digestInOrder: (
    count: number,
    message: (i: number) => Uint8Array,
    done: (i: number, digest: Uint8Array) => boolean | undefined,
  ) => Effect.Effect<void>
}

export const ChainDigest: Context.Tag<ChainDigest, ChainDigest> = Context.GenericTag<ChainDigest>(
  "@visutility/model-registry/ChainDigest",
)

/** A digest service over a synchronous SHA-256: the whole batch in one `Effect.sync`. */
export const fromSync = (sha256: (data: Uint8Array) => Uint8Array): ChainDigest => ({
  algorithm: ChainAlgorithm.sha256,
  digestInOrder: (count, message, done) =>
    Effect.sync(() => {
      for (let i = 0; i < count; i++) if (done(i, sha256(message(i))) === false) return
    }),
})

/** What Web Crypto offers, as a parameter: the core reads no runtime global. */
export interface SubtleDigest {
  readonly digest: (algorithm: "SHA-256", data: Uint8Array) => Promise<ArrayBuffer>
}

/** A digest service over Web Crypto (`crypto.subtle`): one promise per batch, its records hashed in order. */
export const fromWebCrypto = (subtle: SubtleDigest): ChainDigest => ({
  algorithm: ChainAlgorithm.sha256,
  digestInOrder: (count, message, done) =>
    Effect.promise(async () => {
      for (let i = 0; i < count; i++)
        if (done(i, new Uint8Array(await subtle.digest("SHA-256", message(i)))) === false) return
    }),
})

const k = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
])
const w = new Uint32Array(64)
const hState = new Uint32Array(8)
const block = new Uint8Array(64)
const blockView = new DataView(block.buffer)

const compress = (view: DataView, at: number) => {
  for (let t = 0; t < 16; t++) w[t] = view.getUint32(at + t * 4)
  for (let t = 16; t < 64; t++) {
    const a = w[t - 15]!
    const b = w[t - 2]!
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3)
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10)
    w[t] = (w[t - 16]! + s0 + w[t - 7]! + s1) | 0
  }
  let a = hState[0]!
  let b = hState[1]!
  let c = hState[2]!
  let d = hState[3]!
  let e = hState[4]!
  let f = hState[5]!
  let g = hState[6]!
  let h = hState[7]!
  for (let t = 0; t < 64; t++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + k[t]! + w[t]!) | 0
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0
    h = g
    g = f
    f = e
    e = (d + t1) | 0
    d = c
    c = b
    b = a
    a = (t1 + t2) | 0
  }
  hState[0] = hState[0]! + a
  hState[1] = hState[1]! + b
  hState[2] = hState[2]! + c
  hState[3] = hState[3]! + d
  hState[4] = hState[4]! + e
  hState[5] = hState[5]! + f
  hState[6] = hState[6]! + g
  hState[7] = hState[7]! + h
}

/** SHA-256 (FIPS 180-4) in plain JS: the runtime-neutral reference. */
export const sha256 = (data: Uint8Array): Uint8Array => {
  hState.set([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])
  const view = new DataView(data.buffer, data.byteOffset, data.length)
  const whole = data.length - (data.length % 64)
  for (let at = 0; at < whole; at += 64) compress(view, at)
  block.fill(0)
  block.set(data.subarray(whole))
  block[data.length - whole] = 0x80
  if (data.length - whole >= 56) {
    compress(blockView, 0)
    block.fill(0)
  }
  const bits = data.length * 8
  blockView.setUint32(56, Math.floor(bits / 0x100000000))
  blockView.setUint32(60, bits >>> 0)
  compress(blockView, 0)
  const out = new Uint8Array(chainValueBytes)
  const outView = new DataView(out.buffer)
  for (let i = 0; i < 8; i++) outView.setUint32(i * 4, hState[i]!)
  return out
}

/** The runtime-neutral SHA-256 chain digest. */
export const sha256Js: ChainDigest = fromSync(sha256)

/** The provided chain digest, or the runtime-neutral one when none is provided. */
export const chainDigestOrDefault: Effect.Effect<ChainDigest> = Effect.map(Effect.serviceOption(ChainDigest), (o) =>
  Option.getOrElse(o, () => sha256Js),
)
