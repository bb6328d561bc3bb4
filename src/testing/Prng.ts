/**
 * A tiny seeded PRNG owned by the test kit.
 *
 * Why not `Math.random` or Effect's `Random`: the simulated disk must draw its faults synchronously inside its own
 * bookkeeping (no Effect context), its whole state must be one serializable integer (so a failing run can print
 * it and resume from it), and it must fork into independent streams (faults vs crash tearing) so that adding a
 * crash does not shift every later fault draw. SplitMix32 (a Weyl counter through the MurmurHash3 finalizer) gives
 * all three in a dozen lines, and is identical on every JS runtime because it uses only `Math.imul` and 32-bit ops.
 */

/** A deterministic pseudo-random stream. Same seed, same calls ⇒ same numbers, on every runtime. */
export interface Prng {
  /** The whole state: `makePrng(p.state)` continues the stream exactly where `p` is. */
  readonly state: number
  /** A uniformly distributed unsigned 32-bit integer. */
  readonly nextU32: () => number
  /** A float in [0, 1). */
  readonly next: () => number
  /** An integer in [0, n), for 1 ≤ n ≤ 2^32. Returns 0 when n ≤ 1. */
  readonly int: (n: number) => number
  /** `true` with probability p (no draw when p ≤ 0 or p ≥ 1, so a 0/1 knob never perturbs the stream). */
  readonly chance: (p: number) => boolean
  /** An independent stream derived from one draw of this one. */
  readonly fork: () => Prng
}

const golden = 0x9e3779b9

/** FNV-1a over UTF-16 code units, so that string seeds ("ci-42") map to a 32-bit state on every runtime. */
export const hashSeed = (seed: number | string): number => {
  if (typeof seed === "number") {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be finite, got ${seed}`)
    // Mix the high bits in so that seeds above 2^32 stay distinct from their low 32 bits.
    return (Math.trunc(seed) ^ Math.trunc(seed / 0x1_0000_0000)) >>> 0
  }
  let h = 0x811c9dc5
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** Makes a SplitMix32 stream from a numeric or string seed. */
export const makePrng = (seed: number | string): Prng => {
  let state = hashSeed(seed)
  const nextU32 = (): number => {
    state = (state + golden) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) >>> 0
  }
  const next = (): number => nextU32() / 0x1_0000_0000
  const prng: Prng = {
    get state() {
      return state
    },
    nextU32,
    next,
    int: (n) => (n <= 1 ? 0 : Math.floor(next() * n)),
    chance: (p) => (p <= 0 ? false : p >= 1 ? true : next() < p),
    fork: () => makePrng(nextU32() ^ 0x5bd1e995),
  }
  return prng
}
