import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import fc from "fast-check"
import { compareSemVer, decodeSemVer, isCommonSemVer, isSemVer, SemVer } from "../../src/domain/index.ts"

const v = (text: string) => Either.getOrThrow(decodeSemVer(text))

const identifier = fc.oneof(
  fc.nat({ max: 30 }).map(String),
  fc.stringMatching(/^[0-9A-Za-z-]{1,6}$/).filter((s) => !/^\d+$/.test(s) || s === "0" || !s.startsWith("0")),
)
const semVerArb = fc
  .record({
    major: fc.nat({ max: 20 }),
    minor: fc.nat({ max: 20 }),
    patch: fc.nat({ max: 20 }),
    pre: fc.array(identifier, { maxLength: 3 }),
    build: fc.array(fc.stringMatching(/^[0-9A-Za-z-]{1,5}$/), { maxLength: 2 }),
  })
  .map(({ major, minor, patch, pre, build }) => {
    const core = `${major}.${minor}.${patch}`
    return `${core}${pre.length ? `-${pre.join(".")}` : ""}${build.length ? `+${build.join(".")}` : ""}`
  })

describe("SemVer", () => {
  it("orders by SemVer 2.0.0 precedence, pre-release identifiers included", () => {
    const chain = [
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0",
      "1.2.0",
      "1.10.0",
      "2.0.0",
    ].map(v)
    for (let i = 0; i + 1 < chain.length; i++) expect(compareSemVer(chain[i]!, chain[i + 1]!)).toBeLessThan(0)
    const shuffled = [...chain].reverse().sort(compareSemVer)
    expect(shuffled).toEqual(chain)
  })

  it("ignores build metadata for ordering but keeps it in the value", () => {
    expect(compareSemVer(v("1.0.0+a"), v("1.0.0+b"))).toBe(0)
    expect(v("1.0.0-rc.1+build.5")).toBe("1.0.0-rc.1+build.5")
  })

  it.each([
    "",
    "1",
    "1.2",
    "v1.2.3",
    "=1.2.3",
    " 1.2.3",
    "1.2.3 ",
    "01.2.3",
    "1.02.3",
    "1.2.3-01",
    "1.2.3-",
    "1.2.3+",
    "1.2.3-a..b",
    "1.2.3.4",
    "a.b.c",
    `1.2.3-${"x".repeat(300)}`,
  ])("rejects %j with a message naming the field", (text) => {
    const result = decodeSemVer(text)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left._tag).toBe("InvalidInput")
      expect(result.left.field).toBe("version")
    }
  })

  it("property: every generated SemVer decodes to itself", () => {
    fc.assert(fc.property(semVerArb, (text) => Either.isRight(decodeSemVer(text)) && v(text) === text))
  })

  it("property: precedence is a total preorder (antisymmetric and transitive)", () => {
    fc.assert(
      fc.property(semVerArb, semVerArb, semVerArb, (a, b, c) => {
        const [x, y, z] = [v(a), v(b), v(c)] as [SemVer, SemVer, SemVer]
        // `+ 0` turns the -0 of an equal pair's negated sign into 0, which `toBe` (Object.is) tells apart.
        expect(Math.sign(compareSemVer(x, y)) + 0).toBe(-Math.sign(compareSemVer(y, x)) + 0)
        if (compareSemVer(x, y) <= 0 && compareSemVer(y, z) <= 0) expect(compareSemVer(x, z)).toBeLessThanOrEqual(0)
      }),
    )
  })

  it("property: a release outranks each of its pre-releases, and numeric parts compare as numbers", () => {
    fc.assert(
      fc.property(fc.nat({ max: 999 }), fc.nat({ max: 999 }), semVerArb, (a, b, base) => {
        const withoutBuild = base.split("+")[0]!
        const core = withoutBuild.split("-")[0]!
        if (withoutBuild !== core) expect(compareSemVer(v(withoutBuild), v(core))).toBeLessThan(0)
        expect(Math.sign(compareSemVer(v(`1.${a}.0`), v(`1.${b}.0`)))).toBe(Math.sign(a - b))
      }),
    )
  })
})

/** SemVer 2.0.0 precedence with every numeric part as a BigInt: the reference for exact ordering at any length. */
const referenceCompare = (a: string, b: string): number => {
  const split = (text: string) => {
    const withoutBuild = text.split("+")[0]!
    const dash = withoutBuild.indexOf("-")
    const core = (dash === -1 ? withoutBuild : withoutBuild.slice(0, dash)).split(".").map(BigInt)
    return { core, pre: dash === -1 ? [] : withoutBuild.slice(dash + 1).split(".") }
  }
  const sign = (x: bigint, y: bigint) => (x < y ? -1 : x > y ? 1 : 0)
  const [x, y] = [split(a), split(b)]
  for (let i = 0; i < 3; i++) if (x.core[i] !== y.core[i]) return sign(x.core[i]!, y.core[i]!)
  if (x.pre.length === 0 || y.pre.length === 0) return Math.sign(y.pre.length - x.pre.length)
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    const [p, q] = [x.pre[i]!, y.pre[i]!]
    const [pNumeric, qNumeric] = [/^\d+$/.test(p), /^\d+$/.test(q)]
    if (pNumeric && qNumeric && p !== q) return sign(BigInt(p), BigInt(q))
    if (pNumeric !== qNumeric) return pNumeric ? -1 : 1
    if (p !== q) return p < q ? -1 : 1
  }
  return Math.sign(x.pre.length - y.pre.length)
}

// Few distinct values per part, so that two draws often share a prefix and differ only where doubles collide.
const aroundSafeLimit = fc.bigInt({ min: 2n ** 53n - 2n, max: 2n ** 53n + 2n })
const hugeIdentifier = fc
  .oneof(
    { arbitrary: aroundSafeLimit, weight: 4 },
    fc.bigInt({ min: 10n ** 20n, max: 10n ** 20n + 2n }),
    fc.bigInt({ min: 0n, max: 10n ** 40n }),
    fc.bigInt({ min: 0n, max: 2n }),
  )
  .map(String)
const corePart = fc.constantFrom(0n, 1n, 2n ** 53n - 2n, 2n ** 53n - 1n)
const hugeSemVerArb = fc
  .record({
    core: fc.tuple(corePart, fc.constant(0n), corePart),
    pre: fc.array(fc.oneof({ arbitrary: hugeIdentifier, weight: 4 }, fc.constantFrom("alpha", "0a")), {
      maxLength: 2,
    }),
  })
  .map(({ core, pre }) => `${core.join(".")}${pre.length ? `-${pre.join(".")}` : ""}`)

describe("SemVer: numeric identifiers compare exactly at any length", () => {
  it("orders pre-release numbers beyond 2^53 that are equal as doubles", () => {
    expect(compareSemVer(v("1.0.0-9007199254740992"), v("1.0.0-9007199254740993"))).toBeLessThan(0)
    expect(compareSemVer(v("1.0.0-9007199254740993"), v("1.0.0-9007199254740992"))).toBeGreaterThan(0)
    expect(compareSemVer(v("1.0.0-rc.99999999999999999999"), v("1.0.0-rc.100000000000000000000"))).toBeLessThan(0)
    expect(compareSemVer(v("1.0.0-9007199254740991"), v("1.0.0-9007199254740992"))).toBeLessThan(0)
  })

  it("property: precedence agrees with a BigInt reference", () =>
    fc.assert(
      fc.property(hugeSemVerArb, hugeSemVerArb, (a, b) => {
        expect(Math.sign(compareSemVer(v(a), v(b)))).toBe(referenceCompare(a, b))
      }),
      { numRuns: 2000 },
    ))
})

describe("SemVer: one rule for the Schema and the fast path", () => {
  it("the regex only ever accepts what semver accepts, and semver decides the rest", () =>
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.stringMatching(/^(0|[1-9][0-9]{0,17})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})(-[0-9A-Za-z.-]{1,6})?$/),
        ),
        (text) => {
          if (isCommonSemVer(text)) expect(isSemVer(text)).toBe(true)
          expect(Schema.is(SemVer)(text)).toBe(isSemVer(text))
        },
      ),
    ))

  it("a 16-digit part is left to semver, which takes it up to MAX_SAFE_INTEGER", () => {
    expect(isCommonSemVer("9007199254740991.0.0")).toBe(false)
    expect(isSemVer("9007199254740991.0.0")).toBe(true)
    expect(isSemVer("9007199254740992.0.0")).toBe(false)
  })
})
