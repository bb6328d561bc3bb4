/**
 * The production storage: `Wal` and `SnapshotStore` over `@effect/platform`'s FileSystem, sharing one data
 * directory, one lock and one open-time recovery. It does IO only through `FileSystem` and `Path`, so the
 * simulated faulty disk of the test kit can stand in for the real one.
 *
 * Directory layout: `LOCK` (holder pid), `wal-<first seq>.seg` segments, `snap-<last seq>.snap` snapshots, and
 * transient `*.tmp` files (removed at open) and `*.broken` copies of repaired damage (kept for forensics).
 *
 * Retention: the two newest snapshots are kept, and `deleteSegmentsUpTo` never deletes records newer than the OLDER
 * of them. So if the newest snapshot is found corrupt, the previous one plus the log still rebuild the full history.
 */

import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Context, Effect, Exit, Layer, Option, Scope, Stream } from "effect"
import {
  type DirectoryLocked,
  type InvalidInput,
  StorageFailed,
  WalCorrupt,
  type WalCorrupt as WalCorruptError,
} from "../domain/errors.ts"
import { checksumOrDefault } from "./Checksum.ts"
import { removeDurably, renameDurably, syncDirectory, writeAndSync } from "./Directory.ts"
import { brokenSuffix, parseSegmentFileName, parseSnapshotFileName, snapshotFileName, tmpSuffix } from "./FileNames.ts"
import { mustRoll, type StorageLimits, validateLimits } from "./Limits.ts"
import { acquireLock } from "./Lock.ts"
import type { StorageMutations } from "./Mutations.ts"
import type { ProcessInfo } from "./ProcessInfo.ts"
import { assertWritable, batchBytes, decodeRecords, encodeBatch } from "./RecordCodec.ts"
import { createSegment, type RecoveredLog, randomRegistryId, recoverSegments, type SegmentFile } from "./Recovery.ts"
import { decodeSegmentHeader, segmentHeaderBytes } from "./SegmentHeader.ts"
import { encodeSnapshot } from "./SnapshotFormat.ts"
import { selectSnapshot } from "./SnapshotSelection.ts"
import { type Snapshot, SnapshotStore } from "./SnapshotStore.ts"
import { fromPlatformError, io, portFailed } from "./StorageError.ts"
import { type SnapshotFallback, Wal, type WalRecord } from "./Wal.ts"

/** What the WAL does with its active segment: append whole batches, make them durable, cut back a failed write. */
export interface ActiveSegmentFile {
  /** Appends every byte (a short write is continued, never dropped). */
  readonly writeAll: (bytes: Uint8Array) => Effect.Effect<void, PlatformError>
  /** Makes the appended bytes durable (fsync or fdatasync). */
  readonly sync: Effect.Effect<void, PlatformError>
  readonly truncate: (length: FileSystem.SizeInput) => Effect.Effect<void, PlatformError>
}

/**
 * An optional, runtime-specific way to open the active segment for appending. Without it the segment is a
 * `FileSystem` file, whose `writeAll` and `sync` are each a thread-pool round trip. A runtime can plug in a
 * synchronous write followed by an asynchronous fdatasync: one round trip per batch, which the reference writer
 * measured at the latency of a fully synchronous path (performance-facts: an async write as well cost ~30 % with
 * one producer). Closing the scope closes the file.
 */
export interface SegmentAppender {
  readonly open: (path: string) => Effect.Effect<ActiveSegmentFile, PlatformError, Scope.Scope>
}
export const SegmentAppender = Context.GenericTag<SegmentAppender>("@visutility/model-registry/SegmentAppender")

export interface FileStorageOptions extends Partial<StorageLimits> {
  /** The data directory; created if missing. */
  readonly directory: string
  /** Test-only: re-introduces one of the seed's storage bugs. */
  readonly mutations?: StorageMutations
  /**
   * Inspect without changing anything (for `verify` and `wal dump`, also beside a running registry): no lock, no
   * directory creation, no tmp-file removal, a torn tail and an invalid newest snapshot are reported and skipped over
   * instead of repaired, and every write fails with `StorageFailed` (reason "ReadOnly").
   */
  readonly readOnly?: boolean
}

/** Both ports over one directory. */
export interface Storage {
  readonly wal: Wal
  readonly snapshots: SnapshotStore
}

/** Errors that opening a data directory can fail with. */
export type OpenError = StorageFailed | WalCorruptError | DirectoryLocked | InvalidInput

const snapshotsRetainedCount = 2
/** How much of a snapshot may be dirty in the page cache at once; see `write`. */
const snapshotSyncEveryBytes = 4 * 1024 * 1024

/**
 * Opens (or creates) a data directory for the current scope: takes the lock, removes tmp files, validates and
 * repairs the log, and selects the snapshot to recover from. Closing the scope closes the files and releases the
 * lock. Fails with `DirectoryLocked` if a live process holds the directory, `WalCorrupt` if the data is damaged
 * beyond a torn tail, `InvalidInput` for invalid limits.
 */
export const makeFileStorage = (
  options: FileStorageOptions,
): Effect.Effect<Storage, OpenError, FileSystem.FileSystem | Path.Path | ProcessInfo | Scope.Scope> =>
  Effect.gen(function* () {
    const { directory, mutations = {}, readOnly = false, ...limitInput } = options
    const limits = yield* validateLimits(limitInput)
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const checksum = yield* checksumOrDefault
    const appender = yield* Effect.serviceOption(SegmentAppender)
    const openActive = (file: string): Effect.Effect<ActiveSegmentFile, StorageFailed, Scope.Scope> =>
      io("open", file, Option.isSome(appender) ? appender.value.open(file) : fs.open(file, { flag: "a" }))
    const refuseWrite = (operation: string) =>
      new StorageFailed({ operation, path: directory, reason: "ReadOnly", message: "opened read-only" })
    if (!(yield* io("exists", directory, fs.exists(directory)))) {
      if (readOnly)
        return yield* new StorageFailed({
          operation: "open",
          path: directory,
          reason: "NotFound",
          message: "no such data directory",
        })
      yield* io("make-directory", directory, fs.makeDirectory(directory, { recursive: true }))
      yield* syncDirectory(fs, path.dirname(directory))
    }
    if (!readOnly) yield* acquireLock(directory)

    const names = (yield* io("list", directory, fs.readDirectory(directory))).sort()
    const tmpFilesRemoved: Array<string> = []
    for (const name of readOnly ? [] : names.filter((n) => n.endsWith(tmpSuffix))) {
      yield* removeDurably(fs, directory, path.join(directory, name))
      tmpFilesRemoved.push(path.join(directory, name))
    }
    const segmentNames = names.flatMap((name) => {
      const firstSeq = parseSegmentFileName(name)
      return firstSeq === undefined ? [] : [{ name, firstSeq }]
    })
    const snapshotSeqs = names
      .flatMap((name) => {
        const lastSeq = parseSnapshotFileName(name)
        return lastSeq === undefined ? [] : [lastSeq]
      })
      .sort((a, b) => b - a)
    const snapshotPath = (lastSeq: number) => path.join(directory, snapshotFileName(lastSeq))

    let log: RecoveredLog
    if (segmentNames.length === 0) {
      if (readOnly)
        return yield* new WalCorrupt({ file: directory, offset: 0, seq: 1, reason: "no WAL segment in the directory" })
      if (snapshotSeqs.length > 0)
        return yield* new WalCorrupt({
          file: snapshotPath(snapshotSeqs[0]!),
          offset: 0,
          seq: snapshotSeqs[0]!,
          reason: "snapshots exist but no WAL segment does",
        })
      const registryId = yield* randomRegistryId
      const first = yield* createSegment(fs, path, directory, registryId, 1, checksum, mutations)
      log = { registryId, segments: [first], tornTail: Option.none(), records: 0 }
    } else {
      log = yield* recoverSegments(fs, path, directory, segmentNames, checksum, limits, mutations, !readOnly)
    }
    const { registryId, segments } = log
    const lastSegment = () => segments[segments.length - 1]!

    const selection = yield* selectSnapshot(
      fs,
      snapshotSeqs.map((lastSeq) => ({ file: snapshotPath(lastSeq), lastSeq })),
      registryId,
      checksum,
      segments[0]!.firstSeq,
      segments[0]!.path,
    )
    if (Option.isSome(selection.chosen) && selection.chosen.value.snapshot.lastSeq > lastSegment().lastSeq)
      return yield* new WalCorrupt({
        file: lastSegment().path,
        offset: lastSegment().bytes,
        seq: lastSegment().lastSeq + 1,
        reason: `${selection.chosen.value.file} covers seq ${selection.chosen.value.snapshot.lastSeq} but the log ends at seq ${lastSegment().lastSeq}`,
      })
    const snapshotFallbacks: Array<SnapshotFallback> = []
    for (const broken of selection.corrupt) {
      if (readOnly) {
        snapshotFallbacks.push({ file: broken.file, reason: broken.reason })
        continue
      }
      const brokenFile = broken.file + brokenSuffix
      yield* renameDurably(fs, directory, broken.file, brokenFile)
      snapshotFallbacks.push({ file: broken.file, reason: broken.reason, brokenFile })
    }
    const movedAside = new Set(selection.corrupt.map((c) => c.lastSeq))

    const state = {
      lastSeq: lastSegment().lastSeq,
      failed: undefined as StorageFailed | undefined,
      /** Snapshot seqs on disk, newest first. */
      retained: snapshotSeqs.filter((seq) => !movedAside.has(seq)),
      active: undefined as unknown as ActiveSegmentFile,
      activeScope: yield* Scope.make(),
      /**
       * The snapshot open chose, already read and checked, handed to the first `latest` (the registry's recovery,
       * right after open) instead of reading and checksumming it again: at 1M versions that is ~330 MB twice.
       */
      chosenAtOpen: Option.map(selection.chosen, (c) => c.snapshot),
    }
    if (!readOnly) state.active = yield* openActive(lastSegment().path).pipe(Scope.extend(state.activeScope))
    yield* Effect.addFinalizer(() => Scope.close(state.activeScope, Exit.void))
    const mutex = yield* Effect.makeSemaphore(1)
    /** Appends and rotation: the active segment and the end of `segments`. */
    const serialized = mutex.withPermits(1)
    // Compaction's file work (snapshot renames, retention, deleting old segments from the front of `segments`) has
    // its own lock. Effect's semaphore lets a running fiber take a free permit before a woken waiter runs, so under
    // a steady stream of appends a compaction queued on their lock never got it (found by a test of a snapshot
    // written during registers). Nothing here touches what appends touch but `segments`, from the other end.
    const compactionMutex = yield* Effect.makeSemaphore(1)
    const serializedCompaction = compactionMutex.withPermits(1)

    const checkAvailable = (operation: string) =>
      Effect.suspend(() =>
        state.failed === undefined ? Effect.void : Effect.fail(portFailed(operation, directory, state.failed)),
      )
    const checkWritable = (operation: string) =>
      readOnly ? Effect.fail(refuseWrite(operation)) : checkAvailable(operation)
    /** fsyncgate: a failed fsync leaves the page cache in an unknown state, so the port never trusts it again. */
    const failOnSyncError = <A, R>(effect: Effect.Effect<A, StorageFailed, R>) =>
      Effect.tapError(effect, (e) =>
        Effect.sync(() => {
          if (e.operation.startsWith("fsync") && state.failed === undefined) state.failed = e
        }),
      )
    const failPort = <A, R>(effect: Effect.Effect<A, StorageFailed, R>) =>
      Effect.tapError(effect, (e) =>
        Effect.sync(() => {
          state.failed ??= e
        }),
      )

    const rotateUnlocked = Effect.suspend(() => {
      const current = lastSegment()
      if (current.lastSeq < current.firstSeq) return Effect.void
      return failPort(
        Effect.gen(function* () {
          const next = yield* createSegment(fs, path, directory, registryId, state.lastSeq + 1, checksum, mutations)
          const scope = yield* Scope.make()
          const file = yield* openActive(next.path).pipe(
            Scope.extend(scope),
            Effect.onError(() => Scope.close(scope, Exit.void)),
          )
          yield* Scope.close(state.activeScope, Exit.void)
          state.active = file
          state.activeScope = scope
          segments.push(next)
        }),
      )
    })

    const writeBatch = (records: ReadonlyArray<WalRecord>) =>
      Effect.suspend(() => {
        const segment = lastSegment()
        const bytes = encodeBatch(records, state.lastSeq + 1, segment.salt, checksum, limits.recordBytesMax)
        const file = state.active
        // The truncate is fsynced too: otherwise a crash can bring the partial write back after a later rotation
        // sealed this segment, where it reads as corruption, not as a torn tail (found by the simulator).
        const truncateBack = (failure: StorageFailed) =>
          file.truncate(segment.bytes).pipe(
            Effect.zipRight(file.sync),
            Effect.matchEffect({
              onFailure: (e) =>
                Effect.zipRight(
                  Effect.sync(() => {
                    state.failed ??= fromPlatformError("truncate", segment.path, e)
                  }),
                  Effect.fail(failure),
                ),
              onSuccess: () => Effect.fail(failure),
            }),
          )
        return file.writeAll(bytes).pipe(
          Effect.catchAll((e) => truncateBack(fromPlatformError("write", segment.path, e))),
          Effect.zipRight(failOnSyncError(io("fsync", segment.path, file.sync))),
          Effect.zipRight(
            Effect.sync(() => {
              segment.bytes += bytes.length
              segment.lastSeq += records.length
              state.lastSeq = segment.lastSeq
            }),
          ),
        )
      })

    const append = (records: ReadonlyArray<WalRecord>): Effect.Effect<void, StorageFailed> =>
      serialized(
        Effect.suspend(() => {
          if (readOnly) return Effect.fail(refuseWrite("append"))
          if (state.failed !== undefined) return Effect.fail(portFailed("append", lastSegment().path, state.failed))
          if (records.length === 0) return Effect.void
          for (let i = 0; i < records.length; i++)
            assertWritable(records[i]!, state.lastSeq + 1 + i, limits.recordBytesMax)
          const current = lastSegment()
          const roll = mustRoll(limits, current.bytes, current.lastSeq >= current.firstSeq, batchBytes(records))
          return roll ? Effect.zipRight(rotateUnlocked, writeBatch(records)) : writeBatch(records)
        }),
      )

    const readSegment = (segment: SegmentFile, fromSeq: number, toSeq: number) =>
      Effect.gen(function* () {
        const bytes = (yield* io("read", segment.path, fs.readFile(segment.path))).subarray(0, segment.bytes)
        const header = decodeSegmentHeader(bytes, checksum)
        if (typeof header === "string" || header.salt !== segment.salt)
          return yield* new WalCorrupt({
            file: segment.path,
            offset: 0,
            seq: segment.firstSeq,
            reason: typeof header === "string" ? header : "segment header changed since open",
          })
        const options = { salt: segment.salt, checksum, recordBytesMax: limits.recordBytesMax }
        const { records, result } = decodeRecords(bytes, segmentHeaderBytes, segment.firstSeq, options, fromSeq, toSeq)
        if (result.lastSeq < Math.min(segment.lastSeq, toSeq))
          return yield* new WalCorrupt({
            file: segment.path,
            offset: result.end,
            seq: result.lastSeq + 1,
            reason: result.bad?.reason ?? "segment shorter than at open",
          })
        return records
      })

    const read = (fromSeq: number): Stream.Stream<WalRecord, StorageFailed | WalCorruptError> =>
      Stream.unwrap(
        Effect.suspend(() => {
          if (state.failed !== undefined) return Effect.fail(portFailed("read", directory, state.failed))
          const firstSeq = segments[0]!.firstSeq
          if (Math.max(fromSeq, 1) < firstSeq)
            return Effect.fail(
              new StorageFailed({
                operation: "read",
                path: segments[0]!.path,
                reason: "Compacted",
                message: `seq ${fromSeq} was compacted away; the log starts at seq ${firstSeq}`,
              }),
            )
          const toSeq = state.lastSeq
          const wanted = segments.filter((s) => s.lastSeq >= fromSeq && s.firstSeq <= toSeq).map((s) => ({ ...s }))
          return Effect.succeed(
            Stream.fromIterable(wanted).pipe(
              Stream.mapEffect((s) => readSegment(s, fromSeq, toSeq)),
              Stream.flattenIterables,
            ),
          )
        }),
      )

    const deleteSegmentsUpTo = (upToSeq: number): Effect.Effect<void, StorageFailed> =>
      serializedCompaction(
        Effect.gen(function* () {
          yield* checkWritable("delete-segments")
          const floor = mutations.compactionDeletesUnsnapshottedSegments
            ? upToSeq
            : Math.min(upToSeq, state.retained[snapshotsRetainedCount - 1] ?? 0)
          while (segments.length > 1 && segments[0]!.lastSeq <= floor) {
            yield* failOnSyncError(removeDurably(fs, directory, segments[0]!.path))
            segments.shift()
          }
        }),
      )

    const wal: Wal = {
      lastSeq: Effect.sync(() => state.lastSeq),
      firstSeq: Effect.sync(() => segments[0]!.firstSeq),
      append,
      read,
      rotate: serialized(Effect.zipRight(checkWritable("rotate"), rotateUnlocked)),
      deleteSegmentsUpTo,
      segments: Effect.sync(() =>
        segments.map((s) => ({ firstSeq: s.firstSeq, lastSeq: s.lastSeq, bytes: s.bytes }) as const),
      ),
      recovery: {
        tornTail: log.tornTail,
        tmpFilesRemoved,
        snapshotFallbacks,
        segments: segments.length,
        records: log.records,
      },
    }

    // The tmp file is written and fsynced outside any lock, so appends go on meanwhile (a snapshot of 1M versions is
    // ~330 MB); the rename and the retention bookkeeping are serialized with the other compaction steps.
    const write = (snapshot: Snapshot): Effect.Effect<void, StorageFailed> =>
      Effect.gen(function* () {
        yield* checkWritable("snapshot-write")
        if (!Number.isSafeInteger(snapshot.lastSeq) || snapshot.lastSeq < 0 || snapshot.lastSeq > state.lastSeq)
          return yield* Effect.dieMessage(
            `snapshot lastSeq ${snapshot.lastSeq} is outside the durable log (0..${state.lastSeq})`,
          )
        const target = snapshotPath(snapshot.lastSeq)
        const tmp = target + tmpSuffix
        // Synced every few MiB: on ext4 (data=ordered) the log's next fdatasync waits for every dirty block the
        // journal commit covers, so one large write held registers for the whole snapshot (1.8 s at 300k versions).
        yield* failOnSyncError(
          writeAndSync(fs, tmp, encodeSnapshot(snapshot, registryId, checksum), "w", snapshotSyncEveryBytes),
        )
        yield* serializedCompaction(
          Effect.gen(function* () {
            yield* checkWritable("snapshot-write")
            yield* io("rename", tmp, fs.rename(tmp, target))
            if (!mutations.skipDirectorySyncAfterRename) yield* failOnSyncError(syncDirectory(fs, directory))
            state.chosenAtOpen = Option.none()
            state.retained = [snapshot.lastSeq, ...state.retained.filter((s) => s !== snapshot.lastSeq)].sort(
              (a, b) => b - a,
            )
            while (state.retained.length > snapshotsRetainedCount) {
              yield* failOnSyncError(removeDurably(fs, directory, snapshotPath(state.retained.at(-1)!)))
              state.retained.pop()
            }
          }),
        )
      })

    const latest = Effect.gen(function* () {
      yield* checkAvailable("snapshot-latest")
      const chosenAtOpen = state.chosenAtOpen
      state.chosenAtOpen = Option.none()
      if (Option.isSome(chosenAtOpen)) return chosenAtOpen
      const candidates = state.retained.map((lastSeq) => ({ file: snapshotPath(lastSeq), lastSeq }))
      const chosen = yield* selectSnapshot(
        fs,
        candidates,
        registryId,
        checksum,
        segments[0]!.firstSeq,
        segments[0]!.path,
      )
      return Option.map(chosen.chosen, (c) => c.snapshot)
    })

    return { wal, snapshots: { write, latest } }
  })

/**
 * Provides `Wal` and `SnapshotStore` over one data directory (see `makeFileStorage` for what opening does and how
 * it fails). Needs `FileSystem`, `Path` and `ProcessInfo`; uses the `Checksum` service when provided, else the
 * runtime-neutral CRC-32.
 */
export const layerFileSystem = (
  options: FileStorageOptions,
): Layer.Layer<Wal | SnapshotStore, OpenError, FileSystem.FileSystem | Path.Path | ProcessInfo> =>
  Layer.scopedContext(
    Effect.map(makeFileStorage(options), (storage) =>
      Context.make(Wal, storage.wal).pipe(Context.add(SnapshotStore, storage.snapshots)),
    ),
  )
