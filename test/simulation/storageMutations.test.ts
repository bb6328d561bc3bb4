/**
 * Mutation check for the storage-level bugs of the seed, re-introduced by the disk decorators of `src/testing/storageMutations.ts`: the simulator
 * (random seeds or the crash-point enumeration) must report each, and the correct build must not.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  canonicalWorkloads,
  enumerateCrashPoints,
  type RegistrySettings,
  runSimulation,
} from "../../src/testing/simulation/index.ts"
import { smallRegistry } from "./settings.ts"

const registry = smallRegistry
const fixed = { steps: 20, audit: false } as const

const invariantsOf = (seed: number, storageMutation?: RegistrySettings["storageMutation"]) =>
  runSimulation({
    seed,
    ...fixed,
    registry: { ...registry, ...(storageMutation ? { storageMutation } : {}) },
  }).violations.map((v) => `${v.invariant}: ${v.detail}`)

describe("mutation check: the seed's storage bugs are caught", () => {
  it("no directory fsync after a rename loses acknowledged writes", () => {
    expect(invariantsOf(2, "skipDirectorySyncAfterRename").join("\n")).toMatch(/no acknowledged write lost/)
    expect(invariantsOf(2)).toEqual([])
  })

  it("compaction that deletes segments its snapshot does not cover breaks recovery", () => {
    expect(invariantsOf(2, "compactionDeletesUnsnapshottedSegments").join("\n")).toMatch(/WalCorrupt/)
    expect(invariantsOf(2)).toEqual([])
  })

  it("recovery that leaves a torn tail in place, then appends after it, is caught by the enumeration", () => {
    const workloads = canonicalWorkloads.filter((w) => w.name === "registers-sequential")
    const options = { workloads, tornSeeds: 8, rewriteSeeds: 8, stopAtFirstViolation: false }
    const details = (report: ReturnType<typeof enumerateCrashPoints>) =>
      report.failures.flatMap((f) => f.violations.map((v) => v.detail))
    const mutated = details(enumerateCrashPoints({ ...options, registry: { storageMutation: "tornTailNotTruncated" } }))
    expect(mutated.filter((d) => d.includes("WalCorrupt")).length).toBeGreaterThan(0)
    expect(details(enumerateCrashPoints(options)).filter((d) => d.includes("WalCorrupt"))).toEqual([])
  })
})
