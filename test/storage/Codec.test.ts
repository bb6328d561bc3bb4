/**
 * The pure codecs: the CRC-32 matches the standard check value (so zlib.crc32 and the table agree by definition),
 * record framing round-trips and is rejected when damaged, and headers refuse foreign or damaged files.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { crc32, crc32Table } from "../../src/storage/Checksum.ts"
import { encodeBatch, findValidRecordAfter, scanRecords, validatedRecords } from "../../src/storage/RecordCodec.ts"
import { decodeSegmentHeader, encodeSegmentHeader } from "../../src/storage/SegmentHeader.ts"
import { decodeSnapshot, encodeSnapshot } from "../../src/storage/SnapshotFormat.ts"
import { plain, records } from "./harness.ts"

const ascii = (s: string) => new TextEncoder().encode(s)
const options = { salt: 0x1234abcd, checksum: crc32Table, recordBytesMax: 1024 }

describe("codecs", () => {
  it("CRC-32 (IEEE) gives the standard check value and chains like zlib.crc32", () => {
    expect(crc32(ascii("123456789"), 0)).toBe(0xcbf43926)
    expect(crc32(new Uint8Array(), 0)).toBe(0)
    fc.assert(
      fc.property(fc.uint8Array(), fc.uint8Array(), (a, b) => {
        expect(crc32(b, crc32(a, 0))).toBe(crc32(new Uint8Array([...a, ...b]), 0))
      }),
    )
  })

  it("round-trips random batches and reads back exactly the range asked for", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ type: fc.integer({ min: 1, max: 255 }), payload: fc.uint8Array({ maxLength: 100 }) }), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.integer({ min: 1, max: 1000 }),
        fc.nat(31),
        fc.nat(31),
        (raw, firstSeq, skip, keep) => {
          const batch = raw.map((r, i) => ({ ...r, seq: firstSeq + i }))
          const bytes = encodeBatch(batch, firstSeq, options.salt, crc32Table, options.recordBytesMax)
          const result = scanRecords(bytes, 0, firstSeq, options, () => {})
          expect(result).toEqual({ end: bytes.length, lastSeq: firstSeq + batch.length - 1 })
          const fromSeq = firstSeq + skip
          const toSeq = fromSeq + keep
          const back = validatedRecords(bytes, 0, firstSeq, fromSeq, toSeq)
          const wanted = batch.filter((r) => r.seq >= fromSeq && r.seq <= toSeq)
          expect(plain([...back])).toEqual(plain(wanted))
          // Each iteration walks the bytes anew.
          expect(plain([...back])).toEqual(plain(wanted))
        },
      ),
    )
  })

  it("rejects a record read with another segment's salt", () => {
    const bytes = encodeBatch(records(1, 2), 1, 1, crc32Table, 1024)
    expect(scanRecords(bytes, 0, 1, { ...options, salt: 2 }, () => {})).toEqual({
      end: 0,
      lastSeq: 0,
      bad: { offset: 0, reason: "checksum mismatch", zeros: false, intact: false },
    })
  })

  it("reports a valid record with the wrong seq as intact (damage a crash cannot cause)", () => {
    const bytes = encodeBatch(records(5, 1), 5, options.salt, crc32Table, 1024)
    expect(scanRecords(bytes, 0, 4, options, () => {}).bad).toEqual({
      offset: 0,
      reason: "expected seq 4, found 5",
      zeros: false,
      intact: true,
    })
  })

  it("finds a valid higher record after damage without trusting lengths", () => {
    const bytes = encodeBatch(records(1, 3), 1, options.salt, crc32Table, 1024)
    bytes[0] = 0xff // record 1's length
    expect(findValidRecordAfter(bytes, 1, 0, options)).toBe(24)
    expect(findValidRecordAfter(bytes, 1, 3, options)).toBeUndefined()
  })

  it("segment and snapshot headers round-trip and refuse damage and foreign ids", () => {
    const registryId = new Uint8Array(16).fill(7)
    const header = encodeSegmentHeader({ registryId, salt: 99, firstSeq: 2 ** 40 }, crc32Table)
    expect(decodeSegmentHeader(header, crc32Table)).toEqual({ registryId, salt: 99, firstSeq: 2 ** 40 })
    expect(decodeSegmentHeader(header.subarray(0, 63), crc32Table)).toBe("segment header truncated (63 of 64 bytes)")
    const otherAlgorithm = { algorithm: 9 as never, compute: crc32 }
    expect(decodeSegmentHeader(header, otherAlgorithm)).toBe("checksum algorithm 1 is not the configured 9")

    const snapshot = encodeSnapshot({ lastSeq: 12, state: ascii("state") }, registryId, crc32Table)
    const back = decodeSnapshot(snapshot, registryId, crc32Table)
    expect(typeof back === "object" && { lastSeq: back.lastSeq, state: Array.from(back.state) }).toEqual({
      lastSeq: 12,
      state: Array.from(ascii("state")),
    })
    expect(decodeSnapshot(snapshot, new Uint8Array(16), crc32Table)).toBe("snapshot of a foreign registry")
    expect(decodeSnapshot(snapshot.subarray(0, snapshot.length - 1), registryId, crc32Table)).toBe(
      "snapshot length mismatch (header says 5, file holds 4)",
    )
  })
})
