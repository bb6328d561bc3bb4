/**
 * The canonical workloads of the crash-point enumeration and the fail-the-Nth-I/O loop: small, fixed scripts
 * that together reach every I/O call site of the registry (append, group commit, rotation, snapshot, segment
 * deletion, observer cursors, audit log, lock, open-time repair, clean close).
 */
import type { ClientOp, RegistrySettings } from "./engine.ts"

/** A step of a workload: calls forked together, or a clean restart of the process. */
export type WorkloadStep = ReadonlyArray<ClientOp> | { readonly _tag: "restart" }

export interface Workload {
  readonly name: string
  readonly registry: RegistrySettings
  /** Run the recording observer. */
  readonly observer: boolean
  /** Run the audit-log observer and check its file. */
  readonly audit: boolean
  readonly steps: ReadonlyArray<WorkloadStep>
}

let counter = 0
const reg = (name: string, version: string, c = ++counter): ClientOp => ({
  _tag: "register",
  name,
  version,
  metrics: { c },
})
/** A registration with a large payload: a batch of them spans many sectors, so torn crashes have many outcomes. */
const big = (name: string, version: string, bytes: number): ClientOp => {
  const c = ++counter
  return {
    _tag: "register",
    name,
    version,
    metrics: { c, notes: "abcdefghijklmnopqrstuvwxyz0123456789".repeat(Math.ceil(bytes / 36)).slice(0, bytes) },
  }
}
const pro = (name: string, version: string): ClientOp => ({ _tag: "promote", name, version })
const dep = (name: string, version: string): ClientOp => ({ _tag: "deprecate", name, version })
const get = (name: string, version: string): ClientOp => ({ _tag: "get", name, version })
const compact: ClientOp = { _tag: "compact" }
const restart = { _tag: "restart" } as const
const seq = (...ops: ReadonlyArray<ClientOp>): Array<WorkloadStep> => ops.map((op) => [op])

const base: RegistrySettings = { recordBytesMax: 2048, segmentBytesMax: 64 * 1024, tailEventsMax: 64 }
/** A segment holds a handful of records, so appends roll segments. */
const tiny: RegistrySettings = { recordBytesMax: 1024, segmentBytesMax: 1024 + 256, tailEventsMax: 64 }

const plain = (name: string, steps: ReadonlyArray<WorkloadStep>, registry: RegistrySettings = base): Workload => ({
  name,
  registry,
  observer: false,
  audit: false,
  steps,
})

const bulk: RegistrySettings = { recordBytesMax: 4096, segmentBytesMax: 256 * 1024, tailEventsMax: 64 }

export const canonicalWorkloads: ReadonlyArray<Workload> = [
  plain("register-one", seq(reg("a", "1.0.0"))),
  plain("registers-sequential", seq(reg("a", "1.0.0"), reg("a", "1.2.0"), reg("b", "1.0.0"), reg("a", "1.10.0"))),
  plain("registers-group-commit", [[reg("a", "1.0.0"), reg("a", "1.1.0"), reg("b", "2.0.0"), reg("c", "0.1.0")]]),
  plain("register-resend-conflict", [
    ...seq(reg("a", "1.0.0", 9001)),
    [reg("a", "1.0.0", 9001), reg("a", "1.0.0", 9002)],
    ...seq(reg("a", "1.1.0")),
  ]),
  plain("promote-first", seq(reg("a", "1.0.0"), pro("a", "1.0.0"), pro("a", "1.0.0"))),
  plain("promote-supersede", seq(reg("a", "1.0.0"), reg("a", "2.0.0"), pro("a", "1.0.0"), pro("a", "2.0.0"))),
  plain("promote-race", [
    ...seq(reg("a", "1.0.0"), reg("a", "1.2.0"), reg("a", "1.10.0")),
    [pro("a", "1.0.0"), pro("a", "1.2.0"), pro("a", "1.10.0")],
  ]),
  plain("deprecate-production", seq(reg("a", "1.0.0"), pro("a", "1.0.0"), dep("a", "1.0.0"), dep("a", "1.0.0"))),
  plain("deprecate-then-promote", seq(reg("a", "1.0.0"), dep("a", "1.0.0"), pro("a", "1.0.0"), get("a", "1.0.0"))),
  plain(
    "semver-order",
    seq(reg("m", "1.10.0"), reg("m", "1.2.0"), reg("m", "2.0.0-rc.1"), pro("m", "1.2.0"), pro("m", "2.0.0-rc.1")),
  ),
  plain("two-models", [
    ...seq(reg("a", "1.0.0"), reg("b", "1.0.0")),
    [pro("a", "1.0.0"), pro("b", "1.0.0"), reg("a", "1.1.0")],
    ...seq(pro("a", "1.1.0"), dep("b", "1.0.0")),
  ]),
  plain(
    "compact-after-promotions",
    seq(
      reg("a", "1.0.0"),
      reg("a", "2.0.0"),
      pro("a", "1.0.0"),
      pro("a", "2.0.0"),
      dep("a", "1.0.0"),
      compact,
      reg("a", "3.0.0"),
    ),
  ),
  plain("compact-twice", [
    ...seq(reg("a", "1.0.0"), pro("a", "1.0.0"), compact, reg("a", "1.1.0"), pro("a", "1.1.0"), compact),
    restart,
    ...seq(dep("a", "1.0.0")),
  ]),
  plain("compact-concurrent-appends", [
    ...seq(reg("a", "1.0.0"), pro("a", "1.0.0")),
    [compact, reg("a", "1.1.0"), pro("a", "1.1.0")],
    ...seq(reg("a", "1.2.0")),
  ]),
  plain(
    "rotation",
    seq(
      reg("r", "1.0.0"),
      reg("r", "1.1.0"),
      reg("r", "1.2.0"),
      pro("r", "1.1.0"),
      reg("r", "1.3.0"),
      dep("r", "1.0.0"),
    ),
    tiny,
  ),
  plain(
    "rotation-compaction",
    seq(
      reg("r", "1.0.0"),
      reg("r", "1.1.0"),
      pro("r", "1.0.0"),
      compact,
      reg("r", "1.2.0"),
      pro("r", "1.2.0"),
      compact,
      reg("r", "1.3.0"),
    ),
    tiny,
  ),
  plain(
    "auto-snapshot",
    seq(
      reg("s", "1.0.0"),
      pro("s", "1.0.0"),
      reg("s", "1.1.0"),
      pro("s", "1.1.0"),
      dep("s", "1.0.0"),
      reg("s", "1.2.0"),
    ),
    { ...base, snapshotThresholdRecords: 2, snapshotThresholdLogToStateRatio: 0 },
  ),
  plain("restarts", [
    ...seq(reg("a", "1.0.0")),
    restart,
    ...seq(pro("a", "1.0.0")),
    restart,
    ...seq(dep("a", "1.0.0")),
  ]),
  {
    name: "observer-cursor",
    registry: base,
    observer: true,
    audit: false,
    steps: [...seq(reg("o", "1.0.0"), reg("o", "1.1.0"), pro("o", "1.1.0")), restart, ...seq(dep("o", "1.1.0"))],
  },
  {
    name: "audit-log",
    registry: base,
    observer: false,
    audit: true,
    steps: [...seq(reg("o", "1.0.0"), pro("o", "1.0.0")), restart, ...seq(reg("o", "1.1.0"))],
  },
  {
    name: "observer-compaction",
    registry: { ...tiny, tailEventsMax: 1 },
    observer: true,
    audit: false,
    steps: seq(reg("o", "1.0.0"), pro("o", "1.0.0"), compact, reg("o", "1.1.0"), pro("o", "1.1.0"), compact),
  },
  {
    name: "observers-group-commit",
    registry: { ...base, batchCommandsMax: 2 },
    observer: true,
    audit: true,
    steps: [
      [reg("g", "1.0.0"), reg("g", "1.1.0"), reg("g", "1.2.0")],
      [pro("g", "1.0.0"), dep("g", "1.1.0")],
    ],
  },
  plain(
    "bulk-group-commit",
    [
      [big("b", "1.0.0", 1500), big("b", "1.1.0", 1700), big("b", "1.2.0", 900), big("c", "1.0.0", 2500)],
      [big("b", "2.0.0", 3000), pro("b", "1.1.0"), big("c", "2.0.0", 1200)],
      [big("d", "1.0.0", 2200), big("d", "1.1.0", 2600), dep("b", "1.0.0")],
    ],
    bulk,
  ),
  plain(
    "bulk-rotation",
    [
      [big("r", "1.0.0", 2000), big("r", "1.1.0", 2000), big("r", "1.2.0", 2000)],
      [big("r", "1.3.0", 2000), big("r", "1.4.0", 2000), pro("r", "1.2.0")],
      [big("r", "1.5.0", 2000), big("r", "1.6.0", 2000), big("r", "1.7.0", 2000)],
    ],
    { ...bulk, segmentBytesMax: 10 * 1024 },
  ),
  plain(
    "bulk-compaction",
    [
      [big("k", "1.0.0", 1800), big("k", "1.1.0", 1800), big("k", "1.2.0", 1800)],
      [pro("k", "1.0.0"), compact],
      [big("k", "1.3.0", 2400), pro("k", "1.3.0"), big("k", "1.4.0", 2400)],
      [compact],
      [big("k", "1.5.0", 3000), dep("k", "1.0.0")],
    ],
    { ...bulk, segmentBytesMax: 12 * 1024 },
  ),
  {
    name: "bulk-observers",
    registry: { ...bulk, batchCommandsMax: 3 },
    observer: true,
    audit: true,
    steps: [
      [big("o", "1.0.0", 1200), big("o", "1.1.0", 1400), big("o", "1.2.0", 1600), big("o", "1.3.0", 1800)],
      restart,
      [big("o", "2.0.0", 2800), pro("o", "1.3.0"), big("o", "2.1.0", 2000)],
    ],
  },
]

/**
 * Bulk workloads: batches of large registrations (several KiB per group commit), so that a crash in the middle of
 * one batch's writeback has hundreds of torn outcomes. They are what makes the enumeration reach tens of
 * thousands of distinct crash states; some roll segments and compact between batches.
 */
export const bulkWorkloads: ReadonlyArray<Workload> = Array.from({ length: 16 }, (_, w) => {
  const name = `bulk${w}`
  const steps: Array<WorkloadStep> = []
  for (let b = 0; b < 5; b++) {
    const size = 3 + ((w + b) % 6)
    const batch: Array<ClientOp> = []
    for (let i = 0; i < size; i++) batch.push(big(name, `${b + 1}.${i}.0`, 700 + ((w * 7 + b * 3 + i * 5) % 9) * 350))
    if (b > 0) batch.push(pro(name, `${b}.0.0`))
    steps.push(batch)
    if (w % 3 === 1 && b === 2) steps.push([compact])
  }
  return {
    name,
    registry: { ...bulk, segmentBytesMax: w % 2 === 0 ? 256 * 1024 : 16 * 1024, batchCommandsMax: 2 + (w % 8) },
    observer: w % 4 === 3,
    audit: false,
    steps,
  }
})

/** Every workload the enumeration and the fail-the-Nth-I/O loop run by default. */
export const allWorkloads: ReadonlyArray<Workload> = [...canonicalWorkloads, ...bulkWorkloads]
