/**
 * Which lifecycle a directory runs under: an empty one adopts any, a directory with versions moves only by an
 * explicit state mapping that puts every version into a state of the new lifecycle and keeps exclusive states
 * exclusive, and the move drops the aliases the new lifecycle's constraints forbid.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { approval, compiledDefault, defaultLifecycle, mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import { type LifecycleMapping, lifecycleChange } from "../../src/actors/lifecycleBinding.ts"
import { compileOrThrow, type LifecycleDefinition } from "../../src/actors/lifecycleDefinition.ts"
import { type Command, makeLifecycle } from "../../src/actors/lifecycleRules.ts"
import { RegistryIndex } from "../../src/actors/RegistryIndex.ts"
import type { AliasName, ModelName, SemVer } from "../../src/domain/index.ts"

const name = "m" as ModelName
const stages = compileOrThrow(mlflowStages)
const approvals = compileOrThrow(approval)

const register = (version: string): Command => ({
  _tag: "Register",
  metadata: {
    id: "00000000-0000-4000-8000-000000000001",
    name,
    version: version as SemVer,
    createdAt: "2026-11-27T00:00:00.000Z",
    metrics: {},
    tags: {},
  },
  compareId: true,
})
const transition = (version: string, event: string): Command => ({
  _tag: "Transition",
  name,
  version: version as SemVer,
  event,
})
const setAlias = (alias: string, version: string): Command => ({
  _tag: "SetAlias",
  name,
  alias: alias as AliasName,
  version: version as SemVer,
})

/** An index written under `definition` (adopted while empty) by `commands`, each of which must be accepted. */
const indexUnder = (definition: LifecycleDefinition, ...commands: ReadonlyArray<Command>): RegistryIndex => {
  const compiled = compileOrThrow(definition)
  const rules = makeLifecycle(compiled)
  const index = new RegistryIndex()
  const adopted = Either.getOrThrow(lifecycleChange(index, compiled, undefined))
  if (adopted !== undefined) index.apply(index.lastSeq + 1, adopted)
  for (const command of commands) {
    const decision = rules.decide(index.model(name), command, "2026-11-28T00:00:00.000Z")
    if (decision._tag !== "Accept") throw new Error(`${command._tag} was not accepted: ${decision._tag}`)
    index.apply(index.lastSeq + 1, decision.event)
  }
  return index
}
const mismatch = (index: RegistryIndex, definition: LifecycleDefinition, mapping?: LifecycleMapping): string => {
  const change = lifecycleChange(index, compileOrThrow(definition), mapping)
  if (Either.isRight(change)) throw new Error("the change was allowed")
  expect(change.left).toMatchObject({ _tag: "LifecycleMismatch", recorded: index.binding.name, given: definition.name })
  return change.left.reason
}
const states = (index: RegistryIndex) => (index.listVersions(name) ?? []).map((v) => `${v.version}:${v.state}`)

describe("lifecycle binding", () => {
  it("lets an empty directory adopt any lifecycle, recording it; the recorded one needs no event", () => {
    for (const definition of [mlflowStages, approval, { ...defaultLifecycle, name: "renamed-default" }]) {
      const compiled = compileOrThrow(definition)
      expect(lifecycleChange(new RegistryIndex(), compiled, undefined)).toEqual(
        Either.right({
          _tag: "LifecycleChanged",
          from: compiledDefault.binding,
          to: compiled.binding,
          mapping: {},
          changes: [],
          aliasesCleared: [],
        }),
      )
    }
    expect(lifecycleChange(new RegistryIndex(), compiledDefault, undefined)).toEqual(Either.right(undefined))
    const staged = indexUnder(mlflowStages, register("1.0.0"))
    expect(staged.binding).toEqual(stages.binding)
    expect(lifecycleChange(staged, stages, { none: "staging" })).toEqual(Either.right(undefined))
  })

  it("keeps a recorded lifecycle even before the first version: moving it needs a mapping, which may be empty", () => {
    const recorded = indexUnder(mlflowStages)
    expect(recorded.lastSeq).toBe(1)
    expect(mismatch(recorded, defaultLifecycle)).toMatch(/recorded its lifecycle; give a state mapping/)
    expect(lifecycleChange(recorded, compiledDefault, {})).toEqual(
      Either.right({
        _tag: "LifecycleChanged",
        from: stages.binding,
        to: compiledDefault.binding,
        mapping: {},
        changes: [],
        aliasesCleared: [],
      }),
    )
  })

  it("refuses a directory with versions another lifecycle, or the same one under another name, without a mapping", () => {
    const index = indexUnder(defaultLifecycle, register("1.0.0"))
    expect(mismatch(index, mlflowStages)).toMatch(/give a state mapping/)
    expect(mismatch(index, { ...defaultLifecycle, name: "renamed" })).toMatch(/give a state mapping/)
    // A state the mapping does not name keeps its name: an empty mapping moves nothing, and is still recorded.
    const renamed = compileOrThrow({ ...defaultLifecycle, name: "renamed" })
    expect(lifecycleChange(index, renamed, {})).toEqual(
      Either.right({
        _tag: "LifecycleChanged",
        from: compiledDefault.binding,
        to: renamed.binding,
        mapping: {},
        changes: [],
        aliasesCleared: [],
      }),
    )
  })

  it("refuses a mapping to a state the new lifecycle lacks, or one that leaves a version's state unmapped", () => {
    const index = indexUnder(defaultLifecycle, register("1.0.0"), register("1.1.0"), transition("1.1.0", "deprecate"))
    expect(mismatch(index, mlflowStages, { registered: "none", deprecated: "retired" })).toMatch(
      /sends "deprecated" to "retired", which is not a state of "mlflow-stages"/,
    )
    expect(mismatch(index, mlflowStages, { registered: "none" })).toMatch(
      /version 1.1.0 of m is "deprecated", which the mapping does not send to a state of "mlflow-stages"/,
    )
  })

  it("refuses a mapping that puts two versions of a model into an exclusive state", () => {
    const index = indexUnder(defaultLifecycle, register("1.0.0"), register("1.1.0"), transition("1.1.0", "promote"))
    expect(mismatch(index, mlflowStages, { registered: "production" })).toMatch(
      /puts 1.0.0 and 1.1.0 of m both in exclusive state "production"/,
    )
  })

  it("moves every version, drops the aliases the new constraints forbid, and finds the new holders", () => {
    const index = indexUnder(
      mlflowStages,
      register("1.0.0"),
      register("1.1.0"),
      register("2.0.0"),
      transition("1.0.0", "promote"),
      transition("1.1.0", "stage"),
      setAlias("live", "1.1.0"),
      setAlias("candidate", "1.1.0"),
      setAlias("champion", "1.0.0"),
    )
    const mapping = { none: "pendingApproval", staging: "approved", production: "deployed", archived: "retired" }
    const change = Either.getOrThrow(lifecycleChange(index, approvals, mapping))
    expect(change).toEqual({
      _tag: "LifecycleChanged",
      from: stages.binding,
      to: approvals.binding,
      mapping,
      changes: [
        { name, version: "1.0.0", from: "production", to: "deployed" },
        { name, version: "1.1.0", from: "staging", to: "approved" },
        { name, version: "2.0.0", from: "none", to: "pendingApproval" },
      ],
      aliasesCleared: [{ name, alias: "live", version: "1.1.0" }],
    })
    index.apply(index.lastSeq + 1, change!)
    expect(index.binding).toEqual(approvals.binding)
    expect(states(index)).toEqual(["1.0.0:deployed", "1.1.0:approved", "2.0.0:pendingApproval"])
    expect(index.listModels()[0]).toMatchObject({
      holders: { deployed: "1.0.0" },
      aliases: { candidate: "1.1.0", champion: "1.0.0" },
      production: null,
    })
    expect(index.get(name, "1.1.0")?.aliases).toEqual(["candidate"])
    expect(index.exclusive).toEqual(new Set(["deployed"]))
  })
})
