/**
 * The log as segment files (`wal-<first seq>.seg`): open-time recovery of the directory's segments, and the log
 * primitives the core derives the `Wal` port from (create a segment, append to the newest, read one back, delete
 * one). Appends go through an `ActiveSegmentFile`: the runtime's `SegmentAppender` when one is provided, else a
 * `FileSystem` file.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect, Exit, Option, Random, Scope } from "effect"
import { type StorageFailed, WalCorrupt } from "../domain/errors.ts"
import { chainDigestOrDefault, chainStart } from "./ChainDigest.ts"
import type { Checksum } from "./Checksum.ts"
import { removeDurably, syncDirectory, writeAndSync } from "./Directory.ts"
import { check as checkDirectory, type DirectoryIdentity } from "./DirectoryWatch.ts"
import { segmentFileName, tmpSuffix } from "./FileNames.ts"
import type { StorageLimits } from "./Limits.ts"
import {
  chainedRecordOffset,
  encodeBatch,
  scanRecords,
  sealBatch,
  storedChainValue,
  validatedRecords,
} from "./RecordCodec.ts"
import { recoverSegments, type SegmentFile } from "./Recovery.ts"
import { type ActiveSegmentFile, appendDurably, fromSteps, SegmentAppender } from "./SegmentAppender.ts"
import {
  decodeSegmentHeader,
  encodeSegmentHeader,
  recordsStart,
  registryIdBytes,
  segmentHeaderBytes,
} from "./SegmentHeader.ts"
import { DurabilityLost, io } from "./StorageError.ts"
import type { TornTail } from "./Wal.ts"
import type { LogPrimitives, Segment } from "./WalCore.ts"

const randomBytes = (n: number) =>
  Effect.map(Effect.all(Array.from({ length: n }, () => Random.nextIntBetween(0, 256))), (xs) => new Uint8Array(xs))

/** A fresh salt for a new segment, from Effect's Random (deterministic under a seeded Random). */
const randomSalt: Effect.Effect<number> = Effect.map(randomBytes(4), (b) => new DataView(b.buffer).getUint32(0))

/** A fresh registry id. */
const randomRegistryId: Effect.Effect<Uint8Array> = randomBytes(registryIdBytes)

/**
 * Creates a segment durably: header to a tmp file, fsync, rename, directory fsync. After a crash the segment either
 * exists with a complete header or not at all (its tmp file is removed at the next open).
 *
 * A failure before the directory fsync (a full disk, most often) is undone: the tmp file, and the segment if the
 * rename happened, are removed and the directory fsynced, so the log is exactly as it was and the roll can be
 * tried again. A failed header fsync is undone too: it concerns bytes nobody was told of, and the file goes. Only
 * a failed directory fsync, or a failed undo, leaves the directory in an unknown state (`DurabilityLost`).
 */
const createSegment = (
  fs: FileSystem.FileSystem,
  path: Path.Path,
  directory: string,
  registryId: Uint8Array,
  firstSeq: number,
  chainIn: Uint8Array,
  checksum: Checksum,
): Effect.Effect<SegmentFile, StorageFailed | DurabilityLost> =>
  Effect.gen(function* () {
    const salt = yield* randomSalt
    const name = segmentFileName(firstSeq)
    const target = path.join(directory, name)
    const tmp = target + tmpSuffix
    yield* Effect.catchAll(
      Effect.zipRight(
        writeAndSync(fs, tmp, encodeSegmentHeader({ registryId, salt, firstSeq, chainIn }, checksum)),
        io("rename", tmp, fs.rename(tmp, target)),
      ),
      (error) => Effect.zipRight(undoCreate(fs, directory, [tmp, target]), Effect.fail(reportedOf(error))),
    )
    yield* syncDirectory(fs, directory)
    return { name, path: target, salt, chainIn }
  })

const reportedOf = (error: StorageFailed | DurabilityLost): StorageFailed =>
  error._tag === "DurabilityLost" ? (error.reported ?? error.failure) : error

/** Removes what a failed creation may have left, durably; a failure here leaves the log's shape unknown. */
const undoCreate = (
  fs: FileSystem.FileSystem,
  directory: string,
  paths: ReadonlyArray<string>,
): Effect.Effect<void, DurabilityLost> =>
  Effect.zipRight(
    Effect.forEach(
      paths,
      (file) =>
        Effect.mapError(
          io("remove", file, fs.remove(file, { force: true })),
          (failure) => new DurabilityLost({ failure }),
        ),
      { discard: true },
    ),
    syncDirectory(fs, directory),
  )

export interface FileLog {
  readonly registryId: Uint8Array
  /** Validated at open, oldest first; empty in a new directory. */
  readonly segments: Array<Segment<SegmentFile>>
  readonly tornTail: Option.Option<TornTail>
  readonly primitives: LogPrimitives<SegmentFile>
  /**
   * Opens the newest segment for appending (a no-op once open). An empty newest segment of an earlier release is
   * first replaced by an empty chained one of the same name (one atomic rename: it holds nothing to lose).
   */
  readonly openForAppends: Effect.Effect<void, StorageFailed | DurabilityLost>
  /**
   * The chain value after record `seq` (for a snapshot's header), or `undefined` when that record is not chained
   * (written by an earlier release) or no longer in the log.
   */
  readonly chainAt: (seq: number) => Effect.Effect<Uint8Array | undefined, StorageFailed | WalCorrupt>
}

export interface FileLogOptions {
  readonly directory: string
  /** The segment files found, with the first seq each name declares. */
  readonly segmentNames: ReadonlyArray<{ readonly name: string; readonly firstSeq: number }>
  /** The newest snapshot file, if any: a directory with snapshots but no segment lost its log. */
  readonly newestSnapshot: Option.Option<{ readonly file: string; readonly lastSeq: number }>
  readonly checksum: Checksum
  readonly limits: StorageLimits
  readonly readOnly: boolean
  /** What the directory was at open, when its place is to be checked (`DirectoryWatch`). */
  readonly watched?: DirectoryIdentity
}

/**
 * Recovers the segments (repairing a torn tail unless read-only) and returns the log primitives. Closing the
 * scope closes the active segment.
 */
export const open = (
  options: FileLogOptions,
): Effect.Effect<FileLog, StorageFailed | WalCorrupt, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function* () {
    const { directory, segmentNames, checksum, limits, readOnly } = options
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const digest = yield* chainDigestOrDefault
    const appender = yield* Effect.serviceOption(SegmentAppender)
    const openActive = (file: string): Effect.Effect<ActiveSegmentFile, StorageFailed, Scope.Scope> =>
      io(
        "open",
        file,
        Option.isSome(appender) ? appender.value.open(file) : Effect.map(fs.open(file, { flag: "a" }), fromSteps),
      )

    let registryId: Uint8Array
    let segments: Array<Segment<SegmentFile>> = []
    let tornTail: Option.Option<TornTail> = Option.none()
    // The chain value after the last durable record, and its seq: what the next record and segment chain from.
    const chain = { seq: 0, head: chainStart }
    if (segmentNames.length === 0) {
      if (readOnly)
        return yield* new WalCorrupt({ file: directory, offset: 0, seq: 1, reason: "no WAL segment in the directory" })
      if (Option.isSome(options.newestSnapshot))
        return yield* new WalCorrupt({
          file: options.newestSnapshot.value.file,
          offset: 0,
          seq: options.newestSnapshot.value.lastSeq,
          reason: "snapshots exist but no WAL segment does",
        })
      registryId = yield* randomRegistryId
    } else {
      const coveredThrough = Option.match(options.newestSnapshot, { onNone: () => 0, onSome: (s) => s.lastSeq })
      const log = yield* recoverSegments(fs, path, directory, segmentNames, checksum, limits, !readOnly, coveredThrough)
      registryId = log.registryId
      tornTail = log.tornTail
      segments = log.segments.map((s) => ({ firstSeq: s.firstSeq, lastSeq: s.lastSeq, bytes: s.bytes, handle: s.file }))
      chain.seq = segments[segments.length - 1]!.lastSeq
      chain.head = log.chainHead ?? chainStart
    }

    const active = {
      file: undefined as ActiveSegmentFile | undefined,
      path: undefined as string | undefined,
      scope: yield* Scope.make(),
    }
    yield* Effect.addFinalizer(() => Scope.close(active.scope, Exit.void))
    const switchActive = (file: string) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const opened = yield* openActive(file).pipe(
          Scope.extend(scope),
          Effect.onError(() => Scope.close(scope, Exit.void)),
        )
        yield* Scope.close(active.scope, Exit.void)
        active.file = opened
        active.path = file
        active.scope = scope
      })

    const primitives: LogPrimitives<SegmentFile> = {
      describe: (segment) => segment.path,
      create: (firstSeq) =>
        Effect.flatMap(createSegment(fs, path, directory, registryId, firstSeq, chain.head, checksum), (segment) =>
          Effect.as(
            // The segment is durable but the core never learns of it unless it opens: undone, so a retried roll
            // starts from the log as the core knows it.
            Effect.catchAll(switchActive(segment.path), (error) =>
              Effect.zipRight(undoCreate(fs, directory, [segment.path]), Effect.fail(error)),
            ),
            segment,
          ),
        ),
      append: (segment, records) => {
        const bytes = encodeBatch(records, records[0]!.seq, limits.recordBytesMax)
        const { salt } = segment.handle
        return Effect.flatMap(sealBatch(bytes, records.length, chain.head, salt, checksum, digest), (head) =>
          Effect.map(appendDurably(active.file!, segment.handle.path, segment.bytes, bytes), () => {
            chain.head = head
            chain.seq = records[records.length - 1]!.seq
          }),
        )
      },
      appendable: (segment) => segment.chainIn !== undefined,
      read: (segment, fromSeq, toSeq) => readSegment(fs, checksum, limits, segment, fromSeq, toSeq),
      remove: (segment) => removeDurably(fs, directory, segment.path),
      ...(options.watched === undefined
        ? {}
        : { checkPlace: Effect.suspend(() => checkDirectory(fs, directory, options.watched!, active.path)) }),
    }
    const replaceEmptyUnchained = Effect.suspend(() => {
      const newest = segments[segments.length - 1]!
      if (newest.handle.chainIn !== undefined || newest.lastSeq >= newest.firstSeq) return Effect.void
      return Effect.map(
        createSegment(fs, path, directory, registryId, newest.firstSeq, chain.head, checksum),
        (handle) => {
          segments[segments.length - 1] = {
            firstSeq: newest.firstSeq,
            lastSeq: newest.lastSeq,
            bytes: segmentHeaderBytes,
            handle,
          }
        },
      )
    })
    const openForAppends = Effect.suspend(() =>
      readOnly || active.file !== undefined || segments.length === 0
        ? Effect.void
        : Effect.zipRight(
            replaceEmptyUnchained,
            Effect.suspend(() => switchActive(segments[segments.length - 1]!.handle.path)),
          ),
    )
    const chainAt = (seq: number) =>
      Effect.suspend(() => {
        if (seq === chain.seq) return Effect.succeed<Uint8Array | undefined>(new Uint8Array(chain.head))
        const segment = segments.find((s) => s.firstSeq - 1 <= seq && seq <= s.lastSeq)
        const chainIn = segment?.handle.chainIn
        if (segment === undefined || chainIn === undefined) return Effect.succeed(undefined)
        if (seq === segment.firstSeq - 1) return Effect.succeed(new Uint8Array(chainIn))
        return Effect.map(
          readChecked(fs, checksum, limits, segment, seq),
          (bytes) =>
            new Uint8Array(
              storedChainValue(bytes, chainedRecordOffset(bytes, segmentHeaderBytes, segment.firstSeq, seq)),
            ),
        )
      })
    return { registryId, segments, tornTail, primitives, openForAppends, chainAt }
  })

/**
 * Reads a segment back, checking its header and every record up to what the log held when the read started. The
 * records are then made one at a time as the reader takes them, so a read holds one segment's bytes and no more.
 */
const readSegment = (
  fs: FileSystem.FileSystem,
  checksum: Checksum,
  limits: StorageLimits,
  segment: Segment<SegmentFile>,
  fromSeq: number,
  toSeq: number,
) =>
  Effect.map(readChecked(fs, checksum, limits, segment, toSeq), (bytes) => {
    const chained = segment.handle.chainIn !== undefined
    return validatedRecords(bytes, recordsStart(segment.handle), segment.firstSeq, fromSeq, toSeq, chained)
  })

/**
 * A segment's bytes up to the end of its valid records, all checked through `toSeq`. A segment open did not check
 * (`unchecked`) must hold exactly its records and nothing after them, as open would have demanded of a sealed
 * segment: this read is the first to look at them.
 */
const readChecked = (
  fs: FileSystem.FileSystem,
  checksum: Checksum,
  limits: StorageLimits,
  segment: Segment<SegmentFile>,
  toSeq: number,
) =>
  Effect.gen(function* () {
    const { path, salt } = segment.handle
    const bytes = (yield* io("read", path, fs.readFile(path))).subarray(0, segment.bytes)
    const header = decodeSegmentHeader(bytes, checksum)
    if (typeof header === "string" || header.salt !== salt)
      return yield* new WalCorrupt({
        file: path,
        offset: 0,
        seq: segment.firstSeq,
        reason: typeof header === "string" ? header : "segment header changed since open",
      })
    const chained = header.chainIn !== undefined
    const options = { chained, salt, checksum, recordBytesMax: limits.recordBytesMax }
    const result = scanRecords(bytes, recordsStart(header), segment.firstSeq, options, () => {})
    const { unchecked } = segment.handle
    const short = result.lastSeq < Math.min(segment.lastSeq, toSeq)
    if (short || (unchecked && (result.bad !== undefined || result.lastSeq !== segment.lastSeq)))
      return yield* new WalCorrupt({
        file: path,
        offset: result.end,
        seq: result.lastSeq + 1,
        reason: `${result.bad?.reason ?? (short ? "segment shorter than at open" : `records past seq ${segment.lastSeq}`)}${unchecked ? " in a sealed segment" : ""}`,
      })
    return bytes.subarray(0, result.end)
  })
