/**
 * Compaction crash test: the sequence rotate → snapshot tmp write → fsync → rename → directory fsync → delete old
 * segments is stopped before every one of its I/Os (a power cut on the simulated disk: the later steps never
 * happen), the disk crashes in every variant it models, and a new process reopens the directory: the recovered
 * state (snapshot + replayed log) must be exactly the acknowledged history.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Option } from "effect"
import { segmentFileName, snapshotFileName } from "../../src/storage/FileNames.ts"
import { layerFileSystem } from "../../src/storage/FileStorage.ts"
import { crashVariants, makeSimulatedDisk, type SimulatedDisk } from "../../src/testing/SimulatedFileSystem.ts"
import { collect, type Ports, processInfo, records, testPid, withPorts } from "./harness.ts"

const utf8 = new TextEncoder()
const stateAt = (seq: number) => utf8.encode(JSON.stringify(Array.from({ length: seq }, (_, i) => i + 1)))
const directory = "/data"

/** A process (pid) opening the directory; a crashed one is dead, so its lock is stale for the next. */
const open = (disk: SimulatedDisk, pid = testPid) =>
  layerFileSystem({ directory }).pipe(Layer.provide(Layer.merge(disk.layerWithPath, processInfo([], pid))))

/** Snapshot state followed by the replayed log, as seqs. */
const recoveredSeqs = ({ wal, snapshots }: Ports) =>
  Effect.gen(function* () {
    const snapshot = yield* snapshots.latest
    const seqs: Array<number> = Option.match(snapshot, {
      onNone: () => [],
      onSome: (s) => JSON.parse(new TextDecoder().decode(s.state)) as Array<number>,
    })
    const from = Option.match(snapshot, { onNone: () => 1, onSome: (s) => s.lastSeq + 1 })
    for (const r of yield* collect(wal.read(from))) seqs.push(r.seq)
    return seqs
  })

const compact = ({ wal, snapshots }: Ports, lastSeq: number) =>
  Effect.gen(function* () {
    yield* wal.rotate
    yield* snapshots.write({ lastSeq, state: stateAt(lastSeq) })
    yield* wal.deleteSegmentsUpTo(lastSeq)
  })

describe("compaction crash points (simulated disk)", () => {
  it.effect("every stop point of a compaction, in every crash variant, recovers exactly the acknowledged history", () =>
    Effect.gen(function* () {
      const template = makeSimulatedDisk({ seed: 7 })
      // History: 1..10, a first compaction at 10 (so the second one has a segment to delete), then 11..20.
      yield* withPorts(open(template), (ports) =>
        Effect.gen(function* () {
          yield* ports.wal.append(records(1, 10))
          yield* compact(ports, 10)
          yield* ports.wal.append(records(11, 10))
        }),
      )
      const expected = Array.from({ length: 20 }, (_, i) => i + 1)
      const crashStates = new Set<string>()
      let fullRun: ReadonlyArray<string> | undefined
      let stopPoints = 0
      for (let haltAt = 0; fullRun === undefined; haltAt++) {
        const disk = template.fork()
        const outcome = yield* withPorts(open(disk), (ports) =>
          Effect.gen(function* () {
            const start = disk.trace.length
            disk.crashAfterIo(disk.ioCount + haltAt)
            const result = yield* Effect.either(compact(ports, 20))
            return { result, trace: disk.trace.slice(start) }
          }),
        )
        if (Either.isRight(outcome.result)) fullRun = outcome.trace
        else expect(disk.halted).toBe(true)
        stopPoints++
        for (const variant of crashVariants) {
          const crashed = disk.fork()
          crashed.crash(variant)
          crashStates.add(crashed.fingerprint("volatile"))
          expect(yield* withPorts(open(crashed, testPid + 1), recoveredSeqs)).toEqual(expected)
        }
      }
      // The stop points covered, in order: each step of the compaction sequence (docs/architecture.md).
      const seg = `${directory}/${segmentFileName(21)}`
      const snap = `${directory}/${snapshotFileName(20)}`
      expect(fullRun!.map((line) => line.replace(/^\d+ /, ""))).toEqual([
        `open ${seg}.tmp w`, // 1. rotate: the new segment's header, durably created
        `write ${seg}.tmp @0 +96`,
        `fsync ${seg}.tmp`,
        `rename ${seg}.tmp ${seg}`,
        `open ${directory} r`,
        `fsync ${directory} dir`,
        `open ${seg} a`,
        `open ${snap}.tmp w`, // 2. snapshot: tmp, write (header, then state), fsync, rename, directory fsync
        `write ${snap}.tmp @0 +80`,
        `write ${snap}.tmp @80 +52`,
        `fsync ${snap}.tmp`,
        `rename ${snap}.tmp ${snap}`,
        `open ${directory} r`,
        `fsync ${directory} dir`,
        `rm ${directory}/${segmentFileName(1)}`, // 3. only then delete the segment the older snapshot covers
        `open ${directory} r`,
        `fsync ${directory} dir`,
      ])
      expect(stopPoints).toBe(fullRun!.length + 1)
      expect(crashStates.size).toBeGreaterThan(stopPoints)
    }),
  )
})
