import { describe, expect, it } from "@effect/vitest"
import { compiledDefault } from "../../src/actors/builtinLifecycles.ts"
import {
  type Command,
  type Decision,
  evolve,
  lifecycle,
  type ModelView,
  type VersionView,
} from "../../src/actors/lifecycleRules.ts"
import type { EventBody, ModelMetadata, ModelName, SemVer } from "../../src/domain/index.ts"

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

/** given(events).when(command): folds the events with `evolve`, then decides. */
const given = (...events: ReadonlyArray<EventBody>) => ({
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
    return lifecycle.decide(view, command, "2026-11-28T00:00:00.000Z")
  },
})
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
