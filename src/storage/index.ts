/**
 * The storage layer's public surface: the ports (`Wal`, `SnapshotStore`, `CursorStore`, `AppendSink`), their
 * file and memory implementations, and the runtime services they need (`Checksum`, `ProcessInfo`).
 */
export * as AppendSink from "./AppendSink.ts"
export * as Checksum from "./Checksum.ts"
export * as CursorStore from "./CursorStore.ts"
export {
  type FileStorageOptions,
  layerFileSystem,
  makeFileStorage,
  type OpenError,
  type Storage,
} from "./FileStorage.ts"
export { defaultLimits, type StorageLimits } from "./Limits.ts"
export { layerMemory, type MemoryStore, makeMemoryStorage, makeMemoryStore } from "./MemoryStorage.ts"
export * as ProcessInfo from "./ProcessInfo.ts"
export { type Snapshot, SnapshotStore } from "./SnapshotStore.ts"
export {
  type RecoveryReport,
  type SegmentInfo,
  type SnapshotFallback,
  type TornTail,
  Wal,
  type WalRecord,
} from "./Wal.ts"
