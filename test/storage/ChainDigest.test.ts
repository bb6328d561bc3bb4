/**
 * The chain digest's implementations agree: the plain-JS SHA-256 (the runtime-neutral default) and the Web Crypto
 * adapter (Deno and edge runtimes; Web Crypto is a global in Node and Deno alike) hash every batch to the same
 * values, in order, and stop where `done` says.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { type ChainDigest, fromWebCrypto, sha256Js } from "../../src/storage/ChainDigest.ts"

const digestsOf = (digest: ChainDigest, messages: ReadonlyArray<Uint8Array>, stopAfter = Number.POSITIVE_INFINITY) =>
  Effect.gen(function* () {
    const out: Array<Array<number>> = []
    yield* digest.digestInOrder(
      messages.length,
      (i) => messages[i]!,
      (i, value) => {
        out.push(Array.from(value))
        return i + 1 < stopAfter ? undefined : false
      },
    )
    return out
  })

describe("ChainDigest", () => {
  it.effect("Web Crypto and the plain-JS SHA-256 agree on random batches, and both stop when told", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
          fc.nat(12),
          async (messages, stopAfter) => {
            const web = fromWebCrypto(globalThis.crypto.subtle as never)
            const expected = await Effect.runPromise(digestsOf(sha256Js, messages, stopAfter))
            expect(await Effect.runPromise(digestsOf(web, messages, stopAfter))).toEqual(expected)
            expect(expected.length).toBe(Math.min(messages.length, Math.max(stopAfter, 1)))
          },
        ),
        { numRuns: 50 },
      ),
    ),
  )
})
