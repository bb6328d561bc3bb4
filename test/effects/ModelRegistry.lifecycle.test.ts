/**
 * Lifecycles and aliases through the public API, on in-memory storage, on files and on PostgreSQL: transitions and aliases under
 * each built-in lifecycle, guards over metrics, replay of facts after a reopen (also when a guard would now refuse),
 * compaction, input validation, the Promise facade, and a lifecycle refused at open with its counterexample.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Effect, Layer } from "effect"
import { type AnyStateMachine, setup } from "xstate"
import { approval, mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import { defineLifecycle, type LifecycleContext } from "../../src/actors/lifecycleDefinition.ts"
import * as Registry from "../../src/effects/ModelRegistry.ts"
import { openPromiseRegistry } from "../../src/effects/promise.ts"
import { layerFile } from "../../src/node.ts"
import { failureOf } from "../../src/testing/exits.ts"
import { type Opened, open, openFailure, tempDirectory } from "../support/harness.ts"
import { onNode, postgresRegistryBackend } from "../support/postgresRegistry.ts"

type Options = Registry.RegistryOptions
/** Opens the same registry again and again, as a process restarting on the same storage would. */
interface Backend {
  readonly layer: (options?: Options) => Layer.Layer<Registry.ModelRegistry, Registry.RegistryOpenError | unknown>
  readonly remove: () => void
}
const backends: ReadonlyArray<readonly [string, () => Backend]> = [
  [
    "memory",
    () => {
      const store = Registry.makeMemoryRegistryStore()
      return { layer: (options = {}) => Registry.layerMemory({ ...options, store }), remove: () => undefined }
    },
  ],
  [
    "files",
    () => {
      const directory = tempDirectory("lifecycle")
      return { layer: (options = {}) => layerFile({ directory: directory.path, ...options }), remove: directory.remove }
    },
  ],
  ...(onNode ? [["PostgreSQL", postgresRegistryBackend] as const] : []),
]

/** Accuracy of at least 0.9 to enter production; `accurate` is a named guard, so its implementation can change. */
const gated = defineLifecycle({
  name: "gated",
  machine: setup({
    types: { context: {} as LifecycleContext, events: {} as { type: "stage" | "promote" | "archive" } },
    guards: { accurate: ({ context }) => Number(context.metrics.accuracy) >= 0.9 },
  }).createMachine({
    id: "gated",
    initial: "none",
    context: { name: "", version: "", metrics: {}, tags: {} },
    states: {
      none: { on: { stage: "staging", archive: "archived" } },
      staging: { on: { promote: { target: "production", guard: "accurate" }, archive: "archived" } },
      production: { on: { archive: "archived" } },
      archived: {},
    },
  }) as AnyStateMachine,
  exclusive: { production: "archive" },
  aliases: { champion: ["production"] },
})
/** The same lifecycle (same fingerprint), with a stricter implementation of its guard. */
const stricter = defineLifecycle({
  ...gated,
  machine: gated.machine.provide({
    guards: { accurate: ({ context }: { context: LifecycleContext }) => Number(context.metrics.accuracy) >= 0.99 },
  }) as AnyStateMachine,
})

/** Everything a reader sees of the registry's versions, aliases and holders. */
const observed = async ({ registry: r, run }: Opened) => {
  const models = await run(r.listModels)
  return {
    lastSeq: (await run(r.stats)).lastSeq,
    models,
    versions: await Promise.all(models.map((m) => run(r.listVersions(m.name)))),
  }
}
const statesOf = async ({ registry: r, run }: Opened, name: string) =>
  (await run(r.listVersions(name))).map((v) => `${v.version}:${v.state}${v.aliases.length ? `[${v.aliases}]` : ""}`)

describe.each(backends)("lifecycles on %s storage", (_, makeBackend) => {
  const withBackend = async (body: (backend: Backend) => Promise<void>) => {
    const backend = makeBackend()
    try {
      await body(backend)
    } finally {
      backend.remove()
    }
  }
  const session = async (backend: Backend, options: Options, body: (opened: Opened) => Promise<void>) => {
    const opened = await open(backend.layer(options))
    try {
      await body(opened)
    } finally {
      await opened.close()
    }
  }

  it("runs mlflowStages: transitions, displacement, aliases, and the same state after a reopen", () =>
    withBackend(async (backend) => {
      let before: Awaited<ReturnType<typeof observed>> | undefined
      await session(backend, { lifecycle: mlflowStages }, async (opened) => {
        const { registry: r, run, exitOf } = opened
        expect(r.lifecycle).toMatchObject({
          name: "mlflow-stages",
          initial: "none",
          states: ["none", "staging", "production", "archived"],
          exclusive: { production: "archive" },
          aliases: { champion: ["production", "staging"] },
        })
        for (const version of ["1.0.0", "1.1.0", "1.2.0"]) await run(r.register({ name: "m", version }))
        expect((await run(r.get("m", "1.0.0"))).state).toBe("none")
        const staged = await run(r.transition("m", "1.0.0", "stage"))
        expect(staged.version).toMatchObject({ version: "1.0.0", state: "staging", aliases: [] })
        expect(staged.event).toMatchObject({ _tag: "Transitioned", seq: 5, from: "none", to: "staging" })
        const set = await run(r.setAlias("m", "champion", "1.0.0"))
        expect(set.version).toMatchObject({ version: "1.0.0", aliases: ["champion"] })
        expect(set.event).toMatchObject({ _tag: "AliasSet", alias: "champion", version: "1.0.0", previous: null })
        expect((await run(r.setAlias("m", "champion", "1.0.0"))).event).toBeNull()
        await run(r.transition("m", "1.1.0", "promote"))
        const promoted = await run(r.transition("m", "1.0.0", "promote"))
        expect(promoted.event).toMatchObject({
          displaced: [{ version: "1.1.0", from: "production", to: "archived" }],
          aliasesCleared: [],
        })
        expect((await run(r.resolveAlias("m", "champion"))).version).toBe("1.0.0")
        expect((await run(r.transition("m", "1.0.0", "promote"))).event).toBeNull()
        expect(failureOf(await exitOf(r.setAlias("m", "champion", "1.1.0")))).toMatchObject({
          _tag: "AliasNotAllowed",
          state: "archived",
        })
        expect(failureOf(await exitOf(r.transition("m", "1.1.0", "promote")))).toMatchObject({
          _tag: "InvalidTransition",
          from: "archived",
          event: "promote",
        })
        await run(r.setAlias("m", "fallback", "1.1.0"))
        const moved = await run(r.setAlias("m", "fallback", "1.2.0"))
        expect(moved.event).toMatchObject({ _tag: "AliasSet", version: "1.2.0", previous: "1.1.0" })
        expect(await statesOf(opened, "m")).toEqual([
          "1.0.0:production[champion]",
          "1.1.0:archived",
          "1.2.0:none[fallback]",
        ])
        expect((await run(r.listModels))[0]).toMatchObject({
          production: "1.0.0",
          holders: { production: "1.0.0" },
          aliases: { champion: "1.0.0", fallback: "1.2.0" },
        })
        const archived = await run(r.transition("m", "1.0.0", "archive"))
        expect(archived.event).toMatchObject({ aliasesCleared: [{ alias: "champion", version: "1.0.0" }] })
        expect(failureOf(await exitOf(r.resolveAlias("m", "champion")))).toMatchObject({ _tag: "AliasNotFound" })
        const removed = await run(r.removeAlias("m", "fallback"))
        expect(removed).toMatchObject({ alias: "fallback", version: { version: "1.2.0", aliases: [] } })
        expect(removed.event).toMatchObject({ _tag: "AliasRemoved", version: "1.2.0" })
        expect(await run(r.removeAlias("m", "fallback"))).toEqual({ alias: "fallback", version: null, event: null })
        before = await observed(opened)
      })
      await session(backend, { lifecycle: mlflowStages }, async (opened) => {
        expect(await observed(opened)).toEqual(before)
      })
    }))

  it("runs approval: one deployed version, retired by the next deploy with the aliases it may no longer carry", () =>
    withBackend(async (backend) => {
      await session(backend, { lifecycle: approval }, async (opened) => {
        const { registry: r, run, exitOf } = opened
        for (const version of ["1.0.0", "2.0.0", "3.0.0"]) await run(r.register({ name: "m", version }))
        await run(r.transition("m", "1.0.0", "approve"))
        await run(r.transition("m", "2.0.0", "approve"))
        await run(r.transition("m", "3.0.0", "reject"))
        await run(r.transition("m", "1.0.0", "deploy"))
        await run(r.setAlias("m", "live", "1.0.0"))
        await run(r.setAlias("m", "candidate", "2.0.0"))
        const deployed = await run(r.transition("m", "2.0.0", "deploy"))
        expect(deployed.event).toMatchObject({
          displaced: [{ version: "1.0.0", from: "deployed", to: "retired" }],
          aliasesCleared: [{ alias: "live", version: "1.0.0" }],
        })
        expect(await statesOf(opened, "m")).toEqual(["1.0.0:retired", "2.0.0:deployed[candidate]", "3.0.0:rejected"])
        expect(failureOf(await exitOf(r.transition("m", "3.0.0", "approve")))).toMatchObject({
          _tag: "InvalidTransition",
          from: "rejected",
        })
        expect(failureOf(await exitOf(r.promote("m", "2.0.0")))).toMatchObject({ _tag: "InvalidTransition" })
      })
    }))

  it("runs the default lifecycle: promote and deprecate as before, supersede as a transition, free aliases", () =>
    withBackend(async (backend) => {
      await session(backend, {}, async (opened) => {
        const { registry: r, run } = opened
        expect(r.lifecycle.name).toBe("default")
        await run(r.register({ name: "m", version: "1.0.0" }))
        await run(r.register({ name: "m", version: "2.0.0" }))
        expect((await run(r.transition("m", "1.0.0", "promote"))).event).toMatchObject({ _tag: "Promoted" })
        await run(r.setAlias("m", "stable", "1.0.0"))
        expect((await run(r.promote("m", "2.0.0"))).event).toMatchObject({ _tag: "Promoted", supersedes: "1.0.0" })
        const superseded = await run(r.transition("m", "2.0.0", "supersede"))
        expect(superseded.event).toMatchObject({ _tag: "Transitioned", from: "production", to: "registered" })
        expect((await run(r.deprecate("m", "1.0.0"))).event).toMatchObject({ _tag: "Deprecated" })
        expect((await run(r.resolveAlias("m", "stable"))).state).toBe("deprecated")
        expect(await statesOf(opened, "m")).toEqual(["1.0.0:deprecated[stable]", "2.0.0:registered"])
        expect((await run(r.removeAlias("m", "stable"))).event).toMatchObject({
          _tag: "AliasRemoved",
          version: "1.0.0",
        })
        expect(await statesOf(opened, "m")).toEqual(["1.0.0:deprecated", "2.0.0:registered"])
      })
    }))

  it("lets a guard over metrics decide, and replays its decisions as facts when the guard would now refuse", () =>
    withBackend(async (backend) => {
      let before: Awaited<ReturnType<typeof observed>> | undefined
      await session(backend, { lifecycle: gated }, async (opened) => {
        const { registry: r, run, exitOf } = opened
        await run(r.register({ name: "m", version: "1.0.0", metrics: { accuracy: 0.95 } }))
        await run(r.register({ name: "m", version: "1.1.0", metrics: { accuracy: 0.85 } }))
        await run(r.register({ name: "m", version: "1.2.0", metrics: { accuracy: 0.97 } }))
        for (const version of ["1.0.0", "1.1.0", "1.2.0"]) await run(r.transition("m", version, "stage"))
        expect((await run(r.transition("m", "1.0.0", "promote"))).version.state).toBe("production")
        expect(failureOf(await exitOf(r.transition("m", "1.1.0", "promote")))).toMatchObject({
          _tag: "InvalidTransition",
          from: "staging",
          event: "promote",
        })
        await run(r.setAlias("m", "champion", "1.0.0"))
        before = await observed(opened)
      })
      await session(backend, { lifecycle: stricter }, async (opened) => {
        expect(await observed(opened)).toEqual(before)
        const { registry: r, exitOf } = opened
        expect(failureOf(await exitOf(r.transition("m", "1.2.0", "promote")))).toMatchObject({
          _tag: "InvalidTransition",
        })
      })
    }))

  it("compacts a custom lifecycle's states and aliases into a snapshot that reopens to the same state", () =>
    withBackend(async (backend) => {
      let before: Awaited<ReturnType<typeof observed>> | undefined
      await session(backend, { lifecycle: approval }, async (opened) => {
        const { registry: r, run } = opened
        for (const name of ["a", "b"])
          for (const version of ["1.0.0", "1.1.0"]) {
            await run(r.register({ name, version, metrics: { size: version.length } }))
            await run(r.transition(name, version, "approve"))
          }
        await run(r.transition("a", "1.0.0", "deploy"))
        await run(r.setAlias("a", "live", "1.0.0"))
        await run(r.setAlias("a", "candidate", "1.1.0"))
        await run(r.setAlias("b", "anything", "1.0.0"))
        expect(await run(r.compact)).toEqual({ snapshotSeq: (await run(r.stats)).lastSeq, versions: 4 })
        await run(r.transition("a", "1.1.0", "deploy"))
        await run(r.setAlias("b", "candidate", "1.1.0"))
        before = await observed(opened)
      })
      await session(backend, { lifecycle: approval }, async (opened) => {
        expect(await observed(opened)).toEqual(before)
        expect(await statesOf(opened, "a")).toEqual(["1.0.0:retired", "1.1.0:deployed[candidate]"])
        expect(await statesOf(opened, "b")).toEqual(["1.0.0:approved[anything]", "1.1.0:approved[candidate]"])
      })
      expect(await openFailure(backend.layer({ lifecycle: mlflowStages }))).toMatchObject({
        _tag: "LifecycleMismatch",
        recorded: "approval",
      })
    }))

  it("refuses bad alias and event names as InvalidInput, changing nothing", () =>
    withBackend(async (backend) => {
      await session(backend, { lifecycle: mlflowStages }, async (opened) => {
        const { registry: r, run, exitOf } = opened
        await run(r.register({ name: "m", version: "1.0.0" }))
        const lastSeq = (await run(r.stats)).lastSeq
        for (const attempt of [
          r.setAlias("m", "1.0.0", "1.0.0"),
          r.setAlias("m", "has space", "1.0.0"),
          r.setAlias("m", "", "1.0.0"),
          r.setAlias("m", "x".repeat(65), "1.0.0"),
          r.removeAlias("m", "bad/alias"),
          r.resolveAlias("m", "bad alias"),
          r.transition("m", "1.0.0", "stage now"),
          r.transition("m", "1.0.0", ""),
          r.transition("m", "1.0.0", 7 as unknown as string),
          r.setAlias("m", "champion", "not-a-version"),
        ] as ReadonlyArray<Effect.Effect<unknown, { _tag: string }>>)
          expect(failureOf(await exitOf(attempt))?._tag).toBe("InvalidInput")
        expect((await run(r.stats)).lastSeq).toBe(lastSeq)
        expect(failureOf(await exitOf(r.setAlias("nobody", "champion", "1.0.0")))?._tag).toBe("ModelNotFound")
        expect(failureOf(await exitOf(r.resolveAlias("nobody", "champion")))?._tag).toBe("ModelNotFound")
        expect(failureOf(await exitOf(r.transition("m", "9.0.0", "stage")))?._tag).toBe("VersionNotFound")
      })
    }))
})

describe("opening with a lifecycle", () => {
  it("refuses an exclusive state whose displacement event it does not accept, with the shortest counterexample", async () => {
    const broken = defineLifecycle({ ...mlflowStages, name: "broken-stages", exclusive: { production: "stage" } })
    const failure = await openFailure(Registry.layerMemory({ lifecycle: broken }))
    expect(failure).toMatchObject({
      _tag: "InvalidLifecycle",
      lifecycle: "broken-stages",
      counterexample: ["register 1.0.0", "promote 1.0.0", "register 1.1.0", "promote 1.1.0"],
    })
    expect(failure?.message).toMatch(/exclusive state "production" displaces its holder with "stage"/)
  })

  it("refuses a structurally invalid lifecycle with an empty counterexample", async () => {
    const nested = defineLifecycle({
      name: "nested",
      machine: setup({}).createMachine({ id: "n", initial: "a", states: { a: { initial: "x", states: { x: {} } } } }),
    })
    expect(await openFailure(Registry.layerMemory({ lifecycle: nested }))).toMatchObject({
      _tag: "InvalidLifecycle",
      counterexample: [],
    })
  })

  it("lets an empty store adopt any lifecycle and records it; moving it later needs a mapping, even with no version", async () => {
    const store = Registry.makeMemoryRegistryStore()
    const first = await open(Registry.layerMemory({ lifecycle: approval, store }))
    await first.close()
    // Recorded at the first open: a later open without the lifecycle (a read, say) must not move it back silently.
    expect(await openFailure(Registry.layerMemory({ lifecycle: mlflowStages, store }))).toMatchObject({
      _tag: "LifecycleMismatch",
      recorded: "approval",
      given: "mlflow-stages",
    })
    const adopted = await open(Registry.layerMemory({ lifecycle: mlflowStages, lifecycleMapping: {}, store }))
    try {
      await adopted.run(adopted.registry.register({ name: "m", version: "1.0.0" }))
    } finally {
      await adopted.close()
    }
    expect(await openFailure(Registry.layerMemory({ store }))).toMatchObject({
      _tag: "LifecycleMismatch",
      recorded: "mlflow-stages",
      given: "default",
    })
    expect(await openFailure(Registry.layerMemory({ lifecycle: approval, store }))).toMatchObject({
      _tag: "LifecycleMismatch",
      recorded: "mlflow-stages",
      given: "approval",
    })
  })
})

describe("the Promise facade", () => {
  it("transitions, sets, resolves and removes aliases, and describes its lifecycle", async () => {
    const registry = await openPromiseRegistry(Registry.layerMemory({ lifecycle: mlflowStages }))
    try {
      expect(registry.lifecycle.name).toBe("mlflow-stages")
      await registry.register({ name: "m", version: "1.0.0" })
      const staged = await registry.transition("m", "1.0.0", "stage")
      expect(staged.version.state).toBe("staging")
      expect((await registry.setAlias("m", "champion", "1.0.0")).event).toMatchObject({ _tag: "AliasSet" })
      expect((await registry.resolveAlias("m", "champion")).version).toBe("1.0.0")
      expect((await registry.removeAlias("m", "champion")).event).toMatchObject({ _tag: "AliasRemoved" })
      await expect(registry.resolveAlias("m", "champion")).rejects.toMatchObject({ _tag: "AliasNotFound" })
      await expect(registry.transition("m", "1.0.0", "deprecate")).rejects.toMatchObject({
        _tag: "InvalidTransition",
      })
    } finally {
      await registry.close()
    }
  })
})
