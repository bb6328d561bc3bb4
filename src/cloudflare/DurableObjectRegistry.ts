/**
 * The registry on a Durable Object's storage: its log, snapshots, observer cursors and sinks all in the object's
 * SQLite database, and version ids from the runtime's Web Crypto. The object hosts one registry for as long as its
 * instance lives; a new instance (after eviction or a reset) opens it again from storage.
 */
import { Layer } from "effect"
import type {
  DirectoryLocked,
  InvalidInput,
  InvalidLifecycle,
  LifecycleMismatch,
  StorageFailed,
  WalCorrupt,
} from "../domain/errors.ts"
import * as IdGenerator from "../effects/IdGenerator.ts"
import * as ModelRegistry from "../effects/ModelRegistry.ts"
import type { StorageLimits } from "../storage/Limits.ts"
import type { DurableObjectStorage } from "./DurableObjectApi.ts"
import { layerAppendSink, layerCursorStore } from "./DurableObjectObserverStores.ts"
import { layerDurableObject as layerLog } from "./DurableObjectStorage.ts"

export interface DurableObjectRegistryOptions extends ModelRegistry.RegistryOptions, Partial<StorageLimits> {}

export type DurableObjectRegistryError =
  | InvalidInput
  | InvalidLifecycle
  | LifecycleMismatch
  | StorageFailed
  | WalCorrupt
  | DirectoryLocked

/** Version ids from Web Crypto, which workerd provides. */
export const layerIds: Layer.Layer<IdGenerator.IdGenerator> = IdGenerator.layerFrom(() => crypto.randomUUID())

/**
 * The registry in the object's `storage`. Writes are acknowledged once `storage.sync()` resolved; one registry per
 * object (a second open while one is live fails with `DirectoryLocked`).
 */
export const layerDurableObject = (
  storage: DurableObjectStorage,
  options: DurableObjectRegistryOptions = {},
): Layer.Layer<ModelRegistry.ModelRegistry, DurableObjectRegistryError> => {
  const { segmentBytesMax, recordBytesMax, ...registryOptions } = options
  // The log migrates the tables first; the observers' stores find them there.
  return ModelRegistry.layer(registryOptions).pipe(
    Layer.provide(
      Layer.mergeAll(layerCursorStore(storage), layerAppendSink(storage), layerIds).pipe(
        Layer.provideMerge(
          layerLog(storage, {
            ...(segmentBytesMax === undefined ? {} : { segmentBytesMax }),
            ...(recordBytesMax === undefined ? {} : { recordBytesMax }),
          }),
        ),
      ),
    ),
  )
}
