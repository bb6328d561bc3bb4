/**
 * The hash chain through crashes (simulated disk, runtime-neutral SHA-256): a crash before any I/O of a workload
 * that appends across segment rolls and writes a snapshot, in every crash variant, reopens to a log whose chain
 * verifies, and the records appended after the reopen chain on from the last durable record (a torn tail's repair
 * included) rather than from anything the crash lost.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { checkChain } from "../../src/storage/ChainCheck.ts"
import { layerFileSystem } from "../../src/storage/FileStorage.ts"
import { crashVariants, makeSimulatedDisk, type SimulatedDisk } from "../../src/testing/SimulatedFileSystem.ts"
import { processInfo, records, withPorts } from "./harness.ts"

const directory = "/data"
const limits = { segmentBytesMax: 400, recordBytesMax: 128 } as const

/** `pid` is the opening process: the one after a crash is another, and finds the crashed one's lock stale. */
const open = (disk: SimulatedDisk, pid = 1) =>
  layerFileSystem({ directory, ...limits }).pipe(Layer.provide(Layer.merge(disk.layerWithPath, processInfo([], pid))))

const workload = (disk: SimulatedDisk) =>
  withPorts(open(disk), ({ wal, snapshots }) =>
    Effect.gen(function* () {
      for (let seq = 1; seq <= 9; seq += 2) yield* wal.append(records(seq, 2))
      yield* wal.rotate
      yield* snapshots.write({ lastSeq: 10, state: new Uint8Array([10]) })
      yield* wal.append(records(11, 2))
    }),
  )

/** Reopens, appends two records after whatever survived, and checks the chain against the snapshot it chose. */
const reopenAndCheck = (disk: SimulatedDisk) =>
  Effect.gen(function* () {
    const { lastSeq, anchor } = yield* withPorts(open(disk, 2), ({ wal, snapshots }) =>
      Effect.gen(function* () {
        const lastSeq = yield* wal.lastSeq
        yield* wal.append(records(lastSeq + 1, 2))
        const latest = Option.getOrUndefined(yield* snapshots.latest)
        const anchor =
          latest?.chainHead === undefined ? undefined : { lastSeq: latest.lastSeq, chainHead: latest.chainHead }
        return { lastSeq: lastSeq + 2, anchor }
      }),
    )
    const report = yield* checkChain(directory, limits.recordBytesMax, anchor).pipe(Effect.provide(disk.layerWithPath))
    expect(report).toMatchObject({ chainedFrom: 1, lastSeq, unchainedThrough: undefined })
    return report
  })

describe("hash chain through crashes (simulated disk)", () => {
  it.effect("every crash point, in every variant, reopens to a verifiable chain that goes on from what was kept", () =>
    Effect.gen(function* () {
      const dry = makeSimulatedDisk({ seed: 7 })
      yield* workload(dry)
      const ios = dry.ioCount
      expect(ios).toBeGreaterThan(30)
      let anchored = 0
      for (let k = 0; k < ios; k++) {
        const disk = makeSimulatedDisk({ seed: 7 })
        disk.crashAfterIo(k)
        yield* Effect.exit(workload(disk))
        for (const variant of crashVariants) {
          const forked = disk.fork()
          forked.crash(variant, { seed: `${k}-${variant}` })
          const report = yield* reopenAndCheck(forked)
          if (report.anchoredAt !== undefined) anchored++
        }
      }
      // Crashes after the snapshot was published reopen with it, and its chain value is checked.
      expect(anchored).toBeGreaterThan(0)
    }),
  )
})
