/**
 * Open-time recovery of the log: validates every segment the open needs, repairs a torn tail, and refuses anything
 * else.
 *
 * Only one kind of damage can come from a crash: a torn tail, i.e. the newest segment ends in a partial or garbled
 * record (or zero fill) after which no valid higher record exists. It is copied aside to `*.broken`, truncated,
 * fsynced and reported (or, read-only, only reported and skipped over). Every other defect (a bad record with valid
 * records after it, a bad record in a sealed segment, a missing segment, a wrong header, a foreign registry id) fails
 * with `WalCorrupt` and touches nothing.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { Effect, Option } from "effect"
import { type StorageFailed, WalCorrupt } from "../domain/errors.ts"
import type { Checksum } from "./Checksum.ts"
import { syncDirectory, writeAndSync } from "./Directory.ts"
import { brokenSuffix } from "./FileNames.ts"
import type { StorageLimits } from "./Limits.ts"
import { reporter } from "./Progress.ts"
import { findValidRecordAfter, type ScanOptions, scanRecords, storedChainValue } from "./RecordCodec.ts"
import {
  decodeSegmentHeader,
  recordsStart,
  registryIdHex,
  type SegmentHeader,
  sameRegistryId,
  segmentHeaderBytes,
} from "./SegmentHeader.ts"
import { io, plainFailure } from "./StorageError.ts"
import type { TornTail } from "./Wal.ts"

/** What the file log needs to find and check a segment file. */
export interface SegmentFile {
  readonly name: string
  readonly path: string
  /** Seeds every record checksum in the segment, so records copied from another segment never validate. */
  readonly salt: number
  /** The chain value before its first record; absent in a segment of an earlier release (unchained, never appended to). */
  readonly chainIn?: Uint8Array
  /**
   * Its records were not checked at open (a sealed segment the snapshot covers): a read checks them all, and
   * refuses the segment unless they end exactly at its last seq.
   */
  readonly unchecked?: true
}

/** A validated segment: records `firstSeq..lastSeq` (`firstSeq - 1` while empty) in its first `bytes` bytes. */
export interface RecoveredSegment {
  readonly file: SegmentFile
  readonly firstSeq: number
  lastSeq: number
  bytes: number
}

export interface RecoveredLog {
  readonly registryId: Uint8Array
  readonly segments: Array<RecoveredSegment>
  readonly tornTail: Option.Option<TornTail>
  readonly records: number
  /**
   * The chain value after the newest segment's last durable record (after a torn tail, the last one kept), as
   * stored: open trusts each record's checksum and leaves recomputing the chain to `verify --chain`. Absent when
   * the newest segment is unchained.
   */
  readonly chainHead: Uint8Array | undefined
}

const corrupt = (file: string, offset: number, seq: number, reason: string) =>
  Effect.fail(new WalCorrupt({ file, offset, seq, reason }))

/** Copies the torn bytes aside, truncates the segment to its last good record and fsyncs both. */
const repairTornTail = (
  fs: FileSystem.FileSystem,
  directory: string,
  bytes: Uint8Array,
  found: TornTail,
): Effect.Effect<TornTail, StorageFailed> =>
  plainFailure(
    Effect.gen(function* () {
      const brokenFile = `${found.file}.${found.offset}${brokenSuffix}`
      yield* writeAndSync(fs, brokenFile, bytes.subarray(found.offset))
      yield* syncDirectory(fs, directory)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const file = yield* io("open", found.file, fs.open(found.file, { flag: "r+" }))
          yield* io("truncate", found.file, file.truncate(found.offset))
          yield* io("fsync", found.file, file.sync)
        }),
      )
      return { ...found, brokenFile }
    }),
  )

/** A segment's header bytes (fewer if the file is shorter) and the file's size, without reading its records. */
const readHead = (
  fs: FileSystem.FileSystem,
  file: string,
): Effect.Effect<{ readonly bytes: Uint8Array; readonly size: number }, StorageFailed> =>
  Effect.scoped(
    Effect.gen(function* () {
      const handle = yield* io("open", file, fs.open(file, { flag: "r" }))
      const info = yield* io("stat", file, handle.stat)
      const bytes = yield* io("read", file, handle.readAlloc(segmentHeaderBytes))
      return { bytes: Option.getOrElse(bytes, () => new Uint8Array(0)), size: Number(info.size) }
    }),
  )

/**
 * Validates the segments named (already sorted by first seq) and repairs a torn tail of the newest one (with
 * `repair` false it is only reported, and the segment is treated as ending before it). One segment is in memory at
 * a time; each one checked is reported to `Progress` (phase `check`).
 * Nothing is modified unless every defect found is a torn tail.
 *
 * A sealed segment whose records all lie at or below `coveredThrough` (the newest snapshot's seq) has only its
 * header checked: the open replays from the snapshot on, so reading and checksumming those records was a seventh of
 * opening a million-version registry (bench/results/issue-15-snapshot.md), and only a read needs them. Its last seq
 * is the next segment's first minus one (the log has no gaps, and the next segment's header is checked), its size
 * the file's. The newest segment and every one reaching past `coveredThrough` are scanned as before, so the log's
 * durable end is found exactly.
 */
export const recoverSegments = (
  fs: FileSystem.FileSystem,
  path: Path.Path,
  directory: string,
  names: ReadonlyArray<{ readonly name: string; readonly firstSeq: number }>,
  checksum: Checksum,
  limits: StorageLimits,
  repair = true,
  coveredThrough = 0,
): Effect.Effect<RecoveredLog, StorageFailed | WalCorrupt> =>
  Effect.gen(function* () {
    const segments: Array<RecoveredSegment> = []
    let registryId: Uint8Array | undefined
    let tornTail: Option.Option<TornTail> = Option.none()
    let records = 0
    let chainHead: Uint8Array | undefined
    const report = yield* reporter
    report({ phase: "check", done: 0, total: names.length })
    for (let i = 0; i < names.length; i++) {
      const { name, firstSeq: declaredSeq } = names[i]!
      const file = path.join(directory, name)
      const isNewest = i === names.length - 1
      const covered = !isNewest && names[i + 1]!.firstSeq - 1 <= coveredThrough
      const head = covered ? yield* readHead(fs, file) : undefined
      const bytes = head === undefined ? yield* io("read", file, fs.readFile(file)) : head.bytes
      const header = decodeSegmentHeader(bytes, checksum)
      if (typeof header === "string") return yield* corrupt(file, 0, declaredSeq, header)
      if (header.firstSeq !== declaredSeq)
        return yield* corrupt(
          file,
          0,
          declaredSeq,
          `header says first seq ${header.firstSeq}, name says ${declaredSeq}`,
        )
      if (registryId === undefined) registryId = header.registryId
      else if (!sameRegistryId(registryId, header.registryId))
        return yield* corrupt(
          file,
          0,
          declaredSeq,
          `foreign registry id ${registryIdHex(header.registryId)} (expected ${registryIdHex(registryId)})`,
        )
      const previous = segments[segments.length - 1]
      if (previous !== undefined && header.firstSeq !== previous.lastSeq + 1)
        return yield* corrupt(
          file,
          0,
          header.firstSeq,
          `missing segment: expected seq ${previous.lastSeq + 1} after ${previous.file.name}, this segment starts at ${header.firstSeq}`,
        )
      if (head !== undefined) {
        const lastSeq = names[i + 1]!.firstSeq - 1
        segments.push({
          file: { ...segmentFile(name, file, header), unchecked: true },
          firstSeq: header.firstSeq,
          lastSeq,
          bytes: head.size,
        })
        records += lastSeq - header.firstSeq + 1
        report({ phase: "check", done: i + 1, total: names.length })
        continue
      }
      const chained = header.chainIn !== undefined
      const options: ScanOptions = { chained, salt: header.salt, checksum, recordBytesMax: limits.recordBytesMax }
      const scan = scanRecords(bytes, recordsStart(header), header.firstSeq, options, () => {})
      chainHead = !chained
        ? undefined
        : scan.lastAt === undefined
          ? header.chainIn
          : new Uint8Array(storedChainValue(bytes, scan.lastAt)) // a copy: must not pin the segment buffer
      const segment: RecoveredSegment = {
        file: segmentFile(name, file, header),
        firstSeq: header.firstSeq,
        lastSeq: scan.lastSeq,
        bytes: scan.end,
      }
      records += scan.lastSeq - header.firstSeq + 1
      if (scan.bad !== undefined) {
        const { offset, reason, zeros, intact } = scan.bad
        const seq = scan.lastSeq + 1
        if (!isNewest) return yield* corrupt(file, offset, seq, `${reason} in a sealed segment`)
        if (intact) return yield* corrupt(file, offset, seq, reason)
        const later = findValidRecordAfter(bytes, offset + 1, scan.lastSeq, options)
        if (later !== undefined)
          return yield* corrupt(file, offset, seq, `${reason}, followed by a valid record at offset ${later}`)
        const found: TornTail = {
          file,
          offset,
          bytesDropped: bytes.length - offset,
          recordsDropped: zeros ? 0 : 1,
          reason,
        }
        tornTail = Option.some(repair ? yield* repairTornTail(fs, directory, bytes, found) : found)
      }
      segments.push(segment)
      report({ phase: "check", done: i + 1, total: names.length })
    }
    return { registryId: registryId!, segments, tornTail, records, chainHead }
  })

const segmentFile = (name: string, path: string, header: SegmentHeader): SegmentFile =>
  header.chainIn === undefined
    ? { name, path, salt: header.salt }
    : { name, path, salt: header.salt, chainIn: header.chainIn }
