import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import {
  comparisonOperators,
  decodeCursor,
  encodeCursor,
  parseMetricFilter,
  parseTagFilter,
  queryFingerprint,
} from "../../src/domain/Search.ts"

const metricName = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,20}$/)

describe("Search", () => {
  it("parses every comparison written as the CLI and the query string take it", () => {
    fc.assert(
      fc.property(
        metricName,
        fc.constantFrom(...comparisonOperators),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.boolean(),
        fc.constantFrom("", " "),
        (metric, op, value, prefixed, space) => {
          const text = `${prefixed ? "metric." : ""}${metric}${space}${op}${space}${value}`
          expect(parseMetricFilter(text)).toEqual(Either.right({ metric, op, value: Number(String(value)) }))
        },
      ),
    )
  })

  it("refuses a comparison it cannot read, naming the field", () => {
    for (const text of [
      "accuracy",
      "accuracy>>0.9",
      ">=0.9",
      "accuracy>=",
      "accuracy>=abc",
      "accuracy>=Infinity",
      "__proto__>=1",
    ])
      expect(Either.getLeft(parseMetricFilter(text))).toMatchObject({ _tag: "Some", value: { field: "metric" } })
  })

  it("splits a tag at its first =", () => {
    expect(parseTagFilter("team=vision")).toEqual(Either.right(["team", "vision"]))
    expect(parseTagFilter("expr=a=b")).toEqual(Either.right(["expr", "a=b"]))
    expect(parseTagFilter("empty=")).toEqual(Either.right(["empty", ""]))
    expect(Either.isLeft(parseTagFilter("=x"))).toBe(true)
    expect(Either.isLeft(parseTagFilter("team"))).toBe(true)
  })

  it("reads back every cursor it wrote, for the query it wrote it for only", () => {
    fc.assert(
      fc.property(
        // JSON has no -0, and a metric of -0 sorts where 0 does.
        fc.oneof(
          fc.constant(null),
          fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => (v === 0 ? 0 : v)),
        ),
        fc.string(),
        fc.string(),
        (value, name, version) => {
          const query = queryFingerprint({ tags: { team: "a" }, orderBy: "createdAt" })
          const cursor = encodeCursor({ query, value, name, version })
          expect(decodeCursor(cursor, query)).toEqual(Either.right({ query, value, name, version }))
          const other = queryFingerprint({ tags: { team: "b" }, orderBy: "createdAt" })
          expect(Either.isLeft(decodeCursor(cursor, other))).toBe(true)
        },
      ),
    )
  })

  it("fingerprints a query by what it selects and its order, not by its page size or key order", () => {
    expect(queryFingerprint({ tags: { a: "1", b: "2" }, limit: 5 })).toBe(
      queryFingerprint({ tags: { b: "2", a: "1" }, limit: 50, cursor: "x" }),
    )
    expect(queryFingerprint({ orderBy: "createdAt" })).not.toBe(
      queryFingerprint({ orderBy: "createdAt", descending: true }),
    )
  })
})
