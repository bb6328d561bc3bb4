import { describe, expect, it } from "@effect/vitest"
import { setup } from "xstate"
import { type LifecycleEventType, makeLifecycle } from "../../src/actors/lifecycleRules.ts"
import { checkLifecycle } from "../../src/testing/modelChecker.ts"

/** The seed-era mistake the checker must catch: a deprecated version that can be promoted again. */
const resurrectingMachine = setup({ types: { events: {} as { type: LifecycleEventType } } }).createMachine({
  id: "modelVersion",
  initial: "registered",
  states: {
    registered: { on: { promote: "production", deprecate: "deprecated" } },
    production: { on: { supersede: "registered", deprecate: "deprecated" } },
    deprecated: { on: { promote: "production" } },
  },
})

describe("model checker", () => {
  it("explores every reachable state of a model with 4 versions and finds no violation", () => {
    const result = checkLifecycle({ versions: 4 })
    // Per version: absent, or one of two contents in registered/deprecated/production, with at most one
    // production version: 5^4 + 4·2·5^3 = 1625 states, each tried with 4 commands on 4 versions.
    expect(result).toMatchObject({ states: 1625, transitions: 1625 * 16, violations: [] })
    expect(result.accepted + result.unchanged + result.rejected).toBe(result.transitions)
  })

  it("fails when a deprecated version may return to production", () => {
    const result = checkLifecycle({ versions: 2, lifecycle: makeLifecycle(resurrectingMachine as never) })
    expect(result.violations.length).toBeGreaterThan(0)
    expect(result.violations[0]).toMatch(/deprecated 1\.\d\.0 returned to production/)
  })
})
