/**
 * Turns results into the Markdown report: one table per scenario, then the ratios of our designs to each baseline
 * and the issue's targets. Ratios and targets are computed from whatever ran, so they appear on their own once a
 * design with role "ours" (the registry) is in the target list.
 */

import type { BundleResult } from "../scenarios/bundle.ts"
import type { ColdStartResult } from "../scenarios/coldStart.ts"
import type { Cell, DurableRegistersResult } from "../scenarios/durableRegisters.ts"
import type { HttpResult, StoredCheck } from "../scenarios/http.ts"
import type { MemoryResult } from "../scenarios/memory.ts"
import type { PostgresResult } from "../scenarios/postgres.ts"
import type { PostgresHttpResult } from "../scenarios/postgresHttp.ts"
import type { ReadsResult } from "../scenarios/reads.ts"
import type { RecoveryResult } from "../scenarios/recovery.ts"
import type { SearchResult } from "../scenarios/search.ts"
import type { SqliteBatchResult } from "../scenarios/sqliteBatch.ts"
import type { SseReadersResult } from "../scenarios/sseReaders.ts"
import type { UiRenderResult } from "../scenarios/uiRender.ts"
import { groupCommitEffect, groupCommitRetaining } from "../targets/groupCommitReference.ts"
import { seedWal } from "../targets/seedWal.ts"
import type { RunOptions } from "./context.ts"
import type { HttpPath } from "./httpLoad.ts"
import type { MachineInfo } from "./machine.ts"
import { median } from "./stats.ts"

export interface ScenarioResults {
  "durable-registers"?: DurableRegistersResult
  "sqlite-batch"?: SqliteBatchResult
  recovery?: RecoveryResult
  memory?: MemoryResult
  reads?: ReadsResult
  search?: SearchResult
  http?: HttpResult
  "cold-start"?: ColdStartResult
  bundle?: BundleResult
  "ui-render"?: UiRenderResult
  "sse-readers"?: SseReadersResult
  postgres?: PostgresResult
  "postgres-http"?: PostgresHttpResult
}

/** The design the issue's throughput and latency targets are about. */
export const primaryTargetName = "registry (Effect API)"

export const formatRate = (perSecond: number): string =>
  Number.isFinite(perSecond) ? Math.round(perSecond).toLocaleString("en-US") : "n/a"

export const formatLatency = (ms: number): string => {
  if (!Number.isFinite(ms)) return "n/a"
  if (ms < 1) return `${Math.round(ms * 1000)} µs`
  return ms < 100 ? `${ms.toFixed(2)} ms` : `${Math.round(ms)} ms`
}

const formatRatio = (ratio: number): string =>
  Number.isFinite(ratio) ? `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(2)}×` : "n/a"

const formatOptional = (value: number | null, digits: number): string =>
  value === null || !Number.isFinite(value) ? "n/a" : value.toLocaleString("en-US", { maximumFractionDigits: digits })

const spread = (cell: Cell): string => {
  const rates = cell.repetitions.map((rep) => rep.opsPerSecond)
  if (rates.length < 2) return "n/a"
  return `±${Math.round(((Math.max(...rates) - Math.min(...rates)) / 2 / cell.median.opsPerSecond) * 100)}%`
}

const table = (header: ReadonlyArray<string>, align: string, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [`| ${header.join(" | ")} |`, `|${align}|`, ...rows.map((row) => `| ${row.join(" | ")} |`)].join("\n")

const renderDurable = (result: DurableRegistersResult): string => {
  const rows = result.cells.map((cell) => [
    String(cell.concurrency),
    cell.target,
    formatRate(cell.median.opsPerSecond),
    spread(cell),
    formatLatency(cell.median.p50Ms),
    formatLatency(cell.median.p99Ms),
    formatOptional(cell.median.fsyncsPerSecond, 0),
    formatOptional(cell.median.averageBatch, 1),
    `${cell.median.gcPauseMsPerSecond.toFixed(0)} ms/s, max ${formatLatency(cell.median.gcPauseMaxMs)}`,
  ])
  return [
    "### Durable registers, closed loop (each producer awaits its ack)",
    "",
    table(
      ["in flight", "design", "registers/s", "rep spread", "p50", "p99", "fsyncs/s", "avg batch", "GC pauses"],
      "---:|---|---:|---:|---:|---:|---:|---:|---:",
      rows,
    ),
    "",
    "GC pauses: the whole process's garbage-collector pauses while the design ran (Node `gc` performance entries),",
    "as milliseconds per second measured and the longest single pause; medians over the repetitions. A p99 a few",
    "milliseconds above the p50 at the same level usually waits out such a pause rather than the disk.",
  ].join("\n")
}

const renderSqliteBatch = (result: SqliteBatchResult): string =>
  [
    `### ${result.name} (one producer, throughput)`,
    "",
    table(["records/s", "transaction p50", "transaction p99", "reps (records/s)"], "---:|---:|---:|---", [
      [
        formatRate(result.median.recordsPerSecond),
        formatLatency(result.median.transactionP50Ms),
        formatLatency(result.median.transactionP99Ms),
        result.repetitions.map((rep) => formatRate(rep.recordsPerSecond)).join(" / "),
      ],
    ]),
  ].join("\n")

const count = (n: number): string => n.toLocaleString("en-US")

const formatBytes = (bytes: number): string =>
  bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 2 ** 10).toFixed(1)} KiB`

const formatSeconds = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`)

const renderRecovery = (result: RecoveryResult): string => {
  const rows = result.cells.map((cell) => [
    count(cell.versions),
    cell.mode === "log" ? "log only" : "snapshot + tail",
    count(cell.storedVersions),
    formatBytes(cell.directoryBytes),
    formatSeconds(cell.median.openMs),
    cell.repetitions.map((rep) => formatSeconds(rep.openMs)).join(" / "),
    formatRate(cell.median.versionsPerSecond),
    formatSeconds(cell.median.sinceProcessStartMs),
  ])
  const builds = result.builds.map(
    (build) =>
      `${count(build.versions)}: ${build.loadSeconds.toFixed(1)} s (${formatRate(build.loadRegistersPerSecond)}/s), ` +
      `compact ${formatSeconds(build.compactMs)}`,
  )
  return [
    "### Recovery: opening a registry, one fresh process per open",
    "",
    table(
      [
        "versions",
        "from",
        "held after open",
        "directory",
        "open (median)",
        "reps",
        "versions/s",
        "process start → usable",
      ],
      "---:|---|---:|---:|---:|---|---:|---:",
      rows,
    ),
    "",
    "Open: from building `layerFile({ directory })` in a `ManagedRuntime` to the registry answering its first call " +
      "(`stats`), in a fresh `node --import tsx` process per repetition, after one discarded open per mode; " +
      "modes alternate. The last column adds module loading (tsx, Effect), which is not the registry's. " +
      `Directories were built through the Effect API at ${result.loadConcurrency} in flight with automatic ` +
      `compaction off (load time, registers/s: ${builds.join("; ")}); "snapshot + tail" is a copy of the log-only ` +
      "directory, opened, compacted (`registry.compact`), then the tail registered. Files are in the page cache, " +
      "as after a restart on a running machine.",
  ].join("\n")
}

const renderMemory = (result: MemoryResult): string =>
  [
    "### Memory: heap per stored version",
    "",
    table(
      ["versions", "measured", "samples", "heap delta", "heap/version", "JSON/version", "beyond JSON/version"],
      "---:|---|---:|---:|---:|---:|---:",
      result.cells.map((cell) => [
        count(cell.versions),
        cell.source === "reopened" ? "reopened from the log (fresh process)" : "after registering (loader process)",
        String(cell.samples),
        formatBytes(cell.heapDeltaBytes),
        `${Math.round(cell.heapBytesPerVersion)} B`,
        `${Math.round(cell.jsonBytesPerVersion)} B`,
        `${Math.round(cell.beyondJsonBytesPerVersion)} B`,
      ]),
    ),
    "",
    "`process.memoryUsage().heapUsed` after two `global.gc()` calls, before and after, with automatic compaction " +
      "off. Reopened: the log-only directory opened in a fresh process (median); JSON is `JSON.stringify` of each " +
      "version as `listVersions` returns it. After registering: the loader right after its registers (one sample; " +
      "it also holds the tail of recent events kept for subscribers); JSON is what the client sent.",
  ].join("\n")

const renderReads = (result: ReadsResult): string =>
  [
    `### Reads: ${count(result.versions)} versions in memory`,
    "",
    table(
      ["operation", "driver", "ops/s (median)", "per op", "reps (ops/s)"],
      "---|---|---:|---:|---",
      result.cells.map((cell) => [
        cell.operation === "get"
          ? "`get` (random existing pair)"
          : `\`listVersions\` (${count(result.listedVersions)} versions)`,
        cell.driver,
        formatRate(cell.median.opsPerSecond),
        `${cell.median.microsecondsPerOp.toFixed(3)} µs`,
        cell.repetitions.map(formatRate).join(" / "),
      ]),
    ),
    "",
    "Effect loop: one `Effect.runSync` of an `Effect.whileLoop` over the calls, i.e. the API composed inside Effect " +
      "code; the targets are checked on it. runSync per call: `Effect.runSync(registry.get(...))` per operation, " +
      "which adds a fiber per call. Pairs are 65,536 random picks from all stored pairs.",
  ].join("\n")

const renderSearch = (result: SearchResult): string =>
  [
    `### Search: ${count(result.versions)} versions in memory, first page of 100`,
    "",
    table(
      ["query", "matches", "search (pages/s)", "scan reference (pages/s)", "search ÷ scan"],
      "---|---:|---:|---:|---:",
      result.cells.map((cell) => [
        cell.query,
        count(cell.matches),
        formatRate(cell.median.indexedPerSecond),
        formatRate(cell.median.scannedPerSecond),
        formatRatio(cell.median.indexedPerSecond / cell.median.scannedPerSecond),
      ]),
    ),
    "",
    `Indexes built by the first search in ${Math.round(result.buildMs)} ms. Heap per version (after two ` +
      "`gc()` calls, over an empty registry's): " +
      `${Math.round(result.heapBytesPerVersion.before)} B before any search, ` +
      `${Math.round(result.heapBytesPerVersion.after)} B with the indexes these queries use. ` +
      "Scan reference: the same query answered in the same process by filtering every `listVersions` and " +
      "sorting, as a registry without indexes would; both must return the same page.",
  ].join("\n")

const pathLabel: Record<HttpPath, string> = {
  healthz: "`GET /healthz`",
  get: "`GET /models/{name}/versions/{version}`",
  register: "`POST /models/{name}/versions` (durable)",
}

const renderHttp = (result: HttpResult): string => {
  const rows = result.ratios.flatMap((ratio) =>
    (["bare", "registry"] as const).map((server) => {
      const cell = result.cells.find(
        (c) => c.server === server && c.path === ratio.path && c.connections === ratio.connections,
      )!
      return [
        String(ratio.connections),
        pathLabel[ratio.path],
        server === "bare" ? "bare node:http" : "registry",
        formatRate(cell.median.requestsPerSecond),
        cell.repetitions.map((rep) => formatRate(rep.requestsPerSecond)).join(" / "),
        formatLatency(cell.median.p50Ms),
        formatLatency(cell.median.p99Ms),
        `${Math.round(cell.median.serverCpuMicros)} µs`,
        count(cell.repetitions.reduce((total, rep) => total + rep.non2xx, 0)),
        count(cell.repetitions.reduce((total, rep) => total + rep.errors, 0)),
        server === "registry" ? formatRatio(ratio.throughput) : "",
        server === "registry" ? formatRatio(ratio.p99) : "",
        server === "registry" ? formatRatio(ratio.serverCpu) : "",
      ]
    }),
  )
  const tightest = result.storedChecks.reduce<StoredCheck | undefined>(
    (least, check) =>
      least === undefined || check.stored - check.atLeast < least.stored - least.atLeast ? check : least,
    undefined,
  )
  return [
    "### HTTP: the registry server against a bare node:http reference",
    "",
    table(
      [
        "connections",
        "path",
        "server",
        "req/s (median)",
        "reps (req/s)",
        "p50",
        "p99",
        "server CPU/req",
        "non-2xx",
        "errors",
        "req/s ÷ bare (≥ 0.6×)",
        "p99 ÷ bare (≤ 2×)",
        "CPU/req ÷ bare",
      ],
      "---:|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:",
      rows,
    ),
    "",
    `Registry: \`node ${result.registryEntry} serve\` (what \`npm start\` runs${result.built ? "; built by this run" : ""}). ` +
      "Bare: plain `node:http`, JSON body parsed, made durable by the reference group commit (one write + one " +
      "fdatasync per batch), nothing validated, versions kept in a `Map`. Each repetition starts both on fresh " +
      `directories holding the same ${count(result.storedVersions)} versions (GETs cycle through them; every ` +
      "register is a new version) and runs every path on one server, then the other, first server alternating. " +
      `Per run: ${result.warmupSeconds} s warm-up on the same path, then ${result.seconds} s measured, by autocannon ` +
      "over keep-alive connections in a process of its own (all three processes share the machine's cores). " +
      "Counted: 2xx answers; latency of every answer, from autocannon's per-response times. Server CPU per request: " +
      "the server's user + system time over the measured run (/proc) over its 2xx answers, the measure other " +
      "work on the machine disturbs least. After each repetition every server held at least the versions stored " +
      `plus the registers it acknowledged (${result.storedChecks.length} checks; tightest: ` +
      (tightest ? `${tightest.server} ${count(tightest.stored)} ≥ ${count(tightest.atLeast)}).` : "none)."),
  ].join("\n")
}

const renderPostgres = (result: PostgresResult): string => {
  const title = "### The registry on PostgreSQL against the file WAL, Effect API, closed loop (issue 16)"
  if (result.status === "skipped") return [title, "", `Skipped: ${result.reason}.`].join("\n")
  const rows = result.ratios.flatMap((ratio) =>
    [result.file, result.postgres].map((target) => {
      const cell = result.registers.cells.find((c) => c.target === target && c.concurrency === ratio.concurrency)!
      const ours = target === result.postgres
      return [
        String(ratio.concurrency),
        target === result.file ? "file WAL" : "PostgreSQL",
        formatRate(cell.median.opsPerSecond),
        cell.repetitions.map((rep) => formatRate(rep.opsPerSecond)).join(" / "),
        formatLatency(cell.median.p50Ms),
        formatLatency(cell.median.p99Ms),
        formatOptional(cell.median.averageBatch, 1),
        ours ? formatRatio(ratio.throughput) : "",
        ours ? formatRatio(ratio.p50) : "",
        ours ? formatRatio(ratio.p99) : "",
      ]
    }),
  )
  return [
    title,
    "",
    table(
      [
        "in flight",
        "storage",
        "registers/s (median)",
        "reps (registers/s)",
        "p50",
        "p99",
        "avg batch",
        "registers/s PG ÷ file",
        "p50 PG ÷ file",
        "p99 PG ÷ file",
      ],
      "---:|---|---:|---|---:|---:|---:|---:|---:|---:",
      rows,
    ),
    "",
    "Both through `ModelRegistry.register` from Effect fibers in this process, the durable-registers closed loop " +
      "(same records, the two alternating within each repetition, a fresh instance per repetition after a warm-up). " +
      `File: \`layerFile\` on a fresh directory (one write + one fdatasync per batch). PostgreSQL: \`layerPostgres\` at ${result.url} ` +
      "on a fresh schema per instance, dropped after (one transaction per batch, acknowledged after COMMIT); the " +
      "PostgreSQL server runs on the same machine and its CPU competes with this process.",
  ].join("\n")
}

const renderPostgresHttp = (result: PostgresHttpResult): string => {
  const title = "### HTTP registers: servers on one PostgreSQL schema against one on the file WAL (issue 16)"
  if (result.status === "skipped") return [title, "", `Skipped: ${result.reason}.`].join("\n")
  const rows = result.cells.map((cell) => {
    const ratio = result.ratios.find(
      (r) => cell.storage === "postgres" && r.servers === cell.servers && r.connections === cell.connections,
    )
    return [
      String(cell.connections),
      cell.storage === "file"
        ? "1 server, file WAL"
        : `${cell.servers} server${cell.servers === 1 ? "" : "s"}, one PostgreSQL schema`,
      formatRate(cell.median.requestsPerSecond),
      cell.repetitions.map((rep) => formatRate(rep.requestsPerSecond)).join(" / "),
      formatLatency(cell.median.p50Ms),
      formatLatency(cell.median.p99Ms),
      `${Math.round(cell.median.serverCpuMicros)} µs`,
      count(cell.repetitions.reduce((total, rep) => total + rep.non2xx, 0)),
      count(cell.repetitions.reduce((total, rep) => total + rep.errors, 0)),
      ratio ? formatRatio(ratio.throughput) : "",
      ratio ? formatRatio(ratio.p50) : "",
      ratio ? formatRatio(ratio.p99) : "",
      ratio ? formatRatio(ratio.serverCpu) : "",
    ]
  })
  const slowest = result.storedChecks.reduce((most, check) => Math.max(most, check.waitedMs), 0)
  return [
    title,
    "",
    table(
      [
        "connections",
        "servers",
        "registers/s (median)",
        "reps (registers/s)",
        "p50",
        "p99",
        "server CPU/register",
        "non-2xx",
        "errors",
        "registers/s PG ÷ file",
        "p50 PG ÷ file",
        "p99 PG ÷ file",
        "CPU/register PG ÷ file",
      ],
      "---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:",
      rows,
    ),
    "",
    `\`POST /models/{name}/versions\`, every register a new version, through \`node ${result.registryEntry} serve\`` +
      `${result.built ? " (built by this run)" : ""}: one server on a fresh directory, and setups of ${result.postgresServers.join(" and ")} servers with ` +
      `\`--postgres ${result.url} --schema <fresh>\` (a schema per setup, dropped after), the connections split evenly over them. Per run: ` +
      `${result.warmupSeconds} s of registers as warm-up, then ${result.seconds} s measured by autocannon (one instance per ` +
      "server, all drawing from one record stream) in a process of its own; the setups' order is reversed every other repetition. Server " +
      "CPU is the registry servers' user + system time over their 2xx answers; PostgreSQL's own CPU is not in it, " +
      "though it shares the machine's cores. After each repetition every server listed at least the registers its setup " +
      `acknowledged (${result.storedChecks.length} checks; the longest wait for a server to see its peers' registers: ` +
      `${formatLatency(slowest)}).`,
  ].join("\n")
}

const renderColdStart = (result: ColdStartResult): string => {
  const ratioFor = (measure: string) =>
    measure === "model-registry --version"
      ? `${formatRatio(result.versionRatio)} of \`node -e 0\``
      : measure === "model-registry serve"
        ? `${formatRatio(result.serveRatio)} of the bare server`
        : "reference"
  return [
    "### Cold start: spawn to exit, or to the first `/healthz` answer",
    "",
    table(
      ["measure", "median", "reps", "ratio"],
      "---|---:|---|---",
      result.cells.map((cell) => [
        cell.measure,
        formatSeconds(cell.medianMs),
        cell.repetitionsMs.map((ms) => `${Math.round(ms)}`).join(" / "),
        ratioFor(cell.measure),
      ]),
    ),
    "",
    "`node dist/bin/model-registry.js`, each a fresh process, the four in turn within every repetition after one " +
      "discarded pass (files in the page cache). Servers: spawned with `--port 0`, timed to the first 200 from " +
      "`GET /healthz` on a new connection, probed every 2 ms once the server prints its address; `serve` on an " +
      "empty fresh directory. The bare server is the HTTP scenario's reference, bundled by esbuild like the CLI.",
  ].join("\n")
}

const kib = (bytes: number): string => `${(bytes / 1024).toLocaleString("en-US", { maximumFractionDigits: 1 })} KiB`

const renderBundle = (result: BundleResult): string => {
  const reference = result.cells.find((cell) => cell.role === "reference")
  return [
    "### Bundle size: the edge entries, bundled as `wrangler deploy` does",
    "",
    table(
      ["entry", "minified", "gzip", "brotli", "gzip ÷ reference", "largest parts (minified)"],
      "---|---:|---:|---:|---:|---",
      result.cells.map((cell) => [
        cell.entry,
        kib(cell.minifiedBytes),
        kib(cell.gzipBytes),
        kib(cell.brotliBytes),
        cell.role === "reference" || reference === undefined
          ? "reference"
          : formatRatio(cell.gzipBytes / reference.gzipBytes),
        cell.shares
          .slice(0, 5)
          .map((share) => `${share.part} ${kib(share.bytes)}`)
          .join(", "),
      ]),
    ),
    "",
    "esbuild, ESM, minified, conditions `workerd`/`worker`/`browser`, `cloudflare:*` external; gzip at level 9 " +
      "(what the Workers size limit counts: 3 MB on the free plan, 10 MB on paid), brotli at 11. The reference is " +
      "one endpoint of an Effect `HttpApi` with its OpenAPI document and Swagger UI, served by `toWebHandler`: the " +
      "floor of any Effect HTTP Worker.",
    ...(result.ui === undefined
      ? []
      : [
          "",
          "The web UI's page, as Vite built it (each file compressed alone, as a browser fetches it), beside Preact " +
            "rendering one element, bundled by esbuild for the browser:",
          "",
          table(
            ["page", "minified", "gzip", "brotli", "gzip ÷ reference", "files"],
            "---|---:|---:|---:|---:|---",
            [result.ui.page, result.ui.reference].map((cell) => [
              cell.entry,
              kib(cell.minifiedBytes),
              kib(cell.gzipBytes),
              kib(cell.brotliBytes),
              cell.role === "reference" ? "reference" : formatRatio(cell.gzipBytes / result.ui!.reference.gzipBytes),
              cell.shares.map((share) => `${share.part} ${kib(share.bytes)}`).join(", "),
            ]),
          ),
        ]),
  ].join("\n")
}

const renderUiRender = (result: UiRenderResult): string =>
  [
    `### Web UI first render: \`/ui/\` on ${result.models.toLocaleString("en-US")} models, to the first frame with rows`,
    "",
    table(["page", "median", "reps", "ratio"], "---|---:|---|---", [
      [
        "the models list (`/ui/`)",
        formatLatency(result.medianUiMs),
        result.uiMs.map((ms) => ms.toFixed(0)).join(" / "),
        formatRatio(result.ratio),
      ],
      [
        "a static page with the same 50-row table (bare `node:http`)",
        formatLatency(result.medianStaticMs),
        result.staticMs.map((ms) => ms.toFixed(0)).join(" / "),
        "reference",
      ],
    ]),
    "",
    "Debian's Chromium through playwright-core, one page, alternating the two after one discarded pass each; from " +
      "the navigation's start to the first animation frame after a row is in the document. The UI's time includes " +
      "its script, `GET /models?limit=50` and rendering.",
  ].join("\n")

const renderSseReaders = (result: SseReadersResult): string =>
  [
    `### HTTP with SSE readers: registers over ${result.connections} connections while clients hold \`/events\` open`,
    "",
    table(
      [
        "SSE readers (never reading)",
        "registers/s (median)",
        "reps (registers/s)",
        "/healthz p99",
        "server RSS idle → peak",
        "server CPU per register",
        "slowest reader at / last seq",
        "readers cut (reading + stalled)",
        "non-2xx",
        "errors",
      ],
      "---|---:|---|---:|---:|---:|---:|---:|---:|---:",
      result.levels.map((level) => {
        const last = level.repetitions.at(-1)
        return [
          `${level.readers} (${last?.stalled ?? 0})`,
          formatRate(level.median.registersPerSecond),
          level.repetitions.map((rep) => formatRate(rep.registersPerSecond)).join(" / "),
          formatLatency(level.median.healthzP99Ms),
          `${Math.round(median(level.repetitions.map((rep) => rep.rssIdleMiB)))} → ${Math.round(level.median.rssPeakMiB)} MiB`,
          formatLatency(median(level.repetitions.map((rep) => (rep.serverCpu / rep.registersPerSecond) * 1000))),
          last ? `${count(last.slowestReaderLastId)} / ${count(last.lastSeq)}` : "n/a",
          level.repetitions.map((rep) => `${rep.readersClosed} + ${rep.stalledClosed}`).join(" / "),
          count(level.repetitions.reduce((total, rep) => total + rep.non2xx, 0)),
          count(level.repetitions.reduce((total, rep) => total + rep.errors, 0)),
        ]
      }),
    ),
    "",
    `Registers/s with the most readers over none: **${formatRatio(result.ratio)}** (issue 19's target: ≥ 0.8×). ` +
      `A fresh \`model-registry serve\` per run; ${result.seconds} s measured after ${result.warmupSeconds} s of ` +
      `warm-up with the readers connected; ${Math.round(result.stalledShare * 100)} % of the readers send the ` +
      "request and never read. /healthz is asked every 20 ms during the measured window; RSS is the server's " +
      "VmRSS, sampled every 250 ms. Readers are raw sockets in the harness process, sharing the cores. Server CPU " +
      "per register (CPU time over registers) is the measure a busy machine disturbs least.",
  ].join("\n")

/** Designs compared against the baselines: ours when any are present, else the reference stands in. */
const subjects = (result: DurableRegistersResult) => {
  const ours = result.targets.filter((target) => target.role === "ours")
  return ours.length > 0 ? ours : result.targets.filter((target) => target.role === "reference")
}

const cellOf = (result: DurableRegistersResult, target: string, concurrency: number) =>
  result.cells.find((cell) => cell.target === target && cell.concurrency === concurrency)

export interface RatioRow {
  readonly subject: string
  readonly concurrency: number
  /** Subject's registers/s over each baseline's, at the same level (SQLite's batch: its throughput). */
  readonly versus: ReadonlyArray<{ readonly baseline: string; readonly throughputRatio: number }>
}

export const computeRatios = (results: ScenarioResults): ReadonlyArray<RatioRow> => {
  const durable = results["durable-registers"]
  if (!durable) return []
  const batch = results["sqlite-batch"]
  const baselines = durable.targets.filter((target) => target.role === "baseline")
  return subjects(durable).flatMap((subject) =>
    durable.levels.flatMap((concurrency) => {
      const mine = cellOf(durable, subject.name, concurrency)?.median.opsPerSecond
      if (mine === undefined) return []
      const versus = baselines.flatMap((baseline) => {
        const theirs = cellOf(durable, baseline.name, concurrency)?.median.opsPerSecond
        return theirs === undefined ? [] : [{ baseline: baseline.name, throughputRatio: mine / theirs }]
      })
      if (batch) versus.push({ baseline: batch.name, throughputRatio: mine / batch.median.recordsPerSecond })
      return [{ subject: subject.name, concurrency, versus }]
    }),
  )
}

const renderRatios = (rows: ReadonlyArray<RatioRow>, ours: boolean): string | undefined => {
  const baselines = [...new Set(rows.flatMap((row) => row.versus.map((ratio) => ratio.baseline)))]
  if (baselines.length === 0) return undefined
  const ratioOf = (row: RatioRow, baseline: string) =>
    row.versus.find((ratio) => ratio.baseline === baseline)?.throughputRatio ?? Number.NaN
  return [
    ours
      ? "### Ratios: our registers/s over each baseline's"
      : "### Ratios: the reference's registers/s over each baseline's (the registry is not plugged in yet)",
    "",
    table(
      ["design", "in flight", ...baselines.map((name) => `vs ${name}`)],
      `---|---:|${baselines.map(() => "---:").join("|")}`,
      rows.map((row) => [
        row.subject,
        String(row.concurrency),
        ...baselines.map((baseline) => formatRatio(ratioOf(row, baseline))),
      ]),
    ),
  ].join("\n")
}

export interface TargetCheck {
  readonly subject: string
  readonly measure: string
  readonly target: string
  readonly measured: string
  /** Null when the run did not measure it (e.g. the 1M registry was left out with --sizes). */
  readonly met: boolean | null
}

/** The issue's targets that the scenarios so far can measure, evaluated for each subject design. */
export const checkTargets = (results: ScenarioResults): ReadonlyArray<TargetCheck> => [
  ...checkDurableTargets(results),
  ...checkReadTargets(results),
  ...checkHttpTargets(results),
]

const connectionCount = (n: number): string => (n === 1 ? "1 connection" : `${n} connections`)

/** Issue 15: the registry server over the bare node:http reference, per path and connection count. */
const checkHttpTargets = (results: ScenarioResults): ReadonlyArray<TargetCheck> =>
  (results.http?.ratios ?? []).flatMap((ratio) => [
    {
      subject: "registry server",
      measure: `${pathLabel[ratio.path]} req/s at ${connectionCount(ratio.connections)} over bare node:http`,
      target: "≥ 0.6×",
      measured: formatRatio(ratio.throughput),
      met: Number.isFinite(ratio.throughput) ? ratio.throughput >= 0.6 : null,
    },
    {
      subject: "registry server",
      measure: `${pathLabel[ratio.path]} p99 at ${connectionCount(ratio.connections)} over bare node:http`,
      target: "≤ 2×",
      measured: formatRatio(ratio.p99),
      met: Number.isFinite(ratio.p99) ? ratio.p99 <= 2 : null,
    },
  ])

const checkDurableTargets = (results: ScenarioResults): ReadonlyArray<TargetCheck> => {
  const durable = results["durable-registers"]
  if (!durable) return []
  const batch = results["sqlite-batch"]
  const floor = durable.targets.find((target) => target.role === "floor")
  const checks: Array<TargetCheck> = []
  for (const subject of subjects(durable)) {
    const at = (level: number) => cellOf(durable, subject.name, level)?.median
    const add = (
      measure: string,
      target: string,
      measured: number | undefined,
      render: (n: number) => string,
      met: (n: number) => boolean,
    ) => {
      if (measured === undefined || !Number.isFinite(measured)) return
      checks.push({ subject: subject.name, measure, target, measured: render(measured), met: met(measured) })
    }
    const top = at(512)?.opsPerSecond
    add("registers/s at 512 in flight", "≥ 100,000/s", top, formatRate, (n) => n >= 100_000)
    if (batch && top !== undefined)
      add("… over SQLite FULL 1,000/txn", "≥ 3×", top / batch.median.recordsPerSecond, formatRatio, (n) => n >= 3)
    const seedTop = cellOf(durable, seedWal.name, 512)?.median.opsPerSecond
    if (seedTop !== undefined && top !== undefined)
      add("… over the seed-style WAL at 512", "≥ 40×", top / seedTop, formatRatio, (n) => n >= 40)
    const floorP50 = floor && cellOf(durable, floor.name, 1)?.median.p50Ms
    const p50 = at(1)?.p50Ms
    if (floorP50 !== undefined && p50 !== undefined)
      add(
        `single-producer p50 over raw fdatasync p50 (${formatLatency(floorP50)})`,
        "≤ 1.3×",
        p50 / floorP50,
        (n) => `${formatRatio(n)} (${formatLatency(p50)})`,
        (n) => n <= 1.3,
      )
    add("p99 at 64 in flight", "≤ 5 ms", at(64)?.p99Ms, formatLatency, (n) => n <= 5)
    if (subject.role !== "ours") continue
    const over = (reference: string, level: number, measure: (cell: Cell["median"]) => number) => {
      const theirs = cellOf(durable, reference, level)?.median
      const mine = at(level)
      return theirs === undefined || mine === undefined ? undefined : measure(mine) / measure(theirs)
    }
    // Issue 15's targets 2 and 3, and target 3 restated against a reference that keeps what it acknowledged.
    const effectReference = groupCommitEffect.name
    add(
      "p50, 1 in flight, over the Effect-fiber reference",
      "≤ 1.15×",
      over(effectReference, 1, (m) => m.p50Ms),
      formatRatio,
      (n) => n <= 1.15,
    )
    add(
      "p99, 1 in flight, over the Effect-fiber reference",
      "≤ 2×",
      over(effectReference, 1, (m) => m.p99Ms),
      formatRatio,
      (n) => n <= 2,
    )
    add(
      "registers/s at 512 in flight over the Effect-fiber reference",
      "≥ 0.6×",
      over(effectReference, 512, (m) => m.opsPerSecond),
      formatRatio,
      (n) => n >= 0.6,
    )
    add(
      "… over the reference that retains its versions",
      "≥ 0.6×",
      over(groupCommitRetaining.name, 512, (m) => m.opsPerSecond),
      formatRatio,
      (n) => n >= 0.6,
    )
  }
  return checks
}

/** The recovery, reads and memory targets, about the registry itself (there is one design to check). */
const checkReadTargets = (results: ScenarioResults): ReadonlyArray<TargetCheck> => {
  const checks: Array<TargetCheck> = []
  const add = (
    measure: string,
    target: string,
    measured: number | undefined,
    render: (n: number) => string,
    met: boolean,
  ) => {
    if (measured === undefined || !Number.isFinite(measured)) return
    checks.push({ subject: "registry", measure, target, measured: render(measured), met })
  }
  const recovery = results.recovery
  const issueSize = 1_000_000
  const open = recovery?.cells.find((cell) => cell.versions === issueSize && cell.mode === "snapshot")
  if (open)
    add(
      `open ${count(open.versions)} versions (snapshot + ${count(open.storedVersions - open.versions)} tail)`,
      "≤ 2 s",
      open.median.openMs,
      formatSeconds,
      open.median.openMs <= 2000,
    )
  else if (recovery)
    checks.push({
      subject: "registry",
      measure: `open ${count(issueSize)} versions (snapshot + tail): not in this run's --sizes`,
      target: "≤ 2 s",
      measured: "n/a",
      met: null,
    })
  const reads = results.reads
  const cellOf = (operation: string) =>
    reads?.cells.find((cell) => cell.operation === operation && cell.driver === "Effect loop")
  const get = cellOf("get")
  if (get && reads)
    add(
      `get, ${count(reads.versions)} versions (Effect loop)`,
      "≥ 1,000,000/s",
      get.median.opsPerSecond,
      formatRate,
      get.median.opsPerSecond >= 1_000_000,
    )
  const list = cellOf("listVersions")
  if (list && reads)
    add(
      `list ${count(reads.listedVersions)} versions (Effect loop)`,
      "≤ 5 µs",
      list.median.microsecondsPerOp,
      (n) => `${n.toFixed(3)} µs`,
      list.median.microsecondsPerOp <= 5,
    )
  for (const cell of results.memory?.cells ?? [])
    add(
      `memory beyond JSON, ${count(cell.versions)} versions, ${cell.source}`,
      "≤ 400 B",
      cell.beyondJsonBytesPerVersion,
      (n) => `${Math.round(n)} B`,
      cell.beyondJsonBytesPerVersion <= 400,
    )
  const sse = results["sse-readers"]
  const mostReaders = sse?.levels.reduce((a, b) => (b.readers > a.readers ? b : a), sse.levels[0]!)
  if (sse && mostReaders)
    add(
      `HTTP registers/s with ${mostReaders.readers} SSE readers over none`,
      "≥ 0.8×",
      sse.ratio,
      formatRatio,
      sse.ratio >= 0.8,
    )
  return checks
}

const renderTargets = (checks: ReadonlyArray<TargetCheck>): string | undefined =>
  checks.length === 0
    ? undefined
    : [
        "### Targets from issues 7, 15 and 19 that these scenarios measure",
        "",
        table(
          ["design", "measure", "target", "measured", "met"],
          "---|---|---:|---:|:---:",
          checks.map((check) => [
            check.subject,
            check.measure,
            check.target,
            check.measured,
            check.met === null ? "not measured" : check.met ? "yes" : "**no**",
          ]),
        ),
      ].join("\n")

const describeMachine = (machine: MachineInfo): string =>
  `${machine.cores} × ${machine.cpuModel}, ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, ` +
  `${machine.platform} ${machine.kernel}, Node ${machine.node}; ` +
  `disk ${machine.disk.device} (${machine.disk.filesystem}) at ${machine.disk.path}` +
  (machine.disk.sameDeviceAsRepository ? ", the repository's device" : ", **not** the repository's device") +
  `; load average at start ${machine.loadAverageAtStart.join(" / ")}`

export const renderReport = (input: {
  readonly date: string
  readonly options: RunOptions
  readonly machine: MachineInfo
  readonly results: ScenarioResults
  readonly notes: ReadonlyArray<string>
}): string => {
  const { date, options, machine, results } = input
  const durable = results["durable-registers"]
  const ratios = computeRatios(results)
  const batch = results["sqlite-batch"]
  const notes = [
    ...(durable?.targets.map((target) => `- **${target.name}**: ${target.note}`) ?? []),
    ...(batch ? [`- **${batch.name}**: ${batch.note}`] : []),
    ...input.notes.map((note) => `- ${note}`),
  ]
  const blocks = [
    `## Model registry benchmarks${options.smoke ? " (smoke run: numbers are meaningless)" : ""}`,
    `${date.slice(0, 10)}, commit ${machine.commit ?? "unknown"}. ${describeMachine(machine)}.`,
    `Medians of ${options.repetitions} repetition(s) of ${options.measureSeconds} s, each after a ${options.warmupSeconds} s warm-up ` +
      "on a fresh instance in a fresh directory, designs alternating within each repetition. " +
      "Records are identical ~300-byte model versions for every design. " +
      `Recovery, memory and HTTP: medians of ${options.coldRepetitions} repetition(s), each in a fresh process.`,
    durable && renderDurable(durable),
    batch && renderSqliteBatch(batch),
    durable &&
      renderRatios(
        ratios,
        subjects(durable).some((subject) => subject.role === "ours"),
      ),
    results.recovery && renderRecovery(results.recovery),
    results.memory && renderMemory(results.memory),
    results.reads && renderReads(results.reads),
    results.search && renderSearch(results.search),
    results.http && renderHttp(results.http),
    results["cold-start"] && renderColdStart(results["cold-start"]),
    results.bundle && renderBundle(results.bundle),
    results["ui-render"] && renderUiRender(results["ui-render"]),
    results["sse-readers"] && renderSseReaders(results["sse-readers"]),
    results.postgres && renderPostgres(results.postgres),
    results["postgres-http"] && renderPostgresHttp(results["postgres-http"]),
    renderTargets(checkTargets(results)),
    notes.length > 0 ? ["### Notes", "", ...notes].join("\n") : undefined,
  ]
  return `${blocks.filter((block) => block !== undefined).join("\n\n")}\n`
}
