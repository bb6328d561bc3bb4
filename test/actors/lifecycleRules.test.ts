import { describe, expect, it } from "@effect/vitest"
import { approval, compiledDefault, mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import { compileOrThrow } from "../../src/actors/lifecycleDefinition.ts"
import {
  type Command,
  type Decision,
  evolve,
  type Lifecycle,
  lifecycle,
  type ModelView,
  makeLifecycle,
  type VersionView,
} from "../../src/actors/lifecycleRules.ts"
import type { AliasName, EventBody, ModelMetadata, ModelName, SemVer } from "../../src/domain/index.ts"

const name = "resnet" as ModelName
const metadata = (version: string, metrics: Record<string, number> = { acc: 0.9 }): ModelMetadata => ({
  id: `00000000-0000-4000-8000-${version.replaceAll(".", "").padStart(12, "0")}`,
  name,
  version: version as SemVer,
  createdAt: "2026-11-27T00:00:00.000Z",
  metrics,
  tags: {},
})
const registered = (version: string): EventBody => ({ _tag: "Registered", metadata: metadata(version) })
const register = (version: string, metrics?: Record<string, number>): Command => ({
  _tag: "Register",
  metadata: metadata(version, metrics),
  compareId: true,
})
const promote = (version: string): Command => ({
  _tag: "Transition",
  name,
  version: version as SemVer,
  event: "promote",
})
const deprecate = (version: string): Command => ({
  _tag: "Transition",
  name,
  version: version as SemVer,
  event: "deprecate",
})

/** under(rules)(events).when(command): folds the events with `evolve`, then decides with `rules`. */
const under =
  (rules: Lifecycle) =>
  (...events: ReadonlyArray<EventBody>) => ({
    when: (command: Command): Decision => {
      const versions = new Map<SemVer, VersionView>()
      const aliases = new Map<string, SemVer>()
      for (const event of events) {
        const change = evolve(event)
        for (const moved of change.versions)
          versions.set(moved.version, {
            metadata: moved.metadata ?? versions.get(moved.version)!.metadata,
            state: moved.state,
          })
        for (const { alias, version } of change.aliases)
          if (version === null) aliases.delete(alias)
          else aliases.set(alias, version)
      }
      const holder = (state: string) => [...versions].find(([, v]) => v.state === state)?.[0]
      const view: ModelView | undefined = versions.size
        ? { version: (v) => versions.get(v), holder, alias: (a) => aliases.get(a) }
        : undefined
      return rules.decide(view, command, "2026-11-28T00:00:00.000Z")
    },
  })
const given = under(lifecycle)
const accepted = (event: EventBody) => ({ _tag: "Accept", event })
const rejectedWith = (decision: Decision) => (decision._tag === "Reject" ? decision.error : undefined)

describe("lifecycle", () => {
  it("derives its transition table from the xstate machine", () => {
    expect(
      Object.fromEntries(
        [...compiledDefault.transitions].map(([s, t]) => [
          s,
          Object.fromEntries([...t].map(([event, candidates]) => [event, candidates.map((c) => c.target)])),
        ]),
      ),
    ).toEqual({
      registered: { promote: ["production"], deprecate: ["deprecated"] },
      production: { supersede: ["registered"], deprecate: ["deprecated"] },
      deprecated: {},
    })
  })

  it("registers a new version", () => {
    expect(given().when(register("1.0.0"))).toEqual(accepted(registered("1.0.0")))
  })

  it("treats an identical re-registration as a no-op and different content as a conflict", () => {
    expect(given(registered("1.0.0")).when(register("1.0.0"))._tag).toBe("Unchanged")
    expect(rejectedWith(given(registered("1.0.0")).when(register("1.0.0", { acc: 0.1 })))?._tag).toBe("VersionConflict")
    const withoutId: Command = { ...(register("1.0.0") as Extract<Command, { _tag: "Register" }>), compareId: false }
    const otherId = { ...withoutId, metadata: { ...metadata("1.0.0"), id: "00000000-0000-4000-8000-00000000ffff" } }
    expect(given(registered("1.0.0")).when(otherId)._tag).toBe("Unchanged")
  })

  it("promotes a registered version with nothing to supersede", () => {
    expect(given(registered("1.0.0")).when(promote("1.0.0"))).toEqual(
      accepted({ _tag: "Promoted", name, version: "1.0.0" as SemVer, supersedes: null }),
    )
  })

  it("supersedes the production version in the same event", () => {
    const events = [registered("1.0.0"), registered("2.0.0")]
    const first: EventBody = { _tag: "Promoted", name, version: "1.0.0" as SemVer, supersedes: null }
    expect(given(...events, first).when(promote("2.0.0"))).toEqual(
      accepted({ _tag: "Promoted", name, version: "2.0.0" as SemVer, supersedes: "1.0.0" as SemVer }),
    )
    const second: EventBody = { _tag: "Promoted", name, version: "2.0.0" as SemVer, supersedes: "1.0.0" as SemVer }
    expect(evolve(second).versions).toEqual([
      { version: "1.0.0", metadata: undefined, state: "registered" },
      { version: "2.0.0", metadata: undefined, state: "production" },
    ])
  })

  it("makes promoting the production version, or deprecating a deprecated one, a no-op", () => {
    const promoted: EventBody = { _tag: "Promoted", name, version: "1.0.0" as SemVer, supersedes: null }
    expect(given(registered("1.0.0"), promoted).when(promote("1.0.0"))._tag).toBe("Unchanged")
    const deprecated: EventBody = { _tag: "Deprecated", name, version: "1.0.0" as SemVer }
    expect(given(registered("1.0.0"), deprecated).when(deprecate("1.0.0"))._tag).toBe("Unchanged")
  })

  it("deprecates the production version, leaving the model with none", () => {
    const promoted: EventBody = { _tag: "Promoted", name, version: "1.0.0" as SemVer, supersedes: null }
    expect(given(registered("1.0.0"), promoted).when(deprecate("1.0.0"))).toEqual(
      accepted({ _tag: "Deprecated", name, version: "1.0.0" as SemVer }),
    )
  })

  it("refuses to promote a deprecated version", () => {
    const deprecated: EventBody = { _tag: "Deprecated", name, version: "1.0.0" as SemVer }
    const error = rejectedWith(given(registered("1.0.0"), deprecated).when(promote("1.0.0")))
    expect(error?._tag).toBe("InvalidTransition")
    expect(error).toMatchObject({ from: "deprecated", event: "promote", version: "1.0.0" })
  })

  it("reports unknown models and versions", () => {
    expect(rejectedWith(given().when(promote("1.0.0")))).toMatchObject({ _tag: "ModelNotFound", name })
    expect(rejectedWith(given(registered("1.0.0")).when(deprecate("9.9.9")))).toMatchObject({
      _tag: "VersionNotFound",
      version: "9.9.9",
    })
  })
})

const v = (version: string) => version as SemVer
const transition = (version: string, event: string): Command => ({
  _tag: "Transition",
  name,
  version: v(version),
  event,
})
const setAlias = (alias: string, version: string): Command => ({
  _tag: "SetAlias",
  name,
  alias: alias as AliasName,
  version: v(version),
})
const removeAlias = (alias: string): Command => ({ _tag: "RemoveAlias", name, alias: alias as AliasName })
/** The events a decision accepted, for building the next `given`. */
const eventOf = (decision: Decision): EventBody => {
  if (decision._tag !== "Accept") throw new Error(`expected an event, got ${decision._tag}`)
  return decision.event
}
/** Folds the commands in order, each decided against the events of the ones before; returns those events. */
const run = (rules: Lifecycle, ...commands: ReadonlyArray<Command>): ReadonlyArray<EventBody> => {
  const events: Array<EventBody> = []
  for (const command of commands) events.push(eventOf(under(rules)(...events).when(command)))
  return events
}

/** The decision for a transition that displaces 1.0.0 from the exclusive state into `displacedTo`, clearing `alias`. */
const displacing = (
  transition: { version: string; event: string; from: string; to: string },
  displacedTo: string,
  alias: string,
) =>
  accepted({
    _tag: "Transitioned",
    name,
    ...transition,
    version: v(transition.version),
    displaced: [{ version: v("1.0.0"), from: transition.to, to: displacedTo }],
    aliasesCleared: [{ alias: alias as AliasName, version: v("1.0.0") }],
  })

describe("mlflowStages", () => {
  const stages = makeLifecycle(compileOrThrow(mlflowStages))
  const history = (...commands: ReadonlyArray<Command>) => run(stages, ...commands)
  const twoVersions = [register("1.0.0"), register("1.1.0")]

  it("registers into its initial state, named in the event", () => {
    expect(under(stages)().when(register("1.0.0"))).toEqual(
      accepted({ _tag: "Registered", metadata: metadata("1.0.0"), state: "none" }),
    )
  })

  it("archives the production version in the event that promotes the next, clearing the aliases it loses", () => {
    const events = history(...twoVersions, transition("1.0.0", "promote"), setAlias("champion", "1.0.0"))
    expect(events[2]).toEqual({
      _tag: "Transitioned",
      name,
      version: "1.0.0",
      event: "promote",
      from: "none",
      to: "production",
      displaced: [],
      aliasesCleared: [],
    })
    expect(under(stages)(...events).when(transition("1.1.0", "promote"))).toEqual(
      displacing({ version: "1.1.0", event: "promote", from: "none", to: "production" }, "archived", "champion"),
    )
  })

  it("clears an alias when its version leaves the states it allows, and keeps it while it stays in them", () => {
    const staged = history(...twoVersions, transition("1.0.0", "stage"), setAlias("champion", "1.0.0"))
    expect(eventOf(under(stages)(...staged).when(transition("1.0.0", "promote")))).toMatchObject({
      from: "staging",
      to: "production",
      aliasesCleared: [],
    })
    expect(eventOf(under(stages)(...staged).when(transition("1.0.0", "archive")))).toMatchObject({
      to: "archived",
      aliasesCleared: [{ alias: "champion", version: "1.0.0" }],
    })
    const undeclared = [...staged, eventOf(under(stages)(...staged).when(setAlias("mine", "1.0.0")))]
    expect(eventOf(under(stages)(...undeclared).when(transition("1.0.0", "archive")))).toMatchObject({
      aliasesCleared: [{ alias: "champion", version: "1.0.0" }],
    })
  })

  it("treats a retry as a no-op and an event the state cannot take as an invalid transition", () => {
    const promoted = history(...twoVersions, transition("1.0.0", "promote"))
    expect(under(stages)(...promoted).when(transition("1.0.0", "promote"))._tag).toBe("Unchanged")
    const archived = history(...twoVersions, transition("1.0.0", "archive"))
    expect(under(stages)(...archived).when(transition("1.0.0", "archive"))._tag).toBe("Unchanged")
    expect(rejectedWith(under(stages)(...archived).when(transition("1.0.0", "promote")))).toMatchObject({
      _tag: "InvalidTransition",
      from: "archived",
      event: "promote",
    })
    expect(rejectedWith(under(stages)(...promoted).when(transition("1.0.0", "stage")))).toMatchObject({
      _tag: "InvalidTransition",
      from: "production",
      event: "stage",
    })
  })

  it("refuses an event the lifecycle does not know, and the default lifecycle's names", () => {
    const events = history(...twoVersions)
    for (const event of ["deploy", "deprecate", "supersede"])
      expect(rejectedWith(under(stages)(...events).when(transition("1.0.0", event)))).toMatchObject({
        _tag: "InvalidTransition",
        from: "none",
        event,
      })
  })

  it("sets, moves and removes aliases, naming the previous version; a retry writes nothing", () => {
    const events = history(...twoVersions, transition("1.0.0", "stage"), transition("1.1.0", "stage"))
    const set = eventOf(under(stages)(...events).when(setAlias("champion", "1.0.0")))
    expect(set).toEqual({ _tag: "AliasSet", name, alias: "champion", version: "1.0.0", previous: null })
    expect(under(stages)(...events, set).when(setAlias("champion", "1.0.0"))._tag).toBe("Unchanged")
    const moved = eventOf(under(stages)(...events, set).when(setAlias("champion", "1.1.0")))
    expect(moved).toEqual({ _tag: "AliasSet", name, alias: "champion", version: "1.1.0", previous: "1.0.0" })
    const removed = eventOf(under(stages)(...events, set, moved).when(removeAlias("champion")))
    expect(removed).toEqual({ _tag: "AliasRemoved", name, alias: "champion", version: "1.1.0" })
    expect(under(stages)(...events, set, moved, removed).when(removeAlias("champion"))).toEqual({
      _tag: "Unchanged",
      current: undefined,
    })
  })

  it("refuses an alias on a version in a state it does not allow, or on a missing version or model", () => {
    const events = history(...twoVersions)
    expect(rejectedWith(under(stages)(...events).when(setAlias("champion", "1.0.0")))).toMatchObject({
      _tag: "AliasNotAllowed",
      alias: "champion",
      version: "1.0.0",
      state: "none",
      allowed: ["production", "staging"],
    })
    expect(eventOf(under(stages)(...events).when(setAlias("anything", "1.0.0")))._tag).toBe("AliasSet")
    expect(rejectedWith(under(stages)(...events).when(setAlias("champion", "9.0.0")))?._tag).toBe("VersionNotFound")
    expect(rejectedWith(under(stages)().when(setAlias("champion", "1.0.0")))?._tag).toBe("ModelNotFound")
    expect(rejectedWith(under(stages)().when(removeAlias("champion")))?._tag).toBe("ModelNotFound")
  })
})

describe("approval", () => {
  const rules = makeLifecycle(compileOrThrow(approval))
  const history = (...commands: ReadonlyArray<Command>) => run(rules, ...commands)

  it("deploys one approved version at a time, retiring the deployed one and clearing its aliases", () => {
    const events = history(
      register("1.0.0"),
      register("1.1.0"),
      transition("1.0.0", "approve"),
      transition("1.1.0", "approve"),
      setAlias("candidate", "1.1.0"),
      transition("1.0.0", "deploy"),
      setAlias("live", "1.0.0"),
    )
    expect(events[0]).toMatchObject({ _tag: "Registered", state: "pendingApproval" })
    expect(under(rules)(...events).when(transition("1.1.0", "deploy"))).toEqual(
      displacing({ version: "1.1.0", event: "deploy", from: "approved", to: "deployed" }, "retired", "live"),
    )
  })

  it("keeps a rejected version rejected", () => {
    const events = history(register("1.0.0"), transition("1.0.0", "reject"))
    expect(rejectedWith(under(rules)(...events).when(transition("1.0.0", "approve")))).toMatchObject({
      _tag: "InvalidTransition",
      from: "rejected",
    })
    expect(under(rules)(...events).when(transition("1.0.0", "reject"))._tag).toBe("Unchanged")
    expect(rejectedWith(under(rules)(...events).when(setAlias("live", "1.0.0")))).toMatchObject({
      _tag: "AliasNotAllowed",
      state: "rejected",
      allowed: ["deployed"],
    })
  })
})

describe("default lifecycle events", () => {
  it("writes `supersede` as a Transitioned event, the events it had before as Promoted and Deprecated", () => {
    const events = run(lifecycle, register("1.0.0"), promote("1.0.0"), setAlias("mine", "1.0.0"))
    expect(events.map((e) => e._tag)).toEqual(["Registered", "Promoted", "AliasSet"])
    expect(given(...events).when(transition("1.0.0", "supersede"))).toEqual(
      accepted({
        _tag: "Transitioned",
        name,
        version: v("1.0.0"),
        event: "supersede",
        from: "production",
        to: "registered",
        displaced: [],
        aliasesCleared: [],
      }),
    )
    expect(eventOf(given(...events).when(deprecate("1.0.0")))).toEqual({ _tag: "Deprecated", name, version: "1.0.0" })
    expect(rejectedWith(given(...events).when(transition("1.0.0", "archive")))?._tag).toBe("InvalidTransition")
  })
})
