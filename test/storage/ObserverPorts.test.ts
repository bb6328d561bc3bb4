/**
 * `CursorStore` and `AppendSink`, file (real temp directories) and memory, through one shared set of cases:
 * values survive a "reopen", names cannot escape the directory, and failures (injected by the simulated disk)
 * follow the fsync rules.
 */
import { NodeContext } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import * as AppendSink from "../../src/storage/AppendSink.ts"
import * as CursorStore from "../../src/storage/CursorStore.ts"
import { makeSimulatedDisk } from "../../src/testing/SimulatedFileSystem.ts"
import { makeTempDirectory } from "./harness.ts"
import { type ObserverPortsBackend, observerPortsContract } from "./ObserverPorts.contract.ts"

const fileBackend: ObserverPortsBackend = {
  name: "file",
  fresh: Effect.map(
    makeTempDirectory,
    (directory) => () =>
      Effect.all({
        cursors: CursorStore.makeFileSystem({ directory }),
        sink: AppendSink.makeFileSystem({ directory }),
      }).pipe(Effect.provide(NodeContext.layer)),
  ),
}

const memoryBackend: ObserverPortsBackend = {
  name: "memory",
  fresh: Effect.sync(() => {
    const cursors: CursorStore.MemoryCursors = new Map()
    const files: AppendSink.MemoryFiles = new Map()
    return () => Effect.succeed({ cursors: CursorStore.makeMemory(cursors), sink: AppendSink.makeMemory(files) })
  }),
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const utf8 = new TextEncoder()

observerPortsContract(fileBackend)
observerPortsContract(memoryBackend)

layer(NodeContext.layer)("observer ports", (it) => {
  it.scoped("file: a failed write leaves no partial line; a failed fsync fails the sink for good", () =>
    Effect.gen(function* () {
      const disk = makeSimulatedDisk({ seed: 1 })
      const sink = yield* AppendSink.makeFileSystem({ directory: "/obs" }).pipe(Effect.provide(disk.layerWithPath))
      const fromNext = () => ({ fromIo: disk.ioCount + 1 })
      yield* sink.append("audit.ndjson", utf8.encode("one\n"))
      disk.setFaults({ enospcOnWrite: fromNext() })
      const write = yield* sink.append("audit.ndjson", utf8.encode("two two two\n")).pipe(Effect.exit)
      expect(Exit.isFailure(write)).toBe(true)
      expect(disk.faults.enospcOnWrite).toBe(1)
      expect(text(yield* disk.fileSystem.readFile("/obs/audit.ndjson"))).toBe("one\n")
      disk.setFaults({})
      yield* sink.append("audit.ndjson", utf8.encode("three\n"))
      disk.setFaults({ eioOnSync: fromNext() })
      const sync = yield* sink.append("audit.ndjson", utf8.encode("four\n")).pipe(Effect.exit)
      expect(Exit.isFailure(sync) && Cause.squash(sync.cause)).toMatchObject({
        _tag: "StorageFailed",
        operation: "fsync",
      })
      disk.setFaults({})
      const after = yield* sink.append("audit.ndjson", utf8.encode("five\n")).pipe(Effect.exit)
      expect(Exit.isFailure(after) && Cause.squash(after.cause)).toMatchObject({ reason: "PortFailed" })
    }),
  )

  it.effect("file: a cursor set that fails before the rename keeps the old value", () =>
    Effect.gen(function* () {
      const disk = makeSimulatedDisk({ seed: 1 })
      const cursors = yield* CursorStore.makeFileSystem({ directory: "/obs" }).pipe(Effect.provide(disk.layerWithPath))
      yield* cursors.set("observers/o.cursor", 5)
      disk.setFaults({ eioOnWrite: { fromIo: disk.ioCount + 1 } })
      expect(Exit.isFailure(yield* cursors.set("observers/o.cursor", 6).pipe(Effect.exit))).toBe(true)
      expect(disk.faults.eioOnWrite).toBe(1)
      disk.setFaults({})
      expect(yield* cursors.get("observers/o.cursor")).toEqual(Option.some(5))
      yield* cursors.set("observers/o.cursor", 6)
      expect(yield* cursors.get("observers/o.cursor")).toEqual(Option.some(6))
    }),
  )
})
