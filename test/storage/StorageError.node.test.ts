/**
 * Platform errors to `StorageFailed` on Node's real file system: a full disk has its own reason, on both write
 * paths (the `FileSystem` one and the raw-descriptor appender of src/node.ts). `/dev/full` answers every write
 * with ENOSPC, as a full disk does.
 */

import * as FileSystem from "@effect/platform/FileSystem"
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { layerSegmentAppender } from "../../src/node.ts"
import { SegmentAppender } from "../../src/storage/SegmentAppender.ts"
import { fromPlatformError, io } from "../../src/storage/StorageError.ts"
import { failureOf } from "../../src/testing/exits.ts"

const full = "/dev/full"
const bytes = new Uint8Array(16)

describe("storage errors on Node", () => {
  it.effect("ENOSPC from the FileSystem write path is NoSpace", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const exit = yield* Effect.exit(io("write", full, fs.writeFile(full, bytes)))
      expect(failureOf(exit)).toMatchObject({ _tag: "StorageFailed", operation: "write", reason: "NoSpace" })
    }).pipe(Effect.provide(NodeFileSystem.layer)),
  )

  it.effect("ENOSPC from the segment appender's writeSync is NoSpace", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const appender = yield* SegmentAppender
        const file = yield* io("open", full, appender.open(full))
        const failed = yield* Effect.flip(file.writeAllAndSync(bytes))
        expect(failed.step).toBe("write")
        expect(fromPlatformError("write", full, failed.error)).toMatchObject({
          _tag: "StorageFailed",
          reason: "NoSpace",
        })
      }),
    ).pipe(Effect.provide(layerSegmentAppender)),
  )

  it.effect("other errors keep the platform's reason", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const exit = yield* Effect.exit(io("read", "/nonexistent/x", fs.readFile("/nonexistent/x")))
      expect(failureOf(exit)).toMatchObject({ reason: "NotFound" })
    }).pipe(Effect.provide(NodeFileSystem.layer)),
  )
})
