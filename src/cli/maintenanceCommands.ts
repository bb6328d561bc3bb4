/**
 * The commands on a data directory itself: `verify` and `wal dump` (read-only, through src/effects/Inspection.ts)
 * and `compact` (opens the registry, so it takes the directory's lock).
 */
import { Command, Options } from "@effect/cli"
import { Chunk, Console, Context, Effect, Layer, Option, Stream } from "effect"
import type { ChainReport } from "../storage/ChainCheck.ts"
import { failure } from "./client.ts"
import * as Output from "./output.ts"
import { stderrProgress } from "./progress.ts"
import { dataRequired, json, reported } from "./shared.ts"

/**
 * The storage stack, loaded when a command runs: `--help` and the other commands need none of it. Its progress
 * reports are drawn on stderr when a person watches (see progress.ts).
 */
const storage = Effect.promise(() =>
  Promise.all([
    import("../effects/Inspection.ts"),
    import("../effects/ModelRegistry.ts"),
    import("../node.ts"),
    import("./localClient.ts"),
  ]).then(([inspection, registry, node, local]) => ({
    verify: inspection.verify,
    dump: inspection.dump,
    Progress: inspection.Progress,
    ModelRegistry: registry.ModelRegistry,
    layerFile: node.layerFile,
    layerNode: node.layerNode,
    requireDirectory: local.requireDirectory,
  })),
)

const chain = Options.boolean("chain").pipe(
  Options.withDescription(
    "also recompute the log's hash chain: finds a record rewritten with a valid checksum, and names its seq",
  ),
)

/** The chain's line of the report. */
const chainLine = (report: {
  readonly firstSeq: number
  readonly chain: Option.Option<ChainReport>
}): ReadonlyArray<string> =>
  Option.match(report.chain, {
    onNone: () => [],
    onSome: (c) => [
      ...(c.unchainedThrough === undefined
        ? []
        : [
            `  chain      records ${report.firstSeq}..${c.unchainedThrough} are not chained (written by an earlier release); the chain starts at seq ${c.unchainedThrough + 1}`,
          ]),
      c.chainedFrom === undefined
        ? "  chain      no chained record yet"
        : `  chain      intact, seq ${c.chainedFrom}..${c.lastSeq}, head ${c.head}${c.anchoredAt === undefined ? "" : `, matches the snapshot at seq ${c.anchoredAt}`}`,
    ],
  })

export const verifyCommand = Command.make("verify", { data: dataRequired, json, chain }, (o) =>
  reported(
    o.json,
    Effect.matchEffect(
      Effect.flatMap(storage, ({ verify, layerNode, Progress }) =>
        Effect.provide(
          verify(o.data, { chain: o.chain }),
          Layer.merge(layerNode, stderrProgress(Progress, { json: o.json, streamsStdout: false })),
        ),
      ),
      {
        onFailure: (error) => Effect.fail(failure(error)),
        onSuccess: (report) =>
          Output.print(
            o.json,
            { ok: true, ...report, snapshot: Option.getOrNull(report.snapshot), chain: Option.getOrNull(report.chain) },
            () =>
              [
                `${report.directory}: OK`,
                `  segments   ${report.recovery.segments}`,
                `  records    ${report.events} valid (seq ${report.firstSeq}..${report.lastSeq})`,
                `  events     ${
                  Object.entries(report.eventsByType)
                    .map(([k, n]) => `${k}=${n}`)
                    .join(" ") || "none"
                }`,
                `  snapshot   ${Option.match(report.snapshot, {
                  onNone: () => "none",
                  onSome: (s) => `valid, seq ${s.lastSeq}, ${s.versions} versions`,
                })}`,
                ...chainLine(report),
                ...Option.match(report.recovery.tornTail, {
                  onNone: () => [],
                  onSome: (t) => [
                    `  torn tail  in ${t.file} at offset ${t.offset} (${t.reason}), ${t.bytesDropped} bytes: the next open cuts it off`,
                  ],
                }),
                ...report.recovery.snapshotFallbacks.map(
                  (f) => `  fallback   snapshot ${f.file} is invalid (${f.reason}); the next open moves it aside`,
                ),
              ].join("\n"),
          ),
      },
    ),
  ),
).pipe(
  Command.withDescription(
    "check every record and snapshot of a data directory, read-only (no lock needed); non-zero exit on corruption",
  ),
)

export const compact = Command.make("compact", { data: dataRequired, json }, (o) =>
  reported(
    o.json,
    Effect.scoped(
      Effect.gen(function* () {
        const progress = (step: string, detail: Record<string, unknown> = {}) =>
          o.json
            ? Output.json({ step, ...detail })
            : Console.log(`${step}${Object.keys(detail).length ? ` ${JSON.stringify(detail)}` : ""}`)
        yield* progress("opening", { directory: o.data })
        const { layerFile, ModelRegistry, requireDirectory, Progress } = yield* storage
        yield* Effect.mapError(requireDirectory(o.data), failure)
        const opening = stderrProgress(Progress, { json: o.json, streamsStdout: false })
        const context = yield* Effect.mapError(
          Layer.build(Layer.provide(layerFile({ directory: o.data }), opening)),
          failure,
        )
        const registry = Context.get(context, ModelRegistry)
        const before = yield* registry.stats
        yield* progress("compacting", { lastSeq: before.lastSeq, versions: before.versions })
        const report = yield* Effect.mapError(registry.compact, failure)
        yield* progress("done", { snapshotSeq: report.snapshotSeq, versions: report.versions })
      }),
    ),
  ),
).pipe(Command.withDescription("snapshot the full state and delete the log segments it covers"))

const ndjsonLine = (value: unknown) => `${JSON.stringify(value)}\n`

const walDump = Command.make("dump", { data: dataRequired }, (o) =>
  reported(
    false,
    Effect.flatMap(storage, ({ dump, layerNode, Progress }) => {
      const progress = stderrProgress(Progress, { json: false, streamsStdout: true })
      const write = Output.stdoutWriter()
      // A chunk of events per write: the dump streams, so what waits in memory is one chunk and the pipe's buffer.
      // (Not `runForEachWhile`, which keeps every element it was given in Effect 3.22.)
      return Stream.provideLayer(dump(o.data), Layer.merge(layerNode, progress)).pipe(
        Stream.mapError(failure),
        Stream.runForEachChunk((events) => write(Chunk.toReadonlyArray(events).map(ndjsonLine).join(""))),
        Effect.catchTag("StdoutClosed", () => Effect.void),
      )
    }),
  ),
).pipe(Command.withDescription("print every event in the log as NDJSON (read-only, no lock needed)"))

export const wal = Command.make("wal").pipe(
  Command.withDescription("inspect the write-ahead log"),
  Command.withSubcommands([walDump]),
)
