/** Node's chain digest (`crypto.hash`, or `createHash` where it is missing) agrees with the plain-JS SHA-256. */
import { createHash } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { layerChainDigest } from "../../src/node.ts"
import { ChainDigest, sha256 } from "../../src/storage/ChainDigest.ts"

describe("Node's ChainDigest", () => {
  it.effect("hashes like the plain-JS SHA-256 and like createHash", () =>
    Effect.gen(function* () {
      const digest = yield* ChainDigest
      fc.assert(
        fc.property(fc.array(fc.uint8Array({ maxLength: 2000 }), { maxLength: 8 }), (messages) => {
          const got: Array<string> = []
          Effect.runSync(
            digest.digestInOrder(
              messages.length,
              (i) => messages[i]!,
              (_, value) => {
                got.push(Buffer.from(value).toString("hex"))
                return undefined
              },
            ),
          )
          expect(got).toEqual(messages.map((m) => Buffer.from(sha256(m)).toString("hex")))
          expect(got).toEqual(messages.map((m) => createHash("sha256").update(m).digest("hex")))
        }),
      )
    }).pipe(Effect.provide(layerChainDigest)),
  )
})
