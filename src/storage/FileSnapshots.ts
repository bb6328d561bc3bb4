/**
 * Snapshots as files (`snap-<last seq>.snap`): choosing the one to recover from at open, moving aside newer ones
 * that failed validation, and the snapshot primitives the core derives the `SnapshotStore` port from.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { Effect, Option } from "effect"
import { StorageFailed, type WalCorrupt } from "../domain/errors.ts"
import { partsOf } from "./ByteParts.ts"
import type { Checksum } from "./Checksum.ts"
import { removeDurably, renameDurably, syncDirectory, writeAndSync } from "./Directory.ts"
import { brokenSuffix, snapshotFileName, tmpSuffix } from "./FileNames.ts"
import { snapshotHeader } from "./SnapshotFormat.ts"
import { selectSnapshot } from "./SnapshotSelection.ts"
import type { Snapshot } from "./SnapshotStore.ts"
import { type DurabilityLost, io } from "./StorageError.ts"
import type { SnapshotFallback } from "./Wal.ts"
import type { SnapshotPrimitives } from "./WalCore.ts"

/** How much of a snapshot may be dirty in the page cache at once; see `stage`. */
const snapshotSyncEveryBytes = 4 * 1024 * 1024

export interface FileSnapshotsOptions {
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  readonly directory: string
  readonly registryId: Uint8Array
  readonly checksum: Checksum
  readonly readOnly: boolean
  /** The log's chain value after a seq, written into the snapshot's header (`FileLog.chainAt`). */
  readonly chainAt: (seq: number) => Effect.Effect<Uint8Array | undefined, StorageFailed | WalCorrupt>
}

export interface FileSnapshots {
  readonly chosen: Option.Option<Snapshot>
  /** The snapshots that stay published, newest first. */
  readonly retained: ReadonlyArray<number>
  /** Moves the invalid newer snapshots aside (read-only: only reports them). */
  readonly fallBack: Effect.Effect<ReadonlyArray<SnapshotFallback>, StorageFailed | DurabilityLost>
  readonly primitives: SnapshotPrimitives
}

/**
 * Chooses the snapshot to recover from among `lastSeqs` (newest first) for a log that starts at `logFirstSeq` in
 * `logFirst`, and returns the snapshot primitives.
 */
export const open = (
  options: FileSnapshotsOptions,
  lastSeqs: ReadonlyArray<number>,
  logFirstSeq: number,
  logFirst: string,
): Effect.Effect<FileSnapshots, StorageFailed | WalCorrupt> =>
  Effect.gen(function* () {
    const { fs, path, directory, registryId, checksum, readOnly, chainAt } = options
    const fileOf = (lastSeq: number) => path.join(directory, snapshotFileName(lastSeq))
    const candidates = (seqs: ReadonlyArray<number>) => seqs.map((lastSeq) => ({ file: fileOf(lastSeq), lastSeq }))
    const selection = yield* selectSnapshot(fs, candidates(lastSeqs), registryId, checksum, logFirstSeq, logFirst)
    const movedAside = new Set(selection.corrupt.map((c) => c.lastSeq))
    const fallBack = Effect.forEach(selection.corrupt, (broken) =>
      readOnly
        ? Effect.succeed<SnapshotFallback>({ file: broken.file, reason: broken.reason })
        : Effect.as(renameDurably(fs, directory, broken.file, broken.file + brokenSuffix), {
            file: broken.file,
            reason: broken.reason,
            brokenFile: broken.file + brokenSuffix,
          }),
    )

    // A segment found damaged while looking up the chain value fails the snapshot only, like a failed write.
    const chainValueFor = (lastSeq: number) =>
      Effect.catchTag(chainAt(lastSeq), "WalCorrupt", (e) =>
        Effect.fail(
          new StorageFailed({
            operation: "snapshot-write",
            path: e.file,
            reason: "InvalidData",
            message: `reading the chain value at seq ${lastSeq}: ${e.reason}`,
          }),
        ),
      )
    const primitives: SnapshotPrimitives = {
      describe: fileOf,
      // Synced every few MiB: on ext4 (data=ordered) the log's next fdatasync waits for every dirty block the
      // journal commit covers, so one large write held registers for the whole snapshot.
      stage: (snapshot) =>
        Effect.flatMap(chainValueFor(snapshot.lastSeq), (chainHead) => {
          const target = fileOf(snapshot.lastSeq)
          const tmp = target + tmpSuffix
          const parts = [snapshotHeader(snapshot, registryId, checksum, chainHead), ...partsOf(snapshot.state)]
          // A write that failed (a full disk, most likely) leaves a partial file whose space the disk needs back
          // now; open removes any tmp file left by a crash, so this removal need not be durable.
          return Effect.as(
            Effect.tapError(writeAndSync(fs, tmp, parts, "w", snapshotSyncEveryBytes), () =>
              Effect.ignore(fs.remove(tmp)),
            ),
            Effect.zipRight(io("rename", tmp, fs.rename(tmp, target)), syncDirectory(fs, directory)),
          )
        }),
      remove: (lastSeq) => removeDurably(fs, directory, fileOf(lastSeq)),
      readLatest: (retained, firstSeq, first) =>
        Effect.map(selectSnapshot(fs, candidates(retained), registryId, checksum, firstSeq, first), (chosen) =>
          Option.map(chosen.chosen, (c) => c.snapshot),
        ),
    }
    return {
      chosen: Option.map(selection.chosen, (c) => c.snapshot),
      retained: lastSeqs.filter((seq) => !movedAside.has(seq)),
      fallBack,
      primitives,
    }
  })
