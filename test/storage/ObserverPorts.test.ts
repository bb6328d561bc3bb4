/**
 * `CursorStore` and `AppendSink`, file (real temp directories) and memory, through one shared set of cases:
 * values survive a "reopen", names cannot escape the directory, and failures (injected by the simulated disk)
 * follow the fsync rules.
 */
import { NodeContext } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Option, type Scope } from "effect"
import * as AppendSink from "../../src/storage/AppendSink.ts"
import * as CursorStore from "../../src/storage/CursorStore.ts"
import { makeSimulatedDisk } from "../../src/testing/SimulatedFileSystem.ts"
import { makeTempDirectory } from "./harness.ts"

interface Backend {
  readonly name: string
  /** Opens the ports over one persistent "directory"; call again to model a restart. */
  readonly fresh: Effect.Effect<
    () => Effect.Effect<{ cursors: CursorStore.CursorStore; sink: AppendSink.AppendSink }, never, Scope.Scope>,
    never,
    Scope.Scope
  >
}

const fileBackend: Backend = {
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

const memoryBackend: Backend = {
  name: "memory",
  fresh: Effect.sync(() => {
    const cursors: CursorStore.MemoryCursors = new Map()
    const files: AppendSink.MemoryFiles = new Map()
    return () => Effect.succeed({ cursors: CursorStore.makeMemory(cursors), sink: AppendSink.makeMemory(files) })
  }),
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const utf8 = new TextEncoder()

layer(NodeContext.layer)("observer ports", (it) => {
  for (const backend of [fileBackend, memoryBackend]) {
    it.scoped(`${backend.name}: cursors round-trip and survive a reopen`, () =>
      Effect.gen(function* () {
        const openPorts = yield* backend.fresh
        const first = yield* Effect.scoped(
          Effect.gen(function* () {
            const { cursors } = yield* openPorts()
            const none = yield* cursors.get("observers/audit.cursor")
            yield* cursors.set("observers/audit.cursor", 7)
            yield* cursors.set("observers/audit.cursor", 42)
            yield* cursors.set("observers/metrics.cursor", 0)
            return none
          }),
        )
        expect(first).toEqual(Option.none())
        const { cursors } = yield* openPorts()
        expect(yield* cursors.get("observers/audit.cursor")).toEqual(Option.some(42))
        expect(yield* cursors.get("observers/metrics.cursor")).toEqual(Option.some(0))
      }),
    )

    it.scoped(`${backend.name}: appended lines accumulate in order and survive a reopen`, () =>
      Effect.gen(function* () {
        const openPorts = yield* backend.fresh
        yield* Effect.scoped(
          Effect.gen(function* () {
            const { sink } = yield* openPorts()
            expect(yield* sink.readAll("observers/a.dead.ndjson")).toEqual(new Uint8Array())
            yield* sink.append("observers/a.dead.ndjson", utf8.encode('{"seq":1}\n'))
            yield* sink.append("observers/a.dead.ndjson", utf8.encode('{"seq":2}\n'))
            yield* sink.append("audit.ndjson", utf8.encode("x\n"))
          }),
        )
        const { sink } = yield* openPorts()
        yield* sink.append("observers/a.dead.ndjson", utf8.encode('{"seq":3}\n'))
        expect(text(yield* sink.readAll("observers/a.dead.ndjson"))).toBe('{"seq":1}\n{"seq":2}\n{"seq":3}\n')
        expect(text(yield* sink.readAll("audit.ndjson"))).toBe("x\n")
      }),
    )

    it.scoped(`${backend.name}: names that could escape the directory are defects`, () =>
      Effect.gen(function* () {
        const openPorts = yield* backend.fresh
        const { cursors, sink } = yield* openPorts()
        for (const name of ["../x.cursor", "/etc/passwd", "a//b", "", "observers/.hidden", "x.tmp", "a/b/c/d/e"]) {
          const exits: Array<Exit.Exit<unknown, unknown>> = [
            yield* cursors.set(name, 1).pipe(Effect.exit),
            yield* cursors.get(name).pipe(Effect.exit),
            yield* sink.append(name, new Uint8Array([1])).pipe(Effect.exit),
          ]
          for (const exit of exits) expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        }
        const negative = yield* cursors.set("c.cursor", -1).pipe(Effect.exit)
        expect(Exit.isFailure(negative) && Cause.isDie(negative.cause)).toBe(true)
      }),
    )
  }

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
