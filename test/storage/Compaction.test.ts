/**
 * Compaction crash test: the sequence rotate → snapshot tmp write → fsync → rename → directory fsync → delete old
 * segments is stopped after every one of its file operations (the later ones never happen, as when the process
 * dies there), then the directory is reopened by a new process and the recovered state (snapshot + replayed log)
 * must be exactly the acknowledged history.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { layerFileSystem } from "../../src/storage/FileStorage.ts"
import { type FaultControl, faultyFileSystem } from "./faultyFileSystem.ts"
import { collect, makeTempDirectory, type Ports, processInfo, records, testPid, withPorts } from "./harness.ts"

const utf8 = new TextEncoder()
const stateAt = (seq: number) => utf8.encode(JSON.stringify(Array.from({ length: seq }, (_, i) => i + 1)))

const open = (directory: string, control: FaultControl) =>
  layerFileSystem({ directory }).pipe(
    Layer.provide(faultyFileSystem(control)),
    Layer.provide(Layer.merge(NodeContext.layer, processInfo())),
  )

/** A new process (another pid; the crashed one is dead, its lock stale) opening the directory. */
const reopen = (directory: string) =>
  layerFileSystem({ directory }).pipe(Layer.provide(Layer.merge(NodeContext.layer, processInfo([], testPid + 1))))

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

layer(NodeContext.layer)("compaction crash points (real files)", (it) => {
  it.scoped("every stop point of a compaction recovers exactly the acknowledged history", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const template = yield* makeTempDirectory
      // History: 1..10, a first compaction at 10 (so the second one has a segment to delete), then 11..20.
      yield* withPorts(open(template, { log: [] }), (ports) =>
        Effect.gen(function* () {
          yield* ports.wal.append(records(1, 10))
          yield* compact(ports, 10)
          yield* ports.wal.append(records(11, 10))
        }),
      )
      const expected = Array.from({ length: 20 }, (_, i) => i + 1)
      let fullRun: Array<string> | undefined
      let crashPoints = 0
      for (let haltAt = 0; fullRun === undefined; haltAt++) {
        const directory = yield* makeTempDirectory
        yield* fs.copy(template, directory, { overwrite: true })
        const control: FaultControl = { log: [] }
        const outcome = yield* withPorts(open(directory, control), (ports) =>
          Effect.gen(function* () {
            control.haltAt = haltAt
            const result = yield* Effect.either(compact(ports, 20))
            return { result, ops: [...control.log] }
          }),
        )
        if (outcome.result._tag === "Right")
          fullRun = outcome.ops.map((op) => op.replace(directory.slice(directory.lastIndexOf("/") + 1), "<dir>"))
        else expect(outcome.ops.length).toBe(haltAt)
        // The crashed process left its lock behind; the new process finds it stale and takes over.
        expect(yield* withPorts(reopen(directory), recoveredSeqs)).toEqual(expected)
        crashPoints++
      }
      // The stop points covered, in order: each step of the compaction sequence (docs/architecture.md).
      expect(fullRun).toEqual([
        "open wal-0000000000000021.seg.tmp w", // 1. rotate: the new segment's header, durably created
        "write wal-0000000000000021.seg.tmp",
        "sync wal-0000000000000021.seg.tmp",
        "rename wal-0000000000000021.seg.tmp -> wal-0000000000000021.seg",
        "sync <dir>",
        "open wal-0000000000000021.seg a",
        "open snap-0000000000000020.snap.tmp w", // 2. snapshot: tmp, write, fsync, rename, directory fsync
        "write snap-0000000000000020.snap.tmp",
        "sync snap-0000000000000020.snap.tmp",
        "rename snap-0000000000000020.snap.tmp -> snap-0000000000000020.snap",
        "sync <dir>",
        "remove wal-0000000000000001.seg", // 3. only then delete the segment the older snapshot covers
        "sync <dir>",
      ])
      expect(crashPoints).toBe(fullRun!.length + 1)
    }),
  )
})
