import { describe, expect, it } from "@effect/vitest"
import { Either, JSONSchema, ParseResult, Schema } from "effect"
import fc from "fast-check"
import { decodeModelName, decoder, metricsBytesMax, RegisterInput } from "../../src/domain/index.ts"
import { isIsoTimestamp, isIsoTimestampAt, isUuid, Uuid } from "../../src/domain/ModelMetadata.ts"

const decodeRegister = decoder(RegisterInput)
const failure = (input: unknown) => {
  const result = decodeRegister(input)
  if (Either.isRight(result)) throw new Error(`expected a failure for ${JSON.stringify(input)}`)
  return result.left
}
const base = { name: "resnet-50", version: "1.0.0" }

describe("RegisterInput", () => {
  it("accepts a full input and keeps it as given", () => {
    const input = {
      ...base,
      id: "5f0c6d5e-8b5f-4d59-9d6e-2f7f4f1f0a11",
      createdAt: "2026-11-27T07:00:00.000Z",
      metrics: { mAP: 0.83, nested: { f1: [0.1, 0.2], ok: true, note: null } },
      tags: { framework: "yolov8" },
    }
    expect(decodeRegister(input)).toEqual(Either.right(input))
  })

  it.each([
    [{ ...base, name: "a/b" }, "name", "letters, digits"],
    [{ ...base, name: "../etc" }, "name", "start with a letter or digit"],
    [{ ...base, name: "x".repeat(129) }, "name", "at most 128"],
    [{ ...base, version: "1.10" }, "version", "SemVer 2.0.0"],
    [{ ...base, metrics: [1, 2] }, "metrics", "JSON object"],
    [{ ...base, metrics: { loss: Number.NaN } }, "metrics", "loss must be a finite number"],
    [{ ...base, metrics: { a: { b: Number.POSITIVE_INFINITY } } }, "metrics", "a.b must be a finite number"],
    [{ ...base, metrics: JSON.parse('{"__proto__": {"polluted": true}}') }, "metrics", "__proto__ is a reserved key"],
    [{ ...base, metrics: { constructor: 1 } }, "metrics", "constructor is a reserved key"],
    [{ ...base, metrics: { blob: "x".repeat(metricsBytesMax) } }, "metrics", `at most ${metricsBytesMax} bytes`],
    [{ ...base, tags: { k: 1 } }, "tags", 'tag "k" must be a string'],
    [{ ...base, tags: JSON.parse('{"__proto__":"x","a":"b"}') }, "tags", 'key "__proto__" is reserved'],
    [{ ...base, tags: new Map([["k", "v"]]) }, "tags", "must be a plain object of string values"],
    [{ ...base, createdAt: "2026-02-31T00:00:00Z" }, "createdAt", "ISO-8601"],
    [{ ...base, createdAt: "2026-01-31T24:00:00Z" }, "createdAt", "ISO-8601"],
    [{ ...base, tags: { "": "v" } }, "tags", "must be 1–128 characters"],
    [{ ...base, tags: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])) }, "tags", "at most 64"],
    [{ ...base, tags: { k: "v".repeat(1025) } }, "tags", "at most 1024 bytes"],
    [{ ...base, id: "not-a-uuid" }, "id", "Universally Unique Identifier"],
    [{ ...base, createdAt: "2026-11-27 07:00" }, "createdAt", "ISO-8601"],
    [{ ...base, createdAt: "2026-13-45T00:00:00Z" }, "createdAt", "ISO-8601"],
    [{ ...base, metric: {} }, "metric", "is unexpected"],
    [{ version: "1.0.0" }, "name", "missing"],
  ])("rejects %j at %s", (input, field, rule) => {
    const error = failure(input)
    expect(error._tag).toBe("InvalidInput")
    expect(error.field).toBe(field)
    expect(error.message).toContain(rule)
  })

  it("rejects deeply nested metrics without exhausting the stack", () => {
    let deep: unknown = 1
    for (let i = 0; i < 10_000; i++) deep = { d: deep }
    expect(failure({ ...base, metrics: deep }).message).toContain("nests deeper than")
    expect(failure({ ...base, tags: { k: deep } }).message).toBe('tags: tag "k" must be a string')
    let deepArray: unknown = []
    for (let i = 0; i < 10_000; i++) deepArray = [deepArray]
    expect(failure(deepArray).message).toContain("too deeply nested")
  })

  it("property: names outside the closed alphabet are always rejected", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s)),
        (name) => Either.isLeft(decodeModelName(name)),
      ),
    )
  })

  it("property: any JSON object of finite values within the limit is accepted unchanged", () => {
    const key = fc
      .string({ minLength: 1, maxLength: 8 })
      .filter((k) => !["__proto__", "constructor", "prototype"].includes(k))
    const value = fc.letrec((tie) => ({
      json: fc.oneof(
        { depthSize: "small" },
        fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
        fc.string(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie("json"), { maxLength: 3 }),
        fc.dictionary(key, tie("json"), { maxKeys: 3 }),
      ),
    })).json
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 5 }), (metrics) => {
        expect(decodeRegister({ ...base, metrics })).toEqual(Either.right({ ...base, metrics }))
      }),
    )
  })
})

describe("isIsoTimestamp", () => {
  // The definition it replaced: the toISOString shape, and a Date round trip that proves a real calendar time.
  const byDateRoundTrip = (text: string): boolean => {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(text)) return false
    const time = Date.parse(text)
    return !Number.isNaN(time) && new Date(time).toISOString().slice(0, 19) === text.slice(0, 19)
  }
  const pad = (value: number, width: number) => String(value).padStart(width, "0")
  // Near-valid timestamps: every field drawn around and beyond its range, leap years included.
  const nearValid = fc
    .record({
      year: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(0, 1900, 2000, 2024, 2026, 2100, 2400)),
      month: fc.integer({ min: 0, max: 13 }),
      day: fc.integer({ min: 0, max: 32 }),
      hour: fc.integer({ min: 0, max: 25 }),
      minute: fc.integer({ min: 0, max: 61 }),
      second: fc.integer({ min: 0, max: 61 }),
      fraction: fc.constantFrom("", ".", ".1", ".12", ".123", ".1234", ".x"),
      zone: fc.constantFrom("Z", "Z", "Z", "z", "+00:00", ""),
    })
    .map(
      (t) =>
        `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}T${pad(t.hour, 2)}:${pad(t.minute, 2)}:` +
        `${pad(t.second, 2)}${t.fraction}${t.zone}`,
    )
  // Single-character damage anywhere, including digits swapped for other characters.
  const damaged = fc
    .tuple(nearValid, fc.nat(), fc.constantFrom("0", "9", "-", ":", "T", " ", "٣", "a", ""))
    .map(([text, at, replacement]) => {
      const index = at % text.length
      return text.slice(0, index) + replacement + text.slice(index + 1)
    })

  it("agrees with the Date round trip it replaced, on near-valid, damaged and arbitrary strings", () => {
    fc.assert(
      fc.property(fc.oneof(nearValid, damaged, fc.string({ maxLength: 30 })), (text) => {
        expect(isIsoTimestamp(text)).toBe(byDateRoundTrip(text))
      }),
      { numRuns: 20_000 },
    )
  })

  it("judges a slice of a longer text as it judges the slice itself, never looking outside it", () => {
    fc.assert(
      fc.property(
        fc.oneof(nearValid, damaged),
        fc.string({ maxLength: 8 }),
        fc.string({ maxLength: 8 }),
        (text, before, after) => {
          expect(isIsoTimestampAt(before + text + after, before.length, before.length + text.length)).toBe(
            isIsoTimestamp(text),
          )
        },
      ),
      { numRuns: 5_000 },
    )
  })

  it("accepts the leap days that exist and refuses those that do not", () => {
    expect(isIsoTimestamp("2024-02-29T00:00:00Z")).toBe(true)
    expect(isIsoTimestamp("2000-02-29T23:59:59.999Z")).toBe(true)
    expect(isIsoTimestamp("1900-02-29T00:00:00Z")).toBe(false)
    expect(isIsoTimestamp("2026-02-29T00:00:00Z")).toBe(false)
  })
})

describe("Uuid: declared over isUuid, as Schema.UUID behaves", () => {
  const messageOf = (schema: Schema.Schema<string>, value: unknown) => {
    const result = Schema.decodeUnknownEither(schema)(value)
    return Either.isLeft(result) ? ParseResult.ArrayFormatter.formatErrorSync(result.left)[0]?.message : undefined
  }

  it("accepts and refuses what Schema.UUID does, with its message", () =>
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uuid(),
          fc.string(),
          fc.uuid().map((u) => u.toUpperCase()),
          fc.integer(),
        ),
        (value) => {
          expect(isUuid(value)).toBe(Schema.is(Schema.UUID)(value))
          expect(messageOf(Uuid, value)).toBe(messageOf(Schema.UUID, value))
        },
      ),
    ))

  it("keeps Schema.UUID's JSON Schema", () => {
    expect(JSONSchema.make(Uuid)).toEqual(JSONSchema.make(Schema.UUID))
  })
})
