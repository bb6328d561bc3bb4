/**
 * Failure semantics with injected faults, on the simulated disk: a failed fsync fails the port for good (never
 * retried), a failed write is truncated back and fails only its batch, and a failed truncate fails the port.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import { segmentFileName } from "../../src/storage/FileNames.ts"
import { layerFileSystem } from "../../src/storage/FileStorage.ts"
import { makeSimulatedDisk, type SimulatedDisk } from "../../src/testing/SimulatedFileSystem.ts"
import { collect, plain, processInfo, records, withPorts } from "./harness.ts"

const directory = "/data"
const file = `${directory}/${segmentFileName(1)}`

const open = (disk: SimulatedDisk) =>
  layerFileSystem({ directory }).pipe(Layer.provide(Layer.merge(disk.layerWithPath, processInfo())))

/** The I/O `k` I/Os from now (an append is its write, then its sync; a failed write is followed by the cut). */
const next = (disk: SimulatedDisk, k: number) => ({ atIo: disk.ioCount + k })

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Cause.squash(exit.cause)
}

const segmentBytes = (disk: SimulatedDisk) => disk.volatileImage().files.find(([p]) => p === file)?.[1].length

describe("failure semantics (simulated disk, injected faults)", () => {
  it.effect("a failed fsync fails the batch and then every later call until reopened; the fsync is not retried", () =>
    Effect.gen(function* () {
      const disk = makeSimulatedDisk({ seed: 1 })
      yield* withPorts(open(disk), ({ wal, snapshots }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 3))
          disk.setFaults({ eioOnSync: next(disk, 2) })
          expect(failureOf(yield* wal.append(records(4, 2)).pipe(Effect.exit))).toMatchObject({
            _tag: "StorageFailed",
            operation: "fsync",
            path: file,
          })
          disk.setFaults({}) // the disk "recovers"; the port must not
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
      const back = yield* withPorts(open(disk), ({ wal }) => collect(wal.read(1)))
      expect(back.length === 3 || back.length === 5).toBe(true)
      expect(plain(back)).toEqual(plain(records(1, back.length)))
    }),
  )

  it.effect("a failed write is truncated back: the batch fails, the port stays available, no garbage remains", () =>
    Effect.gen(function* () {
      const disk = makeSimulatedDisk({ seed: 1 })
      yield* withPorts(open(disk), ({ wal }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 3))
          const size = segmentBytes(disk)
          disk.setFaults({ enospcOnWrite: next(disk, 1) })
          expect(failureOf(yield* wal.append(records(4, 4)).pipe(Effect.exit))).toMatchObject({
            _tag: "StorageFailed",
            operation: "write",
            path: file,
          })
          expect(disk.faults.enospcOnWrite).toBe(1)
          expect(segmentBytes(disk)).toBe(size)
          disk.setFaults({})
          expect(yield* wal.lastSeq).toBe(3)
          yield* wal.append(records(4, 4))
          expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, 7)))
        }),
      )
      // A crash that keeps only what was synced: the cut-back was synced, so no garbage comes back.
      disk.crash("drop")
      yield* withPorts(open(disk), ({ wal }) =>
        Effect.gen(function* () {
          expect(wal.recovery.tornTail).toEqual(Option.none())
          expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, 7)))
        }),
      )
    }),
  )

  it.effect(
    "ENOSPC while creating the next segment fails that batch only: the new file is removed durably and the roll retried",
    () =>
      Effect.gen(function* () {
        const disk = makeSimulatedDisk({ seed: 1 })
        // Two 56-byte records fill a segment: the third append must roll.
        const small = (d: SimulatedDisk) =>
          layerFileSystem({ directory, recordBytesMax: 64, segmentBytesMax: 208 }).pipe(
            Layer.provide(Layer.merge(d.layerWithPath, processInfo())),
          )
        const second = `${directory}/${segmentFileName(3)}`
        const names = (image: { readonly files: ReadonlyArray<readonly [string, Uint8Array]> }) =>
          image.files.map(([p]) => p).filter((p) => p.includes("wal-"))
        yield* withPorts(small(disk), ({ wal }) =>
          Effect.gen(function* () {
            yield* wal.append(records(1, 2))
            disk.setFaults({ enospcOnWrite: { fromIo: disk.ioCount + 1 } })
            expect(failureOf(yield* wal.append(records(3, 1)).pipe(Effect.exit))).toMatchObject({
              _tag: "StorageFailed",
              reason: "NoSpace",
            })
            expect(disk.faults.enospcOnWrite).toBeGreaterThan(0)
            // Undone on disk as in the port: neither the new segment nor its tmp file is left, durably.
            expect(names(disk.durableImage())).toEqual([file])
            expect(names(disk.volatileImage())).toEqual([file])
            expect((yield* wal.segments).length).toBe(1)
            // Still full: the next batch retries the roll and fails the same way, without latching.
            expect(failureOf(yield* wal.append(records(3, 1)).pipe(Effect.exit))).toMatchObject({ reason: "NoSpace" })
            disk.setFaults({}) // space freed
            yield* wal.append(records(3, 2))
            expect(names(disk.volatileImage())).toEqual([file, second])
            expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, 4)))
          }),
        )
        disk.crash("drop")
        yield* withPorts(small(disk), ({ wal }) =>
          Effect.gen(function* () {
            expect(wal.recovery.tornTail).toEqual(Option.none())
            expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, 4)))
          }),
        )
      }),
  )

  it.effect("a failed write whose truncate also fails fails the port; reopening repairs the torn tail", () =>
    Effect.gen(function* () {
      const disk = makeSimulatedDisk({ seed: 1 })
      yield* withPorts(open(disk), ({ wal }) =>
        Effect.gen(function* () {
          yield* wal.append(records(1, 3))
          disk.setFaults({ enospcOnWrite: next(disk, 1), eio: next(disk, 2) })
          expect(failureOf(yield* wal.append(records(4, 3)).pipe(Effect.exit))).toMatchObject({ operation: "write" })
          disk.setFaults({})
          expect(failureOf(yield* wal.append(records(4, 1)).pipe(Effect.exit))).toMatchObject({
            _tag: "StorageFailed",
            reason: "PortFailed",
          })
        }),
      )
      yield* withPorts(open(disk), ({ wal }) =>
        Effect.gen(function* () {
          // A seeded prefix of the 3 × 56-byte batch reached the file: whole records, then part of the next.
          const lastSeq = yield* wal.lastSeq
          expect(lastSeq).toBeGreaterThanOrEqual(3)
          expect(lastSeq).toBeLessThanOrEqual(5)
          const torn = Option.getOrThrow(wal.recovery.tornTail)
          expect(torn).toMatchObject({ file, offset: 96 + lastSeq * 56, recordsDropped: 1 })
          expect(torn.bytesDropped).toBeGreaterThan(0)
          expect(torn.bytesDropped).toBeLessThan(56)
          expect(plain(yield* collect(wal.read(1)))).toEqual(plain(records(1, lastSeq)))
        }),
      )
    }),
  )
})
