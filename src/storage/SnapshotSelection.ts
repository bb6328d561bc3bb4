/**
 * Choosing the snapshot recovery starts from. The newest valid snapshot wins; a corrupt newer one is skipped only
 * when the log still holds every record after the older snapshot, so falling back never loses history. When no
 * sound choice exists this fails with `WalCorrupt` naming the file that broke the chain.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Option } from "effect"
import { type StorageFailed, WalCorrupt } from "../domain/errors.ts"
import type { Checksum } from "./Checksum.ts"
import { decodeSnapshot } from "./SnapshotFormat.ts"
import type { Snapshot } from "./SnapshotStore.ts"
import { io } from "./StorageError.ts"

export interface SnapshotCandidate {
  readonly file: string
  /** The seq its file name declares. */
  readonly lastSeq: number
}

export interface SnapshotSelection {
  readonly chosen: Option.Option<{ readonly file: string; readonly snapshot: Snapshot }>
  /** Newer snapshots that failed validation and were skipped (newest first). */
  readonly corrupt: ReadonlyArray<{ readonly file: string; readonly lastSeq: number; readonly reason: string }>
}

/**
 * Validates `candidates` (newest first) until one is valid and covered by the log, which starts at `logFirstSeq`.
 * `logFirstFile` names the oldest segment, for errors about the log itself.
 */
export const selectSnapshot = (
  fs: FileSystem.FileSystem,
  candidates: ReadonlyArray<SnapshotCandidate>,
  registryId: Uint8Array,
  checksum: Checksum,
  logFirstSeq: number,
  logFirstFile: string,
): Effect.Effect<SnapshotSelection, StorageFailed | WalCorrupt> =>
  Effect.gen(function* () {
    const corrupt: Array<{ file: string; lastSeq: number; reason: string }> = []
    const uncovered = (coveredUpTo: number, olderFile: string) => {
      const broken = corrupt[0]
      return broken === undefined
        ? new WalCorrupt({
            file: logFirstFile,
            offset: 0,
            seq: coveredUpTo + 1,
            reason: `the log starts at seq ${logFirstSeq} but ${olderFile} covers only up to seq ${coveredUpTo}`,
          })
        : new WalCorrupt({
            file: broken.file,
            offset: 0,
            seq: broken.lastSeq,
            reason: `${broken.reason}; falling back to ${olderFile} would need the log from seq ${coveredUpTo + 1}, but it starts at ${logFirstSeq}`,
          })
    }
    for (const candidate of candidates) {
      const bytes = yield* io("read", candidate.file, fs.readFile(candidate.file))
      const decoded = decodeSnapshot(bytes, registryId, checksum)
      const reason =
        typeof decoded === "string"
          ? decoded
          : decoded.lastSeq !== candidate.lastSeq
            ? `holds seq ${decoded.lastSeq}, its name says ${candidate.lastSeq}`
            : undefined
      if (reason !== undefined || typeof decoded === "string") {
        corrupt.push({ file: candidate.file, lastSeq: candidate.lastSeq, reason: reason ?? "" })
        continue
      }
      if (logFirstSeq > decoded.lastSeq + 1) return yield* uncovered(decoded.lastSeq, candidate.file)
      return { chosen: Option.some({ file: candidate.file, snapshot: decoded }), corrupt }
    }
    if (logFirstSeq > 1) return yield* uncovered(0, "an empty state")
    return { chosen: Option.none(), corrupt }
  })
