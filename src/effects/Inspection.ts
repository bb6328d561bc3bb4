/**
 * Read-only inspection of a data directory through the storage ports, for tools such as the CLI's `verify`
 * (every record and the snapshot, decoded and checked) and `wal dump` (the log as events), so that they need
 * neither the registry's internals nor the storage modules. Both open the directory read-only: they validate it
 * exactly as the registry's open does, but take no lock and change nothing, so they also work beside a running
 * server (as a point-in-time view). A torn tail is reported, and left for the next open to repair. The runtime's
 * file system (`FileSystem`, `Path`, `ProcessInfo`) is the caller's to provide, and so is `Progress`, which hears
 * how far the open's check and the walk over the records have got.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { Context, Effect, Either, Layer, Option, Stream } from "effect"
import { decodeEvents } from "../actors/replay.ts"
import { restoreIndex } from "../actors/snapshotCodec.ts"
import { WalCorrupt } from "../domain/errors.ts"
import type { RegistryEvent } from "../domain/RegistryEvent.ts"
import { type ChainReport, checkChain } from "../storage/ChainCheck.ts"
import { layerFileSystem } from "../storage/FileStorage.ts"
import { defaultLimits } from "../storage/Limits.ts"
import type { ProcessInfo } from "../storage/ProcessInfo.ts"
import { type ProgressPhase, reporter } from "../storage/Progress.ts"
import { SnapshotStore } from "../storage/SnapshotStore.ts"
import { type RecoveryReport, Wal } from "../storage/Wal.ts"

export { Progress, type ProgressPhase, type ProgressReporter, type ProgressUpdate } from "../storage/Progress.ts"

/** What an inspection needs from the runtime: its file system. */
export type InspectionRuntime = FileSystem.FileSystem | Path.Path | ProcessInfo

const openStorage = (directory: string) =>
  Effect.map(Layer.build(layerFileSystem({ directory, readOnly: true })), (context) => ({
    wal: Context.get(context, Wal),
    snapshots: Context.get(context, SnapshotStore),
  }))

export interface VerifyReport {
  readonly directory: string
  readonly recovery: RecoveryReport
  readonly snapshot: Option.Option<{ readonly lastSeq: number; readonly versions: number }>
  readonly firstSeq: number
  readonly lastSeq: number
  readonly events: number
  readonly eventsByType: Readonly<Record<string, number>>
  /** The hash chain's check, when asked for (`verify --chain`). */
  readonly chain: Option.Option<ChainReport>
}

export interface VerifyOptions {
  /**
   * Also recompute the WAL's hash chain and compare it with every stored chain value and the snapshot's: fails
   * with `WalCorrupt` at the first seq whose bytes were rewritten, even with a matching checksum.
   */
  readonly chain?: boolean
}

/**
 * The log's events from `firstSeq`, decoded a chunk of records at a time as the consumer pulls them: only the
 * segment being read and one chunk of events are in memory. Each chunk is reported to `Progress` under `phase`.
 */
const eventsOf = (wal: Wal, firstSeq: number, phase: ProgressPhase) =>
  Stream.unwrap(
    Effect.gen(function* () {
      const report = yield* reporter
      const total = (yield* wal.lastSeq) - firstSeq + 1
      let done = 0
      report({ phase, done, total })
      return wal.read(firstSeq).pipe(
        Stream.chunks,
        Stream.mapEffect((chunk) =>
          Effect.map(decodeEvents(chunk), (events) => {
            done += events.length
            report({ phase, done, total })
            return events
          }),
        ),
        Stream.flattenIterables,
      )
    }),
  )

/**
 * Opens the directory, decodes the newest valid snapshot and every record of the log; with `chain`, first checks
 * the hash chain (so a rewritten record is reported as such, before its events are decoded).
 */
export const verify = (directory: string, options: VerifyOptions = {}) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { wal, snapshots } = yield* openStorage(directory)
      const latest = yield* snapshots.latest
      const chain = options.chain
        ? Option.some(
            yield* checkChain(
              directory,
              defaultLimits.recordBytesMax,
              Option.getOrUndefined(
                Option.flatMap(latest, (s) =>
                  s.chainHead === undefined
                    ? Option.none()
                    : Option.some({ lastSeq: s.lastSeq, chainHead: s.chainHead }),
                ),
              ),
            ),
          )
        : Option.none()
      const snapshot = yield* Option.match(latest, {
        onNone: () => Effect.succeed(Option.none()),
        onSome: (s) =>
          Either.match(restoreIndex(s.state), {
            onLeft: (reason) => Effect.fail(new WalCorrupt({ file: "(snapshot)", offset: -1, seq: s.lastSeq, reason })),
            onRight: (index) => Effect.succeed(Option.some({ lastSeq: s.lastSeq, versions: index.versionCount })),
          }),
      })
      const firstSeq = yield* wal.firstSeq
      const lastSeq = yield* wal.lastSeq
      const eventsByType: Record<string, number> = {}
      let events = 0
      let expected = firstSeq
      yield* Stream.runForEach(eventsOf(wal, firstSeq, "verify"), (event) => {
        if (event.seq !== expected)
          return Effect.fail(
            new WalCorrupt({
              file: "(log)",
              offset: -1,
              seq: expected,
              reason: `expected seq ${expected}, read ${event.seq}`,
            }),
          )
        expected++
        events++
        eventsByType[event._tag] = (eventsByType[event._tag] ?? 0) + 1
        return Effect.void
      })
      const report: VerifyReport = {
        directory,
        recovery: wal.recovery,
        snapshot,
        firstSeq,
        lastSeq,
        events,
        eventsByType,
        chain,
      }
      return report
    }),
  )

/**
 * Every event the log holds, oldest first, decoded as the stream is pulled: memory stays within one segment's bytes
 * (`segmentBytesMax`) and one chunk of events, whatever the log's length.
 */
export const dump = (directory: string): Stream.Stream<RegistryEvent, unknown, InspectionRuntime> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const { wal } = yield* openStorage(directory)
      return eventsOf(wal, yield* wal.firstSeq, "dump")
    }),
  )
