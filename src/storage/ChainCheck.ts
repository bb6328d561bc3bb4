/**
 * The hash chain's check, for `verify --chain`: recomputes the chain value of every chained record in the data
 * directory and compares it with the stored one, so a record whose bytes were rewritten (its checksum recomputed
 * to match) is found at its seq. Open does not do this (it trusts each record's checksum and continues the chain
 * from the last stored value: a SHA-256 per record would double the cost of opening), so this is the only place
 * the chain is recomputed. Read-only: it lists and reads the directory and changes nothing.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect, Encoding } from "effect"
import { type StorageFailed, WalCorrupt } from "../domain/errors.ts"
import { sameBytes } from "./ByteParts.ts"
import { chainDigestOrDefault, chainStart } from "./ChainDigest.ts"
import { checksumOrDefault } from "./Checksum.ts"
import { parseSegmentFileName } from "./FileNames.ts"
import { chainedRecordOffset, scanRecords, storedChainValue, walkChain } from "./RecordCodec.ts"
import { decodeSegmentHeader, recordsStart } from "./SegmentHeader.ts"
import { io } from "./StorageError.ts"

/** What the chain check found. */
export interface ChainReport {
  /** Records `firstSeq..unchainedThrough` were written by an earlier release and carry no chain value. */
  readonly unchainedThrough: number | undefined
  /** The first chained record's seq, when there is one. */
  readonly chainedFrom: number | undefined
  /** The last record checked. */
  readonly lastSeq: number
  /** The chain value after `lastSeq` (hex), when it is chained. */
  readonly head: string | undefined
  /** The snapshot whose recorded chain value was compared with the log's, when one was. */
  readonly anchoredAt: number | undefined
}

/** A snapshot's record of the chain: the value after `lastSeq`. */
export interface ChainAnchor {
  readonly lastSeq: number
  readonly chainHead: Uint8Array
}

const broken = (file: string, offset: number, seq: number, reason: string) =>
  new WalCorrupt({ file, offset, seq, reason: `hash chain broken at seq ${seq}: ${reason}` })

/**
 * Checks the chain over every segment in `directory`, oldest first, up to the first record that fails its
 * checksum (a torn tail: the open reports that one). Each chained segment starts from the chain value its header
 * records, which must equal the value after the previous segment's last record (or the chain's start value after an
 * unchained segment); `anchor`, the snapshot's record, must equal the log's value at its seq when the log holds it.
 * Fails with `WalCorrupt` naming the first seq whose stored chain value its bytes do not produce.
 */
export const checkChain = (
  directory: string,
  recordBytesMax: number,
  anchor: ChainAnchor | undefined,
): Effect.Effect<ChainReport, StorageFailed | WalCorrupt, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const checksum = yield* checksumOrDefault
    const digest = yield* chainDigestOrDefault
    const names = (yield* io("list", directory, fs.readDirectory(directory)))
      .flatMap((name) => {
        const firstSeq = parseSegmentFileName(name)
        return firstSeq === undefined ? [] : [{ name, firstSeq }]
      })
      .sort((a, b) => a.firstSeq - b.firstSeq)
    let unchainedThrough: number | undefined
    let chainedFrom: number | undefined
    let anchoredAt: number | undefined
    let lastSeq = 0
    // The chain value after `lastSeq`; undefined while the records so far are unchained (or there are none).
    let head: Uint8Array | undefined
    const checkAnchor = (file: string, offset: number, seq: number, value: Uint8Array) => {
      if (anchor === undefined || anchor.lastSeq !== seq) return Effect.void
      anchoredAt = seq
      return sameBytes(anchor.chainHead, value)
        ? Effect.void
        : Effect.fail(broken(file, offset, seq, `the snapshot at seq ${seq} records another chain value`))
    }
    for (let i = 0; i < names.length; i++) {
      const file = path.join(directory, names[i]!.name)
      const bytes = yield* io("read", file, fs.readFile(file))
      const header = decodeSegmentHeader(bytes, checksum)
      if (typeof header === "string")
        return yield* new WalCorrupt({ file, offset: 0, seq: names[i]!.firstSeq, reason: header })
      const chained = header.chainIn !== undefined
      const options = { chained, salt: header.salt, checksum, recordBytesMax }
      const start = recordsStart(header)
      const scan = scanRecords(bytes, start, header.firstSeq, options, () => {})
      const records = bytes.subarray(0, scan.end)
      if (header.chainIn === undefined) {
        if (head !== undefined)
          return yield* broken(file, 0, header.firstSeq, "an unchained segment follows a chained one")
        if (scan.lastSeq >= header.firstSeq) unchainedThrough = scan.lastSeq
      } else {
        // The first segment left after compaction links to nothing the directory still holds but the snapshot.
        const expected = header.firstSeq === 1 ? chainStart : i === 0 ? undefined : (head ?? chainStart)
        if (expected !== undefined && !sameBytes(expected, header.chainIn))
          return yield* broken(
            file,
            0,
            header.firstSeq,
            "the segment header's chain value does not follow the segment before",
          )
        yield* checkAnchor(file, 0, header.firstSeq - 1, header.chainIn)
        const walked = yield* walkChain(records, start, header.firstSeq, header.chainIn, digest)
        if ("broken" in walked)
          return yield* broken(
            file,
            walked.broken.offset,
            walked.broken.seq,
            "the record's bytes do not produce its stored chain value",
          )
        if (anchor !== undefined && anchor.lastSeq >= header.firstSeq && anchor.lastSeq <= scan.lastSeq) {
          const offset = chainedRecordOffset(records, start, header.firstSeq, anchor.lastSeq)
          yield* checkAnchor(file, offset, anchor.lastSeq, storedChainValue(records, offset))
        }
        if (chainedFrom === undefined && scan.lastSeq >= header.firstSeq) chainedFrom = header.firstSeq
        head = walked.head
      }
      lastSeq = scan.lastSeq
      if (scan.bad !== undefined) break
    }
    return {
      unchainedThrough,
      chainedFrom,
      lastSeq,
      head: head === undefined ? undefined : Encoding.encodeHex(head),
      anchoredAt,
    }
  })
