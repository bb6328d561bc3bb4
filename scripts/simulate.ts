/**
 * `npm run simulate -- --seeds=N [--seed=S] [--steps=M] [--enumerate] [--fail-nth=ci|all|none] [--workers=W]
 *   [--workload=NAME]`
 *
 * Runs N random simulation seeds (from S, default 1), and with --enumerate the crash-point enumeration over every
 * canonical and bulk workload plus the fail-the-Nth-I/O loop. Prints the counts the issue asks for; on a broken
 * invariant prints the reproduce line and the trace, and exits 1. Work is split over worker processes (default: 2,
 * the CI machine's cores); every seed and crash point is deterministic, so the split does not change any result.
 */
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import { crashVariants } from "../src/testing/SimulatedFileSystem.ts"
import {
  allWorkloads,
  canonicalWorkloads,
  enumerateCrashPoints,
  failEveryNthIo,
  formatFailure,
  runSimulation,
} from "../src/testing/simulation/index.ts"

interface Args {
  readonly seeds: number
  readonly seed: number
  readonly steps: number | undefined
  readonly enumerate: boolean
  readonly failNth: "ci" | "all" | "none"
  readonly workers: number
  readonly worker: readonly [index: number, count: number] | undefined
  /** Only this workload in the enumeration and the fail-the-Nth loop (the reproduce line of a failure). */
  readonly workload: string | undefined
}

const parse = (argv: ReadonlyArray<string>): Args => {
  const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  const int = (name: string, fallback: number) => {
    const raw = value(name)
    if (raw === undefined) return fallback
    const n = Number(raw)
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${raw}`)
    return n
  }
  const seedGiven = value("seed") !== undefined
  const workload = value("workload")
  if (workload !== undefined && !allWorkloads.some((w) => w.name === workload))
    throw new Error(`--workload: no workload named ${workload}; known: ${allWorkloads.map((w) => w.name).join(", ")}`)
  const worker = value("worker")?.split("/").map(Number) as [number, number] | undefined
  const failNth = value("fail-nth") ?? "ci"
  if (failNth !== "ci" && failNth !== "all" && failNth !== "none") throw new Error("--fail-nth must be ci, all or none")
  return {
    // --seed=S alone replays that one seed (the reproduce line).
    // --workload=W alone replays that workload's crash points, without random seeds.
    seeds: int("seeds", seedGiven ? 1 : workload !== undefined ? 0 : 100),
    seed: int("seed", 1),
    steps: value("steps") === undefined ? undefined : int("steps", 40),
    enumerate: argv.includes("--enumerate"),
    failNth,
    workers: Math.max(1, int("workers", 2)),
    worker,
    workload,
  }
}

/** The fail-the-Nth-I/O loop in CI covers one workload per I/O call site family; `--fail-nth=all` runs them all. */
const failNthCi = new Set([
  "register-one",
  "registers-group-commit",
  "compact-after-promotions",
  "rotation-compaction",
  "restarts",
  "observer-cursor",
  "audit-log",
])

interface Totals {
  seeds: number
  seedsFailed: number
  steps: number
  calls: number
  crashes: number
  restarts: number
  faults: Record<string, number>
  invariantsChecked: number
  ackedWritesChecked: number
  randomCrashStates: Array<string>
  enumeratedCrashStates: Array<string>
  crashPoints: number
  statesChecked: number
  failNthRuns: number
  failNthFaults: number
  failures: Array<string>
}

const emptyTotals = (): Totals => ({
  seeds: 0,
  seedsFailed: 0,
  steps: 0,
  calls: 0,
  crashes: 0,
  restarts: 0,
  faults: {},
  invariantsChecked: 0,
  ackedWritesChecked: 0,
  randomCrashStates: [],
  enumeratedCrashStates: [],
  crashPoints: 0,
  statesChecked: 0,
  failNthRuns: 0,
  failNthFaults: 0,
  failures: [],
})

const failuresShownMax = 5

/** One worker's share: seeds with index ≡ worker (mod count), and every count-th workload. */
const runShare = (args: Args, index: number, count: number): Totals => {
  // Stack traces of the thousands of injected errors are never read; capturing them costs a fifth of the run.
  Error.stackTraceLimit = 0
  const totals = emptyTotals()
  const crashStates = new Set<string>()
  for (let i = index; i < args.seeds; i += count) {
    const seed = args.seed + i
    const result = runSimulation({ seed, ...(args.steps === undefined ? {} : { steps: args.steps }) })
    totals.seeds++
    totals.steps += result.steps
    totals.calls += result.calls
    totals.crashes += result.crashes
    totals.restarts += result.restarts
    for (const [kind, n] of Object.entries(result.faults)) totals.faults[kind] = (totals.faults[kind] ?? 0) + n
    totals.invariantsChecked += result.invariantsChecked
    totals.ackedWritesChecked += result.ackedWritesChecked
    for (const state of result.crashStates) crashStates.add(state)
    if (!result.ok) {
      totals.seedsFailed++
      if (totals.failures.length < failuresShownMax) totals.failures.push(formatFailure(result))
    }
  }
  totals.randomCrashStates = [...crashStates]
  if (!args.enumerate) return totals
  const mine = <A extends { readonly name: string }>(xs: ReadonlyArray<A>) =>
    xs.filter((w) => args.workload === undefined || w.name === args.workload).filter((_, i) => i % count === index)
  const enumeration = enumerateCrashPoints({ workloads: mine(allWorkloads), stopAtFirstViolation: false })
  totals.enumeratedCrashStates = [...enumeration.fingerprints]
  totals.crashPoints += enumeration.crashPoints
  totals.statesChecked += enumeration.statesChecked
  totals.invariantsChecked += enumeration.invariantsChecked
  totals.ackedWritesChecked += enumeration.ackedWritesChecked
  for (const failure of enumeration.failures.slice(0, failuresShownMax))
    totals.failures.push(
      [
        `crash-point enumeration: workload ${failure.workload}, crash after I/O ${failure.crashAfterIo}, ${failure.variant}${failure.variant.startsWith("torn") ? ` seed ${failure.tornSeed}` : ""}:`,
        ...failure.violations.slice(0, 3).map((v) => `  ${v.invariant}: ${v.detail}`),
        `reproduce: npm run simulate -- --enumerate --workload=${failure.workload}`,
        ...failure.trace.slice(-15).map((line) => `  ${line}`),
      ].join("\n"),
    )
  if (enumeration.failures.length > failuresShownMax)
    totals.failures.push(
      `crash-point enumeration: ${enumeration.failures.length - failuresShownMax} more failing crash states`,
    )
  if (args.failNth !== "none") {
    const workloads =
      args.failNth === "all" || args.workload !== undefined
        ? canonicalWorkloads
        : canonicalWorkloads.filter((w) => failNthCi.has(w.name))
    const failNth = failEveryNthIo({ workloads: mine(workloads), stopAtFirstViolation: false })
    totals.failNthRuns += failNth.runs
    totals.failNthFaults += failNth.faultsInjected
    totals.invariantsChecked += failNth.invariantsChecked
    for (const failure of failNth.failures.slice(0, failuresShownMax))
      totals.failures.push(
        [
          `fail-the-Nth-I/O: workload ${failure.workload}, I/O ${failure.crashAfterIo} fails ${failure.mode === "once" ? "once" : "from then on"}:`,
          ...failure.violations.slice(0, 3).map((v) => `  ${v.invariant}: ${v.detail}`),
          `reproduce: npm run simulate -- --enumerate --workload=${failure.workload}`,
          ...failure.trace.slice(-15).map((line) => `  ${line}`),
        ].join("\n"),
      )
    if (failNth.failures.length > failuresShownMax)
      totals.failures.push(`fail-the-Nth-I/O: ${failNth.failures.length - failuresShownMax} more failing runs`)
  }
  return totals
}

const merge = (parts: ReadonlyArray<Totals>): Totals => {
  const all = emptyTotals()
  const random = new Set<string>()
  const enumerated = new Set<string>()
  for (const p of parts) {
    for (const key of [
      "seeds",
      "seedsFailed",
      "steps",
      "calls",
      "crashes",
      "restarts",
      "invariantsChecked",
      "ackedWritesChecked",
      "crashPoints",
      "statesChecked",
      "failNthRuns",
      "failNthFaults",
    ] as const)
      all[key] += p[key]
    for (const [kind, n] of Object.entries(p.faults)) all.faults[kind] = (all.faults[kind] ?? 0) + n
    for (const s of p.randomCrashStates) random.add(s)
    for (const s of p.enumeratedCrashStates) enumerated.add(s)
    all.failures.push(...p.failures)
  }
  all.randomCrashStates = [...random]
  all.enumeratedCrashStates = [...enumerated]
  return all
}

const runWorkers = (args: Args): Promise<ReadonlyArray<Totals>> => {
  const script = fileURLToPath(import.meta.url)
  const forwarded = process.argv.slice(2).filter((a) => !a.startsWith("--workers=") && !a.startsWith("--worker="))
  return Promise.all(
    Array.from(
      { length: args.workers },
      (_, index) =>
        new Promise<Totals>((resolve, reject) => {
          const child = fork(script, [...forwarded, `--worker=${index}/${args.workers}`], {
            stdio: ["ignore", "pipe", "inherit", "ipc"],
          })
          child.on("message", (message) => resolve(message as Totals))
          child.on("exit", (code) => {
            if (code !== 0) reject(new Error(`simulation worker ${index} exited with ${code}`))
          })
        }),
    ),
  )
}

const main = async () => {
  const args = parse(process.argv.slice(2))
  if (args.worker !== undefined) {
    process.send?.(runShare(args, args.worker[0], args.worker[1]))
    return
  }
  const started = performance.now()
  const totals = merge(args.workers === 1 ? [runShare(args, 0, 1)] : await runWorkers(args))
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  const faults = Object.entries(totals.faults)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k}=${n}`)
    .join(" ")
  const injected = Object.values(totals.faults).reduce((a, b) => a + b, 0) + totals.failNthFaults
  console.log(
    `seeds run:              ${totals.seeds} (from ${args.seed}; ${totals.steps} steps, ${totals.calls} calls)`,
  )
  console.log(`crashes injected:       ${totals.crashes} in random runs (variants: ${crashVariants.join(", ")})`)
  console.log(
    `faults injected:        ${injected} (${faults || "none"}${totals.failNthFaults > 0 ? ` fail-nth-eio=${totals.failNthFaults}` : ""})`,
  )
  console.log(
    `invariants checked:     ${totals.invariantsChecked} (acknowledged writes checked: ${totals.ackedWritesChecked})`,
  )
  console.log(`crash states explored:  ${totals.randomCrashStates.length} distinct in random runs`)
  if (args.enumerate) {
    console.log(
      `crash-point enumeration: ${totals.enumeratedCrashStates.length} distinct crash states (${totals.statesChecked} checked) at ${totals.crashPoints} crash points, ${args.workload === undefined ? allWorkloads.length : 1} workload(s)`,
    )
    console.log(`fail-the-Nth-I/O:       ${totals.failNthRuns} runs`)
  }
  console.log(`time:                   ${seconds} s on ${args.workers} worker(s)`)
  if (totals.failures.length > 0) {
    console.log(`\nFAILED: ${totals.seedsFailed} seed(s), ${totals.failures.length} report(s)`)
    for (const failure of totals.failures) console.log(`\n${failure}`)
    process.exitCode = 1
  }
}

await main()
