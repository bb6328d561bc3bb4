import { describe, expect, it } from "@effect/vitest"
import { Either, Option } from "effect"
import { type AnyStateMachine, setup } from "xstate"
import { approval, defaultLifecycle, mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import { defineLifecycle } from "../../src/actors/lifecycleDefinition.ts"
import { type CheckedModel, checkLifecycle, type ModelCheckResult } from "../../src/testing/modelChecker.ts"

const checked = (result: Either.Either<ModelCheckResult, unknown>): ModelCheckResult =>
  Either.getOrThrowWith(result, (error) => new Error(String(error)))

/** A lifecycle of flat states from a plain config, for the checker's negative cases. */
const lifecycleOf = (name: string, states: object, exclusive?: Record<string, string>) =>
  defineLifecycle({
    name,
    machine: setup({ guards: { approved: () => true } }).createMachine({
      id: name,
      initial: Object.keys(states)[0]!,
      states,
    } as never) as unknown as AnyStateMachine,
    ...(exclusive === undefined ? {} : { exclusive }),
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

  it("reports a state no path reaches", () => {
    const unreachable = lifecycleOf("unreachable", { a: { on: { go: "b" } }, b: {}, c: { on: { go: "b" } } })
    expect(checked(checkLifecycle(unreachable, { versions: 3 })).violations).toEqual([
      { reason: 'state "c" is unreachable with 3 versions', counterexample: [] },
    ])
  })

  it("reports a displacement event that a guard may refuse, with a shortest path", () => {
    const guardedArchive = lifecycleOf(
      "guarded-archive",
      {
        none: { on: { promote: "production", archive: "archived" } },
        production: { on: { archive: { target: "archived", guard: "approved" } } },
        archived: {},
      },
      { production: "archive" },
    )
    const [first] = checked(checkLifecycle(guardedArchive, { versions: 2 })).violations
    expect(first).toEqual({
      reason: 'exclusive state "production" displaces its holder with "archive", which "production" does not accept',
      counterexample: ["register 1.0.0", "promote 1.0.0", "register 1.1.0", "promote 1.1.0"],
    })
  })

  it("reports two holders of an exclusive state: its initial state, or the target of another's displacement", () => {
    const exclusiveInitial = defineLifecycle({ ...mlflowStages, name: "exclusive-none", exclusive: { none: "stage" } })
    expect(checked(checkLifecycle(exclusiveInitial, { versions: 2 })).violations[0]).toEqual({
      reason: '1.0.0 and 1.1.0 are both in exclusive state "none"',
      counterexample: ["register 1.0.0", "register 1.1.0"],
    })
    // Entering `a` demotes its holder into `b`, which is exclusive too and may already be held.
    const chained = lifecycleOf(
      "chained",
      { n: { on: { lead: "a", back: "b" } }, a: { on: { demote: "b" } }, b: { on: { retire: "c" } }, c: {} },
      { a: "demote", b: "retire" },
    )
    expect(checked(checkLifecycle(chained, { versions: 3 })).violations[0]).toEqual({
      reason: '1.0.0 and 1.1.0 are both in exclusive state "b"',
      counterexample: ["register 1.0.0", "back 1.0.0", "register 1.1.0", "lead 1.1.0", "register 1.2.0", "lead 1.2.0"],
    })
  })

  it("reports a user invariant's violation with the shortest path to it", () => {
    const noChampion = (model: CheckedModel) => (model.aliases.champion === undefined ? undefined : "champion is set")
    const twoArchived = (model: CheckedModel) =>
      model.versions.filter((v) => v.state === "archived").length > 1 ? "two archived versions" : undefined
    expect(checked(checkLifecycle(mlflowStages, { versions: 3, invariants: [noChampion] })).violations[0]).toEqual({
      reason: "champion is set",
      counterexample: ["register 1.0.0", "promote 1.0.0", "alias champion → 1.0.0"],
    })
    expect(checked(checkLifecycle(mlflowStages, { versions: 3, invariants: [twoArchived] })).violations[0]).toEqual({
      reason: "two archived versions",
      counterexample: ["register 1.0.0", "archive 1.0.0", "register 1.1.0", "archive 1.1.0"],
    })
    expect(
      checked(checkLifecycle(mlflowStages, { versions: 3, invariants: [twoArchived], violationsMax: 3 })).violations,
    ).toHaveLength(3)
  })

  it("reports an event whose retry is not a no-op: a cycle a -e-> b -e-> a", () => {
    const cycle = lifecycleOf("cycle", { a: { on: { e: "b" } }, b: { on: { e: "a" } } })
    expect(checked(checkLifecycle(cycle, { versions: 1 })).violations[0]).toEqual({
      reason: "retrying e 1.0.0 is not a no-op (Accept)",
      counterexample: ["register 1.0.0", "e 1.0.0"],
    })
  })

  it("reports structural problems as the error, not as violations", () => {
    const nested = lifecycleOf("nested", { a: { initial: "x", states: { x: {} } } })
    expect(Either.getLeft(checkLifecycle(nested))).toEqual(
      Option.some(expect.objectContaining({ _tag: "InvalidLifecycle", lifecycle: "nested", counterexample: [] })),
    )
  })

  // The numbers `npm run model-check` prints in CI: a change to the checker or to a built-in lifecycle shows here.
  it.each([
    [defaultLifecycle, ["other-1", "other-2"], 2961, 86538, 32748, 25024, 28766],
    [mlflowStages, ["champion", "other-1"], 5152, 151352, 57360, 40966, 53026],
    [approval, ["live", "candidate"], 3725, 124410, 24540, 30528, 69342],
  ])(
    "explores the same state space of %s at 4 versions and 2 aliases",
    (lifecycle, aliases, states, transitions, accepted, unchanged, rejected) => {
      expect(checked(checkLifecycle(lifecycle, { versions: 4, aliases: 2 }))).toMatchObject({
        aliases,
        states,
        transitions,
        accepted,
        unchanged,
        rejected,
        violations: [],
      })
    },
  )
})
