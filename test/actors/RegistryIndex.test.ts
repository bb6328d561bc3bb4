/**
 * The index orders versions by SemVer precedence with a numeric fast path for plain releases (`1.2.3`) and
 * `semver` for everything else; whatever the mix and the arrival order, listing must equal a stable sort by
 * `compareSemVer`.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { RegistryIndex } from "../../src/actors/RegistryIndex.ts"
import type { ModelMetadata, ModelName, SemVer } from "../../src/domain/index.ts"
import { compareSemVer } from "../../src/domain/SemVer.ts"

const name = "resnet" as ModelName
const metadata = (version: string, i: number): ModelMetadata => ({
  id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
  name,
  version: version as SemVer,
  createdAt: "2026-11-27T00:00:00.000Z",
  metrics: {},
  tags: {},
})

const part = fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constantFrom(99, 100, 123456789012345, 999999999999999))
const identifier = fc.oneof(fc.constantFrom("alpha", "beta", "rc", "x-1"), fc.integer({ min: 0, max: 20 }).map(String))
const version = fc
  .tuple(
    part,
    part,
    part,
    fc.option(fc.array(identifier, { minLength: 1, maxLength: 3 }), { nil: undefined }),
    fc.option(fc.constantFrom("build.1", "sha.abc", "007"), { nil: undefined }),
    fc.option(fc.constantFrom("1234567890123456", "9007199254740991"), { nil: undefined }),
  )
  .map(([major, minor, patch, pre, build, longMajor]) => {
    let text = `${longMajor ?? major}.${minor}.${patch}`
    if (pre) text += `-${pre.join(".")}`
    if (build) text += `+${build}`
    return text
  })

describe("RegistryIndex ordering", () => {
  it("lists versions in SemVer precedence order, ties in arrival order, for any mix and arrival order", () => {
    fc.assert(
      fc.property(fc.uniqueArray(version, { minLength: 1, maxLength: 60 }), (versions) => {
        const index = new RegistryIndex()
        versions.forEach((v, i) => {
          index.apply(i + 1, { _tag: "Registered", metadata: metadata(v, i) })
        })
        const expected = versions
          .map((v, i) => ({ v, i }))
          .sort((a, b) => compareSemVer(a.v as SemVer, b.v as SemVer) || a.i - b.i)
          .map(({ v }) => v)
        expect(index.listVersions(name)!.map((r) => r.version)).toEqual(expected)
      }),
      { numRuns: 300 },
    )
  })

  it("appends increasing plain releases and still places an older one in order", () => {
    const index = new RegistryIndex()
    const versions = ["1.0.0", "1.0.1", "1.2.0", "2.0.0", "1.1.0", "2.0.0-rc.1", "10.0.0", "9.9.9"]
    versions.forEach((v, i) => {
      index.apply(i + 1, { _tag: "Registered", metadata: metadata(v, i) })
    })
    expect(index.listVersions(name)!.map((r) => r.version)).toEqual([
      "1.0.0",
      "1.0.1",
      "1.1.0",
      "1.2.0",
      "2.0.0-rc.1",
      "2.0.0",
      "9.9.9",
      "10.0.0",
    ])
  })
})

describe("RegistryIndex state changes", () => {
  // Versions equal in precedence (build metadata only) sit together in the sorted list; a promotion or
  // deprecation must find the exact one among them.
  const twins = fc.uniqueArray(
    fc.tuple(fc.constantFrom("1.0.0", "1.0.1", "2.0.0-rc.1", "0.9.0"), fc.constantFrom("", "+a", "+b", "+c")),
    { minLength: 1, maxLength: 12, selector: ([core, build]) => core + build },
  )

  it("changes exactly the version named, and every read agrees with a plain model of the states", () => {
    fc.assert(
      fc.property(
        twins.chain((pairs) =>
          fc.tuple(
            fc.shuffledSubarray(pairs.map(([core, build]) => core + build)),
            fc.array(fc.tuple(fc.boolean(), fc.nat({ max: pairs.length - 1 })), { maxLength: 20 }),
          ),
        ),
        ([versions, changes]) => {
          fc.pre(versions.length > 0)
          const index = new RegistryIndex()
          const states = new Map<string, string>()
          let seq = 0
          versions.forEach((v, i) => {
            index.apply(++seq, { _tag: "Registered", metadata: metadata(v, i) })
            states.set(v, "registered")
          })
          for (const [promote, pick] of changes) {
            const v = versions[pick % versions.length]! as SemVer
            if (states.get(v) === "deprecated") continue
            if (promote) {
              const current = [...states].find(([, state]) => state === "production")?.[0] ?? null
              if (current === v) continue
              index.apply(++seq, { _tag: "Promoted", name, version: v, supersedes: current as SemVer | null })
              if (current !== null) states.set(current, "registered")
              states.set(v, "production")
            } else {
              index.apply(++seq, { _tag: "Deprecated", name, version: v })
              states.set(v, "deprecated")
            }
          }
          for (const [v, state] of states) expect(index.get(name, v)?.state).toBe(state)
          const listed = new Map(index.listVersions(name)!.map((r) => [r.version as string, r.state as string]))
          expect(listed).toEqual(states)
          const snapshot = new Map(index.toSnapshot().versions.map((r) => [r.version as string, r.state as string]))
          expect(snapshot).toEqual(states)
          const production = [...states].find(([, state]) => state === "production")?.[0]
          expect(index.production(name)?.version).toBe(production)
        },
      ),
      { numRuns: 500 },
    )
  })
})
