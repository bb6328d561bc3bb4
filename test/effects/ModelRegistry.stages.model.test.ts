/**
 * Model-based test of the registry under `mlflowStages`: random sequences of registrations, transitions (and events
 * the lifecycle does not know), alias commands, compactions and reopens, against a reference written from the
 * lifecycle's description, not from its decider: a table of moves, one production version per model whose
 * predecessor is archived, and a `champion` alias that only a staging or production version may carry.
 */
import { describe, expect, it } from "@effect/vitest"
import { type Effect, Exit } from "effect"
import fc from "fast-check"
import { mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import type { RegistryEvent } from "../../src/domain/RegistryEvent.ts"
import { layerMemory, makeMemoryRegistryStore } from "../../src/effects/ModelRegistry.ts"
import { layerFile } from "../../src/node.ts"
import { failureTag } from "../../src/testing/exits.ts"
import { command as commandOf, type ModelRun, type Real, runModel, temporaryDirectories } from "../support/modelRun.ts"
import { onNode, postgresRegistryBackend } from "../support/postgresRegistry.ts"

const names = ["alpha", "beta"] as const
const versions = ["1.0.0", "1.10.0", "2.0.0"] as const
const events = ["stage", "promote", "archive", "deprecate"] as const
const aliases = ["champion", "canary"] as const

/** Where each event takes a version from each state; a missing entry is no move. */
const moves: Record<string, Record<string, string>> = {
  none: { stage: "staging", promote: "production", archive: "archived" },
  staging: { promote: "production", archive: "archived" },
  production: { archive: "archived" },
  archived: {},
}
/** The state each event leads to: a version already there has had it, so sending it again changes nothing. */
const targetOf: Record<string, string> = { stage: "staging", promote: "production", archive: "archived" }
const championStates = new Set(["staging", "production"])

type Expected =
  | { readonly ok: false; readonly tag: string }
  | {
      readonly ok: true
      readonly changed: boolean
      readonly version: string | null
      readonly displaced?: ReadonlyArray<string>
      readonly cleared?: ReadonlyArray<string>
    }
const fail = (tag: string): Expected => ({ ok: false, tag })

class Reference {
  readonly models = new Map<string, { states: Map<string, string>; aliases: Map<string, string> }>()
  /** The registry writes its lifecycle into the empty log first: seq 1. */
  lastSeq = 1

  private changed(outcome: Omit<Extract<Expected, { ok: true }>, "ok" | "changed">): Expected {
    this.lastSeq++
    return { ok: true, changed: true, ...outcome }
  }

  register(name: string, version: string): Expected {
    const model = this.models.get(name) ?? { states: new Map(), aliases: new Map() }
    this.models.set(name, model)
    if (model.states.has(version)) return { ok: true, changed: false, version }
    model.states.set(version, "none")
    return this.changed({ version })
  }

  transition(name: string, version: string, event: string): Expected {
    const model = this.models.get(name)
    if (model === undefined) return fail("ModelNotFound")
    const from = model.states.get(version)
    if (from === undefined) return fail("VersionNotFound")
    const to = moves[from]![event]
    if (to === undefined)
      return targetOf[event] === from ? { ok: true, changed: false, version } : fail("InvalidTransition")
    const displaced: Array<string> = []
    const cleared: Array<string> = []
    const holder = [...model.states].find(([, state]) => state === "production")?.[0]
    if (to === "production" && holder !== undefined) {
      model.states.set(holder, "archived")
      displaced.push(holder)
      if (model.aliases.get("champion") === holder) cleared.push(holder)
    }
    model.states.set(version, to)
    if (!championStates.has(to) && model.aliases.get("champion") === version) cleared.push(version)
    if (cleared.length > 0) model.aliases.delete("champion")
    return this.changed({ version, displaced, cleared })
  }

  setAlias(name: string, alias: string, version: string): Expected {
    const model = this.models.get(name)
    if (model === undefined) return fail("ModelNotFound")
    const state = model.states.get(version)
    if (state === undefined) return fail("VersionNotFound")
    if (alias === "champion" && !championStates.has(state)) return fail("AliasNotAllowed")
    if (model.aliases.get(alias) === version) return { ok: true, changed: false, version }
    model.aliases.set(alias, version)
    return this.changed({ version })
  }

  removeAlias(name: string, alias: string): Expected {
    const model = this.models.get(name)
    if (model === undefined) return fail("ModelNotFound")
    const version = model.aliases.get(alias)
    if (version === undefined) return { ok: true, changed: false, version: null }
    model.aliases.delete(alias)
    return this.changed({ version })
  }
}

interface Answer {
  readonly version: { readonly version: string } | null
  readonly event: RegistryEvent | null
}

const expectOutcome = async (real: Real, effect: Effect.Effect<Answer, unknown>, expected: Expected) => {
  const exit = await real.opened.exitOf(effect)
  if (!expected.ok) {
    expect(failureTag(exit)).toBe(expected.tag)
    return
  }
  expect(Exit.isSuccess(exit) ? "ok" : (failureTag(exit) ?? "defect")).toBe("ok")
  const answer = (exit as Exit.Success<Answer, never>).value
  expect(answer.version?.version ?? null).toBe(expected.version)
  expect(answer.event === null).toBe(!expected.changed)
  if (expected.displaced !== undefined && answer.event !== null) {
    const event = answer.event._tag === "Transitioned" ? answer.event : undefined
    expect(event?.displaced.map((d) => d.version)).toEqual(expected.displaced)
    expect(event?.aliasesCleared.map((c) => c.version)).toEqual(expected.cleared)
  }
}

/** Everything a reader sees: every version's state and aliases, each model's holder and aliases, the last seq. */
const expectSameState = async (real: Real, reference: Reference) => {
  const { registry, run } = real.opened
  const summaries = await run(registry.listModels)
  expect(summaries.map((s) => s.name)).toEqual([...reference.models.keys()].sort())
  for (const [name, model] of reference.models) {
    const listed = await run(registry.listVersions(name))
    expect(listed.map((v) => [v.version, v.state, v.aliases])).toEqual(
      versions
        .filter((v) => model.states.has(v))
        .map((v) => [
          v,
          model.states.get(v),
          [...model.aliases]
            .filter(([, target]) => target === v)
            .map(([alias]) => alias)
            .sort(),
        ]),
    )
    const production = [...model.states].find(([, state]) => state === "production")?.[0]
    expect(summaries.find((s) => s.name === name)).toMatchObject({
      production: production ?? null,
      holders: production === undefined ? {} : { production },
      aliases: Object.fromEntries([...model.aliases].sort()),
    })
  }
  expect((await run(registry.stats)).lastSeq).toBe(reference.lastSeq)
}

const command = (label: string, run: (reference: Reference, real: Real) => Promise<void>) =>
  commandOf<Reference>(label, run)
// Mostly one model, so that displacements and cleared aliases happen often; sometimes one never registered.
const nameArb = fc.constantFrom("alpha", "alpha", "alpha", "beta", "gamma")
const versionArb = fc.constantFrom(...versions)
const aliasArb = fc.constantFrom(...aliases)

const [registers, transitions, aliasSets, ...others] = [
  fc
    .tuple(nameArb, versionArb)
    .map(([name, version]) =>
      command(`register(${name}, ${version})`, (reference, real) =>
        expectOutcome(real, real.opened.registry.register({ name, version }), reference.register(name, version)),
      ),
    ),
  fc
    .tuple(nameArb, versionArb, fc.constantFrom(...events))
    .map(([name, version, event]) =>
      command(`transition(${name}, ${version}, ${event})`, (reference, real) =>
        expectOutcome(
          real,
          real.opened.registry.transition(name, version, event),
          reference.transition(name, version, event),
        ),
      ),
    ),
  fc
    .tuple(nameArb, aliasArb, versionArb)
    .map(([name, alias, version]) =>
      command(`setAlias(${name}, ${alias}, ${version})`, (reference, real) =>
        expectOutcome(
          real,
          real.opened.registry.setAlias(name, alias, version),
          reference.setAlias(name, alias, version),
        ),
      ),
    ),
  fc
    .tuple(nameArb, aliasArb)
    .map(([name, alias]) =>
      command(`removeAlias(${name}, ${alias})`, (reference, real) =>
        expectOutcome(real, real.opened.registry.removeAlias(name, alias), reference.removeAlias(name, alias)),
      ),
    ),
  fc.tuple(nameArb, aliasArb).map(([name, alias]) =>
    command(`resolveAlias(${name}, ${alias})`, async (reference, real) => {
      const exit = await real.opened.exitOf(real.opened.registry.resolveAlias(name, alias))
      const model = reference.models.get(name)
      const target = model?.aliases.get(alias)
      if (model === undefined) expect(failureTag(exit)).toBe("ModelNotFound")
      else if (target === undefined) expect(failureTag(exit)).toBe("AliasNotFound")
      else expect(Exit.isSuccess(exit) && exit.value.version).toBe(target)
    }),
  ),
  fc.constant(command("compact", (_reference, real) => real.opened.run(real.opened.registry.compact).then(() => {}))),
  fc.constant(
    command("close+reopen", async (reference, real) => {
      await real.reopen()
      await expectSameState(real, reference)
    }),
  ),
]

// Transitions and alias moves weigh more: a displacement that clears an alias takes several of them on one model.
const commands = [registers!, transitions!, transitions!, transitions!, aliasSets!, aliasSets!, ...others]

const run = (layer: ModelRun<Reference>["layer"], numRuns: number, cleanup?: () => void) =>
  runModel<Reference>({
    commands,
    maxCommands: 40,
    size: "max",
    numRuns,
    model: () => new Reference(),
    layer,
    // Every version registered first, so that most transitions and alias commands find their version.
    setup: async (reference, real) => {
      for (const name of names)
        for (const version of versions)
          await expectOutcome(real, real.opened.registry.register({ name, version }), reference.register(name, version))
    },
    expectSameState: (reference, real) => expectSameState(real, reference),
    ...(cleanup === undefined ? {} : { cleanup }),
  })

describe("ModelRegistry under mlflowStages (model-based)", () => {
  it("agrees with the reference on the memory layer", async () => {
    await run(() => layerMemory({ lifecycle: mlflowStages, store: makeMemoryRegistryStore() }), 40)
  })

  it("agrees with the reference on the file layer, across real reopens", async () => {
    const directories = temporaryDirectories("stages-model")
    await run(
      () =>
        layerFile({
          directory: directories.next(),
          lifecycle: mlflowStages,
          segmentBytesMax: 16 * 1024,
          recordBytesMax: 4096,
        }),
      20,
      directories.cleanup,
    )
  })

  if (onNode)
    it("agrees with the reference on PostgreSQL, across real reopens", async () => {
      const backends: Array<ReturnType<typeof postgresRegistryBackend>> = []
      await run(
        () => {
          const backend = postgresRegistryBackend()
          backends.push(backend)
          return backend.layer({ lifecycle: mlflowStages })
        },
        15,
        () => {
          for (const backend of backends.splice(0)) backend.remove()
        },
      )
    })
})
