/**
 * `frozenCopy` is what the registry keeps of a caller's metrics and tags: a deep copy as JSON would carry it, every
 * object and array frozen, sharing nothing with what the caller may go on changing.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { frozenCopy, type JsonValue, jsonViolation } from "../../src/domain/Json.ts"

const objectsOf = (value: unknown, into: Array<object> = []): Array<object> => {
  if (typeof value === "object" && value !== null) {
    into.push(value)
    for (const item of Object.values(value)) objectsOf(item, into)
  }
  return into
}

describe("frozenCopy", () => {
  it("copies any accepted JSON value as JSON carries it, frozen all the way down, sharing no object", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.boolean(), (value, nullPrototype) => {
        // The rules accept an object without a prototype too (a parsed body may be built so).
        const given =
          nullPrototype && typeof value === "object" && value !== null && !Array.isArray(value)
            ? Object.assign(Object.create(null) as object, value)
            : value
        fc.pre(jsonViolation(given, "value") === undefined)
        const copy = frozenCopy(given as JsonValue)
        expect(copy).toEqual(JSON.parse(JSON.stringify(value)))
        expect(JSON.stringify(copy)).toBe(JSON.stringify(value))
        const copied = objectsOf(copy)
        for (const part of copied) expect(Object.isFrozen(part)).toBe(true)
        const original = new Set(objectsOf(given))
        for (const part of copied) expect(original.has(part)).toBe(false)
      }),
      { numRuns: 300 },
    )
  })
})
