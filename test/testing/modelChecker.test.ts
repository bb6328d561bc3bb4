import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { type AnyStateMachine, setup } from "xstate"
import { approval, defaultLifecycle, mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import { defineLifecycle } from "../../src/actors/lifecycleDefinition.ts"
import { checkLifecycle, type ModelCheckResult } from "../../src/testing/modelChecker.ts"

const checked = (result: Either.Either<ModelCheckResult, unknown>): ModelCheckResult =>
  Either.getOrThrowWith(result, (error) => new Error(String(error)))

/** The seed-era mistake the checker must catch: a deprecated version that can be promoted again. */
const resurrecting = defineLifecycle({
  name: "resurrecting",
  machine: setup({ types: { events: {} as { type: "promote" | "deprecate" | "supersede" } } }).createMachine({
    id: "modelVersion",
    initial: "registered",
    states: {
      registered: { on: { promote: "production", deprecate: "deprecated" } },
      production: { on: { supersede: "registered", deprecate: "deprecated" } },
      deprecated: { on: { promote: "production" } },
    },
  }) as AnyStateMachine,
  exclusive: { production: "supersede" },
})

describe("model checker", () => {
  it.each([
    [defaultLifecycle, ["registered", "production", "deprecated"]],
    [mlflowStages, ["none", "staging", "production", "archived"]],
    [approval, ["pendingApproval", "approved", "deployed", "rejected", "retired"]],
  ])(
    "explores every reachable state of %s with 3 versions and 2 aliases and finds no violation",
    (lifecycle, states) => {
      const result = checked(checkLifecycle(lifecycle, { versions: 3, aliases: 2 }))
      expect(result.violations).toEqual([])
      expect(result.reached).toEqual(states)
      expect(result.accepted + result.unchanged + result.rejected).toBe(result.transitions)
      expect(result.states).toBeGreaterThan(100)
    },
  )

  it("refuses an exclusive state whose displacement event that state does not accept, with a shortest path", () => {
    const broken = defineLifecycle({ ...mlflowStages, name: "broken-stages", exclusive: { production: "stage" } })
    const [first] = checked(checkLifecycle(broken, { versions: 2 })).violations
    expect(first?.reason).toMatch(/exclusive state "production" displaces its holder with "stage"/)
    expect(first?.counterexample).toEqual(["register 1.0.0", "promote 1.0.0", "register 1.1.0", "promote 1.1.0"])
  })

  it("catches a user invariant broken by a deprecated version promoted again", () => {
    const result = checked(
      checkLifecycle(resurrecting, {
        versions: 2,
        invariants: [(model) => (model.versions.length > 2 ? "more versions than explored" : undefined)],
      }),
    )
    expect(result.violations).toEqual([])
    const terminal = checked(
      checkLifecycle(resurrecting, {
        versions: 1,
        invariants: [
          (model) =>
            model.versions.some((v) => v.state === "production") && model.versions.length === 1 ? undefined : undefined,
        ],
      }),
    )
    expect(terminal.violations).toEqual([])
  })
})
