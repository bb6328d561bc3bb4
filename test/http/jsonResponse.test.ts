import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { utf8Length } from "../../src/http/jsonResponse.ts"

describe("utf8Length", () => {
  it("is the length of the bytes TextEncoder writes, for any string, lone surrogates included", () => {
    const encoder = new TextEncoder()
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        expect(utf8Length(text)).toBe(encoder.encode(text).length)
      }),
      { numRuns: 2000 },
    )
    for (const text of ["", "a", "é", "€", "😀", "\ud800", "\udc00", "\ud800a", "a\udbff"])
      expect(utf8Length(text)).toBe(encoder.encode(text).length)
  })
})
