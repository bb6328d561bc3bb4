/** The Node composition's fast CRC (zlib.crc32) must be the same function as the runtime-neutral table. */
import * as zlib from "node:zlib"
import { expect, it } from "@effect/vitest"
import fc from "fast-check"
import { crc32 } from "../../src/storage/Checksum.ts"

// zlib.crc32 exists from Node 20.15; the Node composition relies on it.
const zlibCrc32 = (zlib as unknown as { crc32: (data: Uint8Array, value: number) => number }).crc32

it("zlib.crc32 agrees with the table-driven CRC-32, chained or not", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(), (data, seed) => {
      expect(zlibCrc32(data, seed >>> 0)).toBe(crc32(data, seed >>> 0))
    }),
  )
})
