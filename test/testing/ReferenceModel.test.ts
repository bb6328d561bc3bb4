/**
 * The reference model judges events of any lifecycle from its description alone: given the events so far, a next
 * event is legal or it says why not (the oracle's "every event is a legal step").
 */
import { describe, expect, it } from "@effect/vitest"
import { mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import { compileOrThrow, describeLifecycle } from "../../src/actors/lifecycleDefinition.ts"
import type { RegistryEvent } from "../../src/domain/RegistryEvent.ts"
import { ReferenceModel } from "../../src/testing/ReferenceModel.ts"

const mlflow = describeLifecycle(compileOrThrow(mlflowStages))
const at = "2026-01-01T00:00:00.000Z"
let seq = 0
const event = (body: object) => ({ seq: ++seq, at, ...body }) as RegistryEvent

const registered = (version: string, state = "none") =>
  event({
    _tag: "Registered",
    state,
    metadata: { id: `id-${version}`, name: "m", version, createdAt: at, metrics: {}, tags: {} },
  })
const moved = (version: string, name: string, from: string, to: string, more: object = {}) =>
  event({ _tag: "Transitioned", name: "m", version, event: name, from, to, displaced: [], aliasesCleared: [], ...more })
const aliasSet = (alias: string, version: string, previous: string | null = null) =>
  event({ _tag: "AliasSet", name: "m", alias, version, previous })

/** A model with 1.0.0 in production under `champion`, and 2.0.0 staged. */
const given = () => {
  const model = new ReferenceModel(mlflow)
  for (const e of [
    registered("1.0.0"),
    registered("2.0.0"),
    moved("1.0.0", "promote", "none", "production"),
    aliasSet("champion", "1.0.0"),
    moved("2.0.0", "stage", "none", "staging"),
  ])
    expect(model.applyEvent(e)).toBeUndefined()
  return model
}

const displaced = [{ version: "1.0.0", from: "production", to: "archived" }]
const cleared = [{ alias: "champion", version: "1.0.0" }]

describe("ReferenceModel under a user lifecycle", () => {
  it("accepts a promotion that archives the holder and clears its alias", () => {
    const model = given()
    expect(
      model.applyEvent(moved("2.0.0", "promote", "staging", "production", { displaced, aliasesCleared: cleared })),
    ).toBeUndefined()
    expect(model.models.get("m")?.get("1.0.0")?.state).toBe("archived")
    expect(model.aliasesOf("m").size).toBe(0)
  })

  it("refuses a promotion that leaves two versions in production", () => {
    expect(given().applyEvent(moved("2.0.0", "promote", "staging", "production"))).toMatch(/displaced \[\], expected/)
  })

  it("refuses a promotion that leaves the alias on the archived version", () => {
    expect(given().applyEvent(moved("2.0.0", "promote", "staging", "production", { displaced }))).toMatch(
      /left alias champion on m@1.0.0, which is archived/,
    )
  })

  it("refuses a transition the lifecycle does not have, or from the wrong state", () => {
    expect(given().applyEvent(moved("2.0.0", "stage", "staging", "none"))).toMatch(/is no transition of mlflow-stages/)
    expect(given().applyEvent(moved("2.0.0", "archive", "none", "archived"))).toMatch(/but the version was staging/)
  })

  it("refuses an alias on a state it may not name, or one that says it moved from elsewhere", () => {
    const model = given()
    expect(model.applyEvent(moved("2.0.0", "archive", "staging", "archived"))).toBeUndefined()
    expect(model.applyEvent(aliasSet("champion", "2.0.0", "1.0.0"))).toMatch(/which is archived/)
    expect(given().applyEvent(aliasSet("champion", "2.0.0"))).toMatch(/says it moved from null, but it named 1.0.0/)
  })

  it("refuses clearing an alias that may still name its version", () => {
    const model = given()
    expect(model.applyEvent(aliasSet("champion", "2.0.0", "1.0.0"))).toBeUndefined()
    const promoted = moved("2.0.0", "promote", "staging", "production", {
      displaced,
      aliasesCleared: [{ alias: "champion", version: "2.0.0" }],
    })
    expect(model.applyEvent(promoted)).toMatch(
      /cleared alias champion from 2.0.0, which it may still name in production/,
    )
  })

  it("leaves an alias the lifecycle does not declare unconstrained", () => {
    const model = given()
    expect(model.applyEvent(moved("2.0.0", "archive", "staging", "archived"))).toBeUndefined()
    expect(model.applyEvent(aliasSet("retired", "2.0.0"))).toBeUndefined()
    expect(model.aliasesOf("m").get("retired")).toBe("2.0.0")
  })

  it("refuses a registration outside the initial state", () => {
    expect(new ReferenceModel(mlflow).applyEvent(registered("1.0.0", "staging"))).toMatch(/lifecycle starts in none/)
  })
})
