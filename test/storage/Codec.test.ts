/**
 * The pure codecs: the CRC-32 matches the standard check value (so zlib.crc32 and the table agree by definition),
 * record framing round-trips and is rejected when damaged, the hash chain finds a record rewritten with a valid
 * checksum at its seq, and headers refuse foreign or damaged files.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { chainStart, sha256, sha256Js } from "../../src/storage/ChainDigest.ts"
import { crc32, crc32Table } from "../../src/storage/Checksum.ts"
import {
  chainedRecordOffset,
  encodeBatch,
  findValidRecordAfter,
  recordHeaderBytes,
  scanRecords,
  sealBatch,
  storedChainValue,
  validatedRecords,
  walkChain,
} from "../../src/storage/RecordCodec.ts"
import { decodeSegmentHeader, encodeSegmentHeader } from "../../src/storage/SegmentHeader.ts"
import { decodeSnapshot, encodeSnapshot } from "../../src/storage/SnapshotFormat.ts"
import type { WalRecord } from "../../src/storage/Wal.ts"
import { plain, records } from "./harness.ts"

const ascii = (s: string) => new TextEncoder().encode(s)
const options = { chained: true, salt: 0x1234abcd, checksum: crc32Table, recordBytesMax: 1024 }

/** A batch as an append writes it, and the chain value after its last record. */
const encode = (batch: ReadonlyArray<WalRecord>, firstSeq: number, salt = options.salt, chainIn = chainStart) => {
  const bytes = encodeBatch(batch, firstSeq, options.recordBytesMax)
  const head = Effect.runSync(sealBatch(bytes, batch.length, chainIn, salt, crc32Table, sha256Js))
  return { bytes, head }
}

const hexOf = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")

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
          const { bytes } = encode(batch, firstSeq)
          const result = scanRecords(bytes, 0, firstSeq, options, () => {})
          expect(result).toMatchObject({ end: bytes.length, lastSeq: firstSeq + batch.length - 1 })
          expect(result.bad).toBeUndefined()
          const fromSeq = firstSeq + skip
          const toSeq = fromSeq + keep
          const back = validatedRecords(bytes, 0, firstSeq, fromSeq, toSeq, true)
          const wanted = batch.filter((r) => r.seq >= fromSeq && r.seq <= toSeq)
          expect(plain([...back])).toEqual(plain(wanted))
          // Each iteration walks the bytes anew.
          expect(plain([...back])).toEqual(plain(wanted))
        },
      ),
    )
  })

  it("rejects a record read with another segment's salt", () => {
    const { bytes } = encode(records(1, 2), 1, 1)
    expect(scanRecords(bytes, 0, 1, { ...options, salt: 2 }, () => {})).toEqual({
      end: 0,
      lastSeq: 0,
      bad: { offset: 0, reason: "checksum mismatch", zeros: false, intact: false },
    })
  })

  it("reports a valid record with the wrong seq as intact (damage a crash cannot cause)", () => {
    const { bytes } = encode(records(5, 1), 5)
    expect(scanRecords(bytes, 0, 4, options, () => {}).bad).toEqual({
      offset: 0,
      reason: "expected seq 4, found 5",
      zeros: false,
      intact: true,
    })
  })

  it("finds a valid higher record after damage without trusting lengths", () => {
    const { bytes } = encode(records(1, 3), 1)
    bytes[0] = 0xff // record 1's length
    expect(findValidRecordAfter(bytes, 1, 0, options)).toBe(recordHeaderBytes + records(1, 1)[0]!.payload.length)
    expect(findValidRecordAfter(bytes, 1, 3, options)).toBeUndefined()
  })

  it("segment and snapshot headers round-trip and refuse damage and foreign ids", () => {
    const registryId = new Uint8Array(16).fill(7)
    const chainIn = sha256(ascii("before"))
    const header = encodeSegmentHeader({ registryId, salt: 99, firstSeq: 2 ** 40, chainIn }, crc32Table)
    expect(decodeSegmentHeader(header, crc32Table)).toEqual({ registryId, salt: 99, firstSeq: 2 ** 40, chainIn })
    expect(decodeSegmentHeader(header.subarray(0, 63), crc32Table)).toBe("segment header truncated (63 of 64 bytes)")
    expect(decodeSegmentHeader(header.subarray(0, 95), crc32Table)).toBe("segment header truncated (95 of 96 bytes)")
    const otherAlgorithm = { algorithm: 9 as never, compute: crc32 }
    expect(decodeSegmentHeader(header, otherAlgorithm)).toBe("checksum algorithm 1 is not the configured 9")

    const snapshot = encodeSnapshot({ lastSeq: 12, state: ascii("state") }, registryId, crc32Table, chainIn)
    const back = decodeSnapshot(snapshot, registryId, crc32Table)
    expect(typeof back === "object" && { ...back, state: Array.from(back.state) }).toEqual({
      lastSeq: 12,
      state: Array.from(ascii("state")),
      chainHead: chainIn,
    })
    const unchained = decodeSnapshot(
      encodeSnapshot({ lastSeq: 3, state: ascii("s") }, registryId, crc32Table),
      registryId,
      crc32Table,
    )
    expect(typeof unchained === "object" && "chainHead" in unchained).toBe(false)
    expect(decodeSnapshot(snapshot, new Uint8Array(16), crc32Table)).toBe("snapshot of a foreign registry")
    expect(decodeSnapshot(snapshot.subarray(0, snapshot.length - 1), registryId, crc32Table)).toBe(
      "snapshot length mismatch (header says 5, file holds 4)",
    )
  })

  it("SHA-256 gives the FIPS 180-4 test vectors", () => {
    expect(hexOf(sha256(ascii("abc")))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    expect(hexOf(sha256(new Uint8Array()))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    expect(hexOf(sha256(ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    )
  })

  it("chains each record to the one before: SHA-256(previous value | seq | type | payload), across batches", () => {
    const batch = records(1, 4)
    const whole = encode(batch, 1)
    const first = encode(batch.slice(0, 2), 1)
    const rest = encode(batch.slice(2), 3, options.salt, first.head)
    expect(hexOf(rest.head)).toBe(hexOf(whole.head))
    // The definition, spelled out for record 1.
    const r = batch[0]!
    const message = new Uint8Array(32 + 9 + r.payload.length)
    message.set(chainStart)
    new DataView(message.buffer).setUint32(32, 1, true)
    message[40] = r.type
    message.set(r.payload, 41)
    expect(hexOf(storedChainValue(whole.bytes, 0))).toBe(hexOf(sha256(message)))
    expect(Effect.runSync(walkChain(whole.bytes, 0, 1, chainStart, sha256Js))).toEqual({ head: whole.head })
  })

  it("finds any payload byte rewritten with a recomputed checksum at exactly that record's seq", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            type: fc.integer({ min: 1, max: 255 }),
            payload: fc.uint8Array({ minLength: 1, maxLength: 60 }),
          }),
          {
            minLength: 1,
            maxLength: 20,
          },
        ),
        fc.integer({ min: 1, max: 1000 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (raw, firstSeq, pick, at, xor) => {
          const batch = raw.map((r, i) => ({ ...r, seq: firstSeq + i }))
          const { bytes } = encode(batch, firstSeq)
          const index = pick % batch.length
          const offset = chainedRecordOffset(bytes, 0, firstSeq, firstSeq + index)
          const length = batch[index]!.payload.length
          const end = offset + recordHeaderBytes + length
          bytes[offset + recordHeaderBytes + (at % length)]! ^= xor
          new DataView(bytes.buffer).setUint32(offset + 4, crc32(bytes.subarray(offset + 8, end), options.salt), true)
          // Every checksum still passes: only the chain tells.
          expect(scanRecords(bytes, 0, firstSeq, options, () => {}).bad).toBeUndefined()
          expect(Effect.runSync(walkChain(bytes, 0, firstSeq, chainStart, sha256Js))).toEqual({
            broken: { seq: firstSeq + index, offset },
          })
        },
      ),
    )
  })
})
