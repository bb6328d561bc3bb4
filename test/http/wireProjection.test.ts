// Effect's own fast-check: its schema arbitraries are built on that copy, not on the project's.
import { Arbitrary, FastCheck as fc, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { ModelWire, SummaryWire, VersionWire } from "../../src/http/Api.ts"
import { projects, wireEncoder } from "../../src/http/wireProjection.ts"

/** Values of the schema's type with extra top-level keys, which encoding drops. */
const withExtras = <A, I>(schema: Schema.Schema<A, I>) =>
  fc
    .tuple(
      Arbitrary.make(schema),
      fc.dictionary(
        fc.string({ maxLength: 5 }).map((key) => `extra-${key}`),
        fc.jsonValue(),
      ),
    )
    .map(([value, extra]) => ({ ...extra, ...value }) as A)

const agrees = <A, I>(schema: Schema.Schema<A, I>, values: fc.Arbitrary<A>) =>
  fc.assert(
    fc.property(values, (value) => {
      // The domain refuses these keys (src/domain/Json.ts), and Schema's record encoder drops an own `__proto__`.
      fc.pre(!/"(__proto__|constructor|prototype)"/.test(JSON.stringify(value)))
      expect(JSON.stringify(wireEncoder(schema)(value))).toBe(JSON.stringify(Schema.encodeSync(schema)(value)))
    }),
    { numRuns: 300 },
  )

const Nested = Schema.Struct({
  a: Schema.String,
  b: Schema.optionalWith(Schema.Number, { exact: true }),
  c: Schema.optional(Schema.Boolean),
  inner: Schema.NullOr(
    Schema.Struct({ x: Schema.Literal("x", "y"), y: Schema.Array(Schema.Struct({ z: Schema.Int })) }),
  ),
  record: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
})

describe("wire projection", () => {
  it("the hot answers' wire schemas encode by projection", () => {
    expect(projects(VersionWire)).toBe(true)
    expect(projects(Schema.Array(VersionWire))).toBe(true)
    expect(projects(ModelWire)).toBe(true)
    expect(projects(Schema.Array(SummaryWire))).toBe(true)
  })

  it("agrees with Schema's encoder on versions, models and summaries, extra keys dropped", () => {
    agrees(VersionWire, withExtras(VersionWire))
    agrees(Schema.Array(VersionWire), fc.array(withExtras(VersionWire), { maxLength: 4 }))
    agrees(ModelWire, Arbitrary.make(ModelWire))
    agrees(Schema.Array(SummaryWire), Arbitrary.make(Schema.Array(SummaryWire)))
  })

  it("agrees on optional keys, nested structs in unions and arrays, and records", () => {
    expect(projects(Nested)).toBe(true)
    agrees(Nested, withExtras(Nested))
  })

  it("falls back to Schema's encoder where encoding transforms", () => {
    const Transforming = Schema.Struct({ n: Schema.NumberFromString, at: Schema.Date })
    expect(projects(Transforming)).toBe(false)
    expect(wireEncoder(Transforming)({ n: 1, at: new Date(0) })).toEqual({ n: "1", at: "1970-01-01T00:00:00.000Z" })
    const TwoStructs = Schema.Union(Schema.Struct({ a: Schema.String }), Schema.Struct({ b: Schema.String }))
    expect(projects(TwoStructs)).toBe(false)
  })
})
