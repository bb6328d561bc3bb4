/**
 * Failure semantics on a real disk with injected faults: a failed fsync fails the port for good (never retried),
 * a failed write is truncated back and fails only its batch, and a failed truncate fails the port.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import { segmentFileName } from "../../src/storage/FileNames.ts"
import { layerFileSystem } from "../../src/storage/FileStorage.ts"
import { type FaultControl, faultyFileSystem } from "./faultyFileSystem.ts"
import { collect, makeTempDirectory, plain, processInfo, records, withPorts } from "./harness.ts"

const openFaulty = (directory: string, control: FaultControl) =>
  layerFileSystem({ directory }).pipe(
    Layer.provide(faultyFileSystem(control)),
    Layer.provide(Layer.merge(NodeContext.layer, processInfo())),
  )

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Cause.squash(exit.cause)
}

layer(NodeContext.layer)("failure semantics (real disk, injected faults)", (it) => {
  it.scoped("a failed fsync fails the batch and then every later call until reopened; the fsync is not retried", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      const control: FaultControl = { log: [] }
      yield* withPorts(openFaulty(directory, control), ({ wal, snapshots }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 3))
          control.failSyncOf = ".seg"
          expect(failureOf(yield* wal.append(records(4, 2)).pipe(Effect.exit))).toMatchObject({
            _tag: "StorageFailed",
            operation: "fsync",
            path: `${directory}/${segmentFileName(1)}`,
          })
          control.failSyncOf = undefined // the disk "recovers"; the port must not
          expect(yield* wal.lastSeq).toBe(3)
          const later = [
            wal.append(records(4, 2)),
            collect(wal.read(1)),
            wal.rotate,
            wal.deleteSegmentsUpTo(3),
            snapshots.write({ lastSeq: 3, state: new Uint8Array() }),
            snapshots.latest,
          ]
          for (const call of later)
            expect(failureOf(yield* (call as Effect.Effect<unknown, unknown>).pipe(Effect.exit))).toMatchObject({
              _tag: "StorageFailed",
              reason: "PortFailed",
            })
        }),
      )
      // After reopening, the unacknowledged batch may or may not be there; the acknowledged one is.
      const back = yield* withPorts(openFaulty(directory, { log: [] }), ({ wal }) => collect(wal.read(1)))
      expect(back.length === 3 || back.length === 5).toBe(true)
      expect(plain(back)).toEqual(plain(records(1, back.length)))
    }),
  )

  it.scoped("a failed write is truncated back: the batch fails, the port stays available, no garbage remains", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* makeTempDirectory
      const file = `${directory}/${segmentFileName(1)}`
      const control: FaultControl = { log: [] }
      yield* withPorts(openFaulty(directory, control), ({ wal }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 3))
          const size = (yield* fs.readFile(file)).length
          control.failWriteOf = ".seg"
          expect(failureOf(yield* wal.append(records(4, 4)).pipe(Effect.exit))).toMatchObject({
            _tag: "StorageFailed",
            operation: "write",
            path: file,
          })
          expect((yield* fs.readFile(file)).length).toBe(size)
          control.failWriteOf = undefined
          expect(yield* wal.lastSeq).toBe(3)
          yield* wal.append(records(4, 4))
          expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, 7)))
        }),
      )
      yield* withPorts(openFaulty(directory, { log: [] }), ({ wal }) =>
        Effect.gen(function* () {
          expect(wal.recovery.tornTail).toEqual(Option.none())
          expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, 7)))
        }),
      )
    }),
  )

  it.scoped("a failed write whose truncate also fails fails the port; reopening repairs the torn tail", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      const file = `${directory}/${segmentFileName(1)}`
      const control: FaultControl = { log: [] }
      yield* withPorts(openFaulty(directory, control), ({ wal }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 3))
          control.failWriteOf = ".seg"
          control.failTruncate = true
          expect(failureOf(yield* wal.append(records(4, 3)).pipe(Effect.exit))).toMatchObject({ operation: "write" })
          control.failWriteOf = undefined
          control.failTruncate = false
          expect(failureOf(yield* wal.append(records(4, 1)).pipe(Effect.exit))).toMatchObject({
            _tag: "StorageFailed",
            reason: "PortFailed",
          })
        }),
      )
      yield* withPorts(openFaulty(directory, { log: [] }), ({ wal }) =>
        Effect.gen(function* () {
          // Half of the 3 × 24-byte batch reached the file: record 4 whole, 12 bytes of record 5.
          expect(yield* wal.lastSeq).toBe(4)
          expect(Option.getOrThrow(wal.recovery.tornTail)).toMatchObject({
            file,
            offset: 64 + 4 * 24,
            bytesDropped: 12,
            recordsDropped: 1,
          })
        }),
      )
    }),
  )
})
