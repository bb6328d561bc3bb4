/**
 * The WAL's active segment on a Deno file: `writeSync` (a copy into the page cache, which blocks the event loop only
 * that long), then `syncData()` off the event loop, in one `Effect.async`: one round trip per batch, as on Node
 * (src/node.ts). fdatasync is enough for an append-only file: it flushes the size change that makes the new bytes
 * readable. What a failure means (cut back, sync, latch) is decided by `appendDurably` in the core; only the calls
 * to Deno live here.
 */
import type { SystemError } from "@effect/platform/Error"
import { Effect, Layer } from "effect"
import { type ActiveSegmentFile, fromBlockingWrite, SegmentAppender } from "../storage/SegmentAppender.ts"
import { systemError } from "./DenoFileSystem.ts"
import { deno } from "./denoTypes.ts"

export const layer: Layer.Layer<SegmentAppender> = Layer.succeed(SegmentAppender, {
  open: (path) =>
    Effect.map(
      Effect.acquireRelease(
        Effect.try({
          try: () => deno().openSync(path, { append: true, create: true }),
          catch: (error) => systemError("open", path, error),
        }),
        (file) => Effect.sync(() => file.close()),
      ),
      (file): ActiveSegmentFile => {
        // Made once per file, not per batch: the append path allocates nothing it can avoid.
        const writeSome = (bytes: Uint8Array, offset: number, length: number) =>
          file.writeSync(bytes.subarray(offset, offset + length))
        const datasync = (done: (error: SystemError | undefined) => void): void => {
          file.syncData().then(
            () => done(undefined),
            (error: unknown) => done(systemError("sync", path, error)),
          )
        }
        return fromBlockingWrite({
          writeSome,
          datasync,
          failed: (method, error) => systemError(method, path, error),
          truncate: (length) =>
            Effect.tryPromise({
              try: () => file.truncate(Number(length)),
              catch: (error) => systemError("truncate", path, error),
            }),
        })
      },
    ),
})
