/**
 * Where version ids come from. An injected service, so a simulation with a seeded `Random` produces the same
 * ids on every run; the Node composition swaps in `crypto.randomUUID` for speed.
 */
import { Context, Effect, Layer, Random } from "effect"

export interface IdGenerator {
  /** A fresh RFC 4122 version-4 UUID. */
  readonly next: Effect.Effect<string>
}
export const IdGenerator = Context.GenericTag<IdGenerator>("@visutility/model-registry/IdGenerator")

const hex = (value: number, digits: number) => value.toString(16).padStart(digits, "0")

/** A version-4 UUID from four 32-bit draws of Effect's `Random`: deterministic under a seeded Random. */
export const uuidFromRandom: Effect.Effect<string> = Effect.gen(function* () {
  const words: Array<number> = []
  for (let i = 0; i < 4; i++) words.push(yield* Random.nextIntBetween(0, 0x1_0000_0000))
  const [a, b, c, d] = words as [number, number, number, number]
  const version = ((b & 0x0fff) | 0x4000) >>> 0
  const variant = (((c >>> 16) & 0x3fff) | 0x8000) >>> 0
  return `${hex(a, 8)}-${hex(b >>> 16, 4)}-${hex(version, 4)}-${hex(variant, 4)}-${hex(c & 0xffff, 4)}${hex(d, 8)}`
})

export const layerRandom: Layer.Layer<IdGenerator> = Layer.succeed(IdGenerator, { next: uuidFromRandom })

export const layerFrom = (next: () => string): Layer.Layer<IdGenerator> =>
  Layer.succeed(IdGenerator, { next: Effect.sync(next) })
