/**
 * The production storage: `Wal` and `SnapshotStore` over `@effect/platform`'s FileSystem, sharing one data
 * directory, one lock and one open-time recovery. It does IO only through `FileSystem` and `Path`, so the
 * simulated faulty disk of the test kit can stand in for the real one. This module only composes: the directory
 * (`DataDirectory`), the log files (`FileLog`), the snapshot files (`FileSnapshots`) and the rules they share
 * with every backend (`WalCore`).
 *
 * Retention: the two newest snapshots are kept, and `deleteSegmentsUpTo` never deletes records newer than the OLDER
 * of them. So if the newest snapshot is found corrupt, the previous one plus the log still rebuild the full history.
 */

import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Context, Duration, Effect, Layer, Option, type Scope } from "effect"
import type { DirectoryLocked, InvalidInput, StorageFailed, WalCorrupt } from "../domain/errors.ts"
import { checksumOrDefault } from "./Checksum.ts"
import * as DataDirectory from "./DataDirectory.ts"
import { DirectoryWatch, identify } from "./DirectoryWatch.ts"
import * as FileLog from "./FileLog.ts"
import { snapshotFileName } from "./FileNames.ts"
import * as FileSnapshots from "./FileSnapshots.ts"
import { type StorageLimits, validateLimits } from "./Limits.ts"
import type { LockHold } from "./Lock.ts"
import type { ProcessInfo } from "./ProcessInfo.ts"
import type { SegmentFile } from "./Recovery.ts"
import { SnapshotStore } from "./SnapshotStore.ts"
import { Wal } from "./Wal.ts"
import * as WalCore from "./WalCore.ts"

export interface FileStorageOptions extends Partial<StorageLimits> {
  /** The data directory; created if missing. */
  readonly directory: string
  /**
   * Inspect without changing anything (for `verify` and `wal dump`, also beside a running registry): no lock, no
   * directory creation, no tmp-file removal, a torn tail and an invalid newest snapshot are reported and skipped over
   * instead of repaired, and every write fails with `StorageFailed` (reason "ReadOnly").
   */
  readonly readOnly?: boolean
}

/** Both ports over one directory. */
export type Storage = WalCore.Storage

/** Errors that opening a data directory can fail with. */
export type OpenError = StorageFailed | WalCorrupt | DirectoryLocked | InvalidInput

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
    const { directory, readOnly = false, ...limitInput } = options
    const limits = yield* validateLimits(limitInput)
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const checksum = yield* checksumOrDefault
    const listing = yield* DataDirectory.open(directory, readOnly)
    const watch = readOnly ? Option.none() : yield* Effect.serviceOption(DirectoryWatch)
    const watched = Option.isSome(watch) ? yield* identify(fs, directory) : undefined
    const newest = listing.snapshotSeqs[0]
    const log = yield* FileLog.open({
      directory,
      segmentNames: listing.segmentNames,
      newestSnapshot: Option.map(Option.fromNullable(newest), (lastSeq) => ({
        file: path.join(directory, snapshotFileName(lastSeq)),
        lastSeq,
      })),
      checksum,
      limits,
      readOnly,
      ...(watched === undefined ? {} : { watched }),
    })
    const first = log.segments[0]
    const snapshots = yield* FileSnapshots.open(
      { fs, path, directory, registryId: log.registryId, checksum, readOnly, chainAt: log.chainAt },
      listing.snapshotSeqs,
      first?.firstSeq ?? 1,
      first?.handle.path ?? directory,
    )
    const opened: WalCore.Opened<SegmentFile> = {
      location: directory,
      limits,
      readOnly,
      segments: log.segments,
      snapshotSeqs: snapshots.retained,
      chosenSnapshot: snapshots.chosen,
      finish: Effect.zipLeft(snapshots.fallBack, log.openForAppends),
      tornTail: log.tornTail,
      tmpFilesRemoved: listing.tmpFilesRemoved,
    }
    const { lock } = listing
    const guard =
      lock === undefined ? undefined : { young: lock.young, effect: preferPlace(lock.guard, log.primitives.checkPlace) }
    const storage = yield* WalCore.make(
      opened,
      guard === undefined ? log.primitives : guardLog(log.primitives, guard),
      guard === undefined ? snapshots.primitives : guardSnapshots(snapshots.primitives, guard),
    )
    // A lost lock latches the port at once, not only at the next write, so health reports it.
    if (lock !== undefined) yield* Effect.forkScoped(Effect.zipRight(lock.lost, Effect.ignore(storage.checkPlace)))
    if (Option.isSome(watch)) {
      // Ends at the first failure: the port is latched by then, and every later call reports it.
      const tick = Effect.zipRight(Effect.sleep(Duration.millis(watch.value.intervalMillis)), storage.checkPlace)
      yield* Effect.forkScoped(Effect.ignore(Effect.forever(tick)))
    }
    return storage
  })

/**
 * Every step that changes the directory first passes the lock's guard (a clock read while the lease is young), so
 * a holder whose lock was lost or lapsed writes nothing more; the place check runs it too, and latches on it. A
 * removed directory takes its LOCK with it, so a lost lock is reported as the removal when the place check finds
 * one.
 */
interface Guard {
  /** The lock's `young`: the guard would pass without IO. */
  readonly young: () => boolean
  readonly effect: Effect.Effect<void, WalCore.PrimitiveError>
}

const guardLog = <S>(log: WalCore.LogPrimitives<S>, guard: Guard): WalCore.LogPrimitives<S> => {
  const { checkPlace } = log
  return {
    ...log,
    create: (firstSeq) => Effect.zipRight(guard.effect, log.create(firstSeq)),
    // One step when the lease is young: appends are once per batch, and the guard's effect chain cost more
    // interpreter steps than the append's own.
    append: (segment, records) =>
      Effect.suspend(() =>
        guard.young() ? log.append(segment, records) : Effect.zipRight(guard.effect, log.append(segment, records)),
      ),
    remove: (segment) => Effect.zipRight(guard.effect, log.remove(segment)),
    checkPlace: checkPlace === undefined ? guard.effect : Effect.zipRight(checkPlace, guard.effect),
  }
}

const preferPlace = (
  lockGuard: LockHold["guard"],
  checkPlace: WalCore.LogPrimitives<unknown>["checkPlace"],
): Guard["effect"] =>
  checkPlace === undefined
    ? lockGuard
    : Effect.catchAll(lockGuard, (lost) => Effect.zipRight(checkPlace, Effect.fail(lost)))

const guardSnapshots = (
  snapshots: WalCore.SnapshotPrimitives,
  { effect: guard }: Guard,
): WalCore.SnapshotPrimitives => ({
  ...snapshots,
  stage: (snapshot) =>
    Effect.zipRight(
      guard,
      Effect.map(snapshots.stage(snapshot), (publish) => Effect.zipRight(guard, publish)),
    ),
  remove: (lastSeq) => Effect.zipRight(guard, snapshots.remove(lastSeq)),
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
