/**
 * The deterministic simulator: same seed ⇒ same run, a few fixed seeds pass, a user observer runs under it, and
 * each of the seed's bugs re-introduced behind the actor's test-only switches is caught within a few seeds.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { RegistryEvent } from "../../src/domain/RegistryEvent.ts"
import {
  type RegistrySettings,
  runSimulation,
  SimulationFailure,
  simulate,
} from "../../src/testing/simulation/index.ts"
import { smallRegistry } from "./settings.ts"

const registry = smallRegistry

// The audit observer is off here: its torn-line bug has its own regression seeds (regressions.test.ts).
const fixed = { steps: 20, audit: false, registry } as const

describe("simulate", () => {
  it("replays a seed byte for byte: same trace, same counts", () => {
    const a = runSimulation({ seed: 7, steps: 25 })
    const b = runSimulation({ seed: 7, steps: 25 })
    expect(b.traceHash).toBe(a.traceHash)
    expect(b.trace).toEqual(a.trace)
    expect([b.calls, b.crashes, b.events, b.ioCount, b.virtualMs, b.invariantsChecked]).toEqual([
      a.calls,
      a.crashes,
      a.events,
      a.ioCount,
      a.virtualMs,
      a.invariantsChecked,
    ])
    expect(runSimulation({ seed: 8, steps: 25 }).traceHash).not.toBe(a.traceHash)
  })

  it.each([2, 3, 4, 5, 6, 9])("seed %i keeps every invariant through crashes and faults", (seed) => {
    const result = simulate({ seed, ...fixed })
    expect(result.ok).toBe(true)
    expect(result.invariantsChecked).toBeGreaterThan(100)
    expect(result.calls).toBeGreaterThan(20)
  })

  it("crashes, injects faults, and checks acknowledged writes over a handful of seeds", () => {
    const results = [2, 3, 4, 5, 6].map((seed) => runSimulation({ seed, ...fixed }))
    expect(results.every((r) => r.ok)).toBe(true)
    expect(results.reduce((n, r) => n + r.crashes, 0)).toBeGreaterThan(3)
    expect(results.reduce((n, r) => n + r.ackedWritesChecked, 0)).toBeGreaterThan(50)
    expect(results.some((r) => r.faults.slowSync > 0)).toBe(true)
  })

  it("runs a user observer under the simulator and checks its deliveries", () => {
    const seen: Array<number> = []
    const audit = (event: RegistryEvent) => Effect.sync(() => void seen.push(event.seq))
    const result = simulate({ seed: 3, ...fixed, observers: [{ name: "mine", handler: audit }] })
    expect(result.events).toBeGreaterThan(0)
    // At-least-once: every seq of the final log reached the handler.
    for (let seq = 1; seq <= result.events; seq++) expect(seen).toContain(seq)
  })

  it("reports a broken invariant with the reproduce line and the trace", () => {
    const broken = () => simulate({ seed: 2, ...fixed, registry: { ...registry, mutations: { ackBeforeFsync: true } } })
    expect(broken).toThrow(SimulationFailure)
    expect(broken).toThrow(/reproduce: npm run simulate -- --seed=2/)
  })
})

/** Seeds tried per mutation: far below the 1,000 of the CI run. */
const seedBudget = 10

const firstCatch = (mutations: NonNullable<RegistrySettings["mutations"]>) => {
  for (let seed = 1; seed <= seedBudget; seed++) {
    const result = runSimulation({ seed, ...fixed, registry: { ...registry, mutations } })
    if (!result.ok) return { seed, result }
  }
  return undefined
}

describe("mutation check: the seed's bugs are caught", () => {
  it("acknowledging before the fsync loses acknowledged writes", () => {
    const caught = firstCatch({ ackBeforeFsync: true })
    expect(caught?.result.violations.map((v) => v.invariant)).toContain("no acknowledged write lost")
    expect(runSimulation({ seed: caught!.seed, ...fixed }).ok).toBe(true)
  })

  it("compaction that rewrites only registrations loses promotions and deprecations", () => {
    const caught = firstCatch({ compactRegistrationsOnly: true })
    expect(caught?.result.violations.map((v) => v.invariant)).toContain("recovered state = the state of the prefix")
    expect(runSimulation({ seed: caught!.seed, ...fixed }).ok).toBe(true)
  })
})
