/**
 * Where version ids come from. An injected service so that a simulation with a seeded `Random` produces the
 * same ids on every run, while the Node composition uses `crypto.randomUUID`. `next` is a plain function, not
 * an Effect: it runs once per register, and an Effect per id costs more than the rest of the id (bench/).
 */
import { Context, Effect, Layer, Random } from "effect"

export interface IdGenerator {
  /** A fresh RFC 4122 version-4 UUID. */
  readonly next: () => string
}
export const IdGenerator: Context.Tag<IdGenerator, IdGenerator> = Context.GenericTag<IdGenerator>(
  "@visutility/model-registry/IdGenerator",
)

const hex = (value: number, digits: number) => (value >>> 0).toString(16).padStart(digits, "0")

/**
 * xorshift128 seeded with four draws of Effect's `Random` when the layer is built, so ids are reproducible under a
 * seeded Random and cost no Effect per id. Hand-written: ids need a cheap deterministic stream, not crypto.
 */
export const fromSeed = (seed: readonly [number, number, number, number]): IdGenerator => {
  let [x, y, z, w] = seed.map((word) => word >>> 0) as [number, number, number, number]
  if ((x | y | z | w) === 0) w = 1
  const word = () => {
    const t = x ^ (x << 11)
    x = y
    y = z
    z = w
    w = (w ^ (w >>> 19) ^ t ^ (t >>> 8)) >>> 0
    return w
  }
  return {
    next: () => {
      const a = word()
      const b = word()
      const c = word()
      const d = word()
      const version = (b & 0x0fff) | 0x4000
      const variant = ((c >>> 16) & 0x3fff) | 0x8000
      return `${hex(a, 8)}-${hex(b >>> 16, 4)}-${hex(version, 4)}-${hex(variant, 4)}-${hex(c & 0xffff, 4)}${hex(d, 8)}`
    },
  }
}

const draw = Random.nextIntBetween(0, 0x1_0000_0000)

/** Ids from a generator seeded by Effect's `Random` (deterministic when Random is seeded). */
export const layerRandom: Layer.Layer<IdGenerator> = Layer.effect(
  IdGenerator,
  Effect.map(Effect.all([draw, draw, draw, draw]), fromSeed),
)

export const layerFrom = (next: () => string): Layer.Layer<IdGenerator> => Layer.succeed(IdGenerator, { next })
