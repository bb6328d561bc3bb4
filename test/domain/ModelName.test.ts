import { describe, expect, it } from "@effect/vitest"
import { Either, JSONSchema, Schema } from "effect"
import fc from "fast-check"
import { decodeModelName, isModelName, ModelName, modelNameViolation } from "../../src/domain/index.ts"

describe("ModelName: one rule for the Schema and the fast path", () => {
  it.each([
    ["", "must not be empty"],
    ["x".repeat(129), "must be at most 128 characters"],
    ["-lead", "must start with a letter or digit and contain only letters, digits, '.', '_' and '-'"],
    ["a/b", "must start with a letter or digit and contain only letters, digits, '.', '_' and '-'"],
  ])("refuses %j with the rule's message", (name, rule) => {
    expect(modelNameViolation(name)).toBe(rule)
    expect(isModelName(name)).toBe(false)
    expect(Either.getLeft(decodeModelName(name)).pipe((e) => e._tag === "Some" && e.value.message)).toBe(
      `name: ${rule}`,
    )
  })

  it("the predicate and the Schema agree on any string", () =>
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,130}$/)), (name) => {
        expect(Schema.is(ModelName)(name)).toBe(isModelName(name))
      }),
    ))

  it("keeps the JSON Schema the length and pattern filters gave", () => {
    expect(JSONSchema.make(ModelName)).toMatchObject({
      type: "string",
      minLength: 1,
      maxLength: 128,
      pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$",
    })
  })
})
