/**
 * History that survives compaction and `asOf` reads (issue 14): what the registry answers about any past seq or
 * time, after any number of compactions and restarts, is what a plain reference model that kept a copy of its whole
 * state after every event says; and a version's or model's history lists exactly the committed events.
 */
import { describe, expect, it } from "@effect/vitest"
import { Exit, Option } from "effect"
import fc from "fast-check"
import type { RegistryEvent } from "../../src/domain/RegistryEvent.ts"
import { layerMemory, makeMemoryRegistryStore } from "../../src/effects/ModelRegistry.ts"
import { layerFile } from "../../src/node.ts"
import { failureTag } from "../../src/testing/exits.ts"
import { ReferenceModel, type RefMoment } from "../../src/testing/ReferenceModel.ts"
import { type Opened, open, tempDirectory } from "../support/harness.ts"

const names = ["alpha", "beta"] as const
/** In SemVer precedence order, the order listings come in. */
const versions = ["1.0.0", "1.2.0", "2.0.0-rc.1", "2.0.0"] as const
const aliases = ["champion", "canary"] as const

type AsOf = number | string

/** Every event a write reports, in commit order: the reference model is fed these, and only these. */
class Recorder {
  readonly events: Array<RegistryEvent> = []
  constructor(readonly model: ReferenceModel) {}

  async write(opened: Opened, effect: Parameters<Opened["exitOf"]>[0]): Promise<void> {
    const exit = await opened.exitOf(effect)
    if (Exit.isFailure(exit)) return
    const event = (exit.value as { readonly event: RegistryEvent | null }).event
    if (event === null) return
    this.events.push(event)
    expect(this.model.applyEvent(event)).toBeUndefined()
  }
}

/** Everything a reader of that moment sees, compared with the reference model's copy of it. */
const expectMoment = async (opened: Opened, moment: RefMoment | undefined, asOf: AsOf) => {
  const { registry, run, exitOf } = opened
  const options = { asOf }
  const searched = await run(registry.search({ limit: 1000, includeArchived: true }, options))
  const expectedSearch: Array<string> = []
  for (const name of names) {
    const existing = moment?.models.get(name)
    const listed = await exitOf(registry.listVersions(name, options))
    if (existing === undefined || existing.size === 0) {
      expect(failureTag(listed), `${name} at ${asOf}`).toBe("ModelNotFound")
      expect(failureTag(await exitOf(registry.get(name, "1.0.0", options)))).toBe("ModelNotFound")
      continue
    }
    const named = moment!.aliases.get(name) ?? new Map<string, string>()
    const aliasesOf = (version: string) =>
      [...named]
        .filter(([, v]) => v === version)
        .map(([alias]) => alias)
        .sort()
    const expected = versions
      .filter((v) => existing.has(v))
      .map((v) => {
        const ref = existing.get(v)!
        return [v, ref.state, ref.tags ?? {}, ref.description ?? null, aliasesOf(v)]
      })
    const shape = (record: {
      version: string
      state: string
      tags: object
      description?: string
      aliases: ReadonlyArray<string>
    }) => [record.version, record.state, record.tags, record.description ?? null, record.aliases]
    expect(Exit.isSuccess(listed) ? listed.value.map(shape) : failureTag(listed), `${name} at ${asOf}`).toEqual(
      expected,
    )
    for (const v of versions) {
      const got = await exitOf(registry.get(name, v, options))
      if (existing.has(v)) expect(Exit.isSuccess(got) && shape(got.value)).toEqual(expected.find(([e]) => e === v))
      else expect(failureTag(got)).toBe("VersionNotFound")
    }
    const production = [...existing].find(([, ref]) => ref.state === "production")?.[0]
    const held = await run(registry.production(name, options))
    expect(Option.getOrUndefined(held)?.version, `production of ${name} at ${asOf}`).toBe(production)
    for (const alias of aliases) {
      const resolved = await exitOf(registry.resolveAlias(name, alias, options))
      const target = named.get(alias)
      if (target === undefined) expect(failureTag(resolved)).toBe("AliasNotFound")
      else expect(Exit.isSuccess(resolved) && resolved.value.version).toBe(target)
    }
    const meta = moment!.meta.get(name)
    const summary = await run(registry.model(name, options))
    expect([summary.archived, summary.tags, summary.description ?? null]).toEqual([
      meta?.archived ?? false,
      meta?.tags ?? {},
      meta?.description ?? null,
    ])
    expect(summary.production).toBe(production ?? null)
    for (const [v] of expected) expectedSearch.push(`${name}@${v}`)
  }
  expect(searched.versions.map((r) => `${r.name}@${r.version}`)).toEqual(expectedSearch)
}

/** The events of a model and of one version, as `history` must list them. */
const expectHistory = async (opened: Opened, events: ReadonlyArray<RegistryEvent>) => {
  for (const name of names) {
    const own = events.filter(
      (e) => e._tag !== "LifecycleChanged" && (e._tag === "Registered" ? e.metadata.name : e.name) === name,
    )
    const exit = await opened.exitOf(opened.registry.history(name))
    if (own.length === 0) {
      expect(failureTag(exit)).toBe("ModelNotFound")
      continue
    }
    expect(Exit.isSuccess(exit) && exit.value.events).toEqual(own)
    // Its summary's last change is its newest event, now and at every seq it existed at.
    const stamp = (e: RegistryEvent | undefined) => (e === undefined ? null : { seq: e.seq, at: e.at, actor: e.actor })
    expect((await opened.run(opened.registry.model(name))).lastChange).toEqual(stamp(own.at(-1)))
    for (const event of events) {
      const summary = await opened.exitOf(opened.registry.model(name, { asOf: event.seq }))
      if (Exit.isSuccess(summary))
        expect(summary.value.lastChange, `${name} at ${event.seq}`).toEqual(
          stamp(own.filter((e) => e.seq <= event.seq).at(-1)),
        )
    }
    for (const version of versions) {
      const mentions = (e: RegistryEvent) =>
        e._tag === "Registered" ? e.metadata.version === version : JSON.stringify(e).includes(`"${version}"`)
      const history = await opened.exitOf(opened.registry.history(name, version))
      if (!own.some((e) => e._tag === "Registered" && e.metadata.version === version)) {
        expect(failureTag(history)).toBe("VersionNotFound")
        continue
      }
      expect(Exit.isSuccess(history) && history.value.events).toEqual(own.filter(mentions))
    }
  }
}

describe("history and asOf", () => {
  it("register, annotate, promote, compact three times, restart: history and five moments answer as the reference model", async () => {
    const directory = tempDirectory("history")
    const model = new ReferenceModel().keepingPast()
    const recorder = new Recorder(model)
    try {
      let opened = await open(layerFile({ directory: directory.path }))
      const { registry } = opened
      const moments: Array<number> = []
      await recorder.write(opened, registry.register({ name: "alpha", version: "1.0.0", tags: { team: "vision" } }))
      await recorder.write(opened, registry.register({ name: "alpha", version: "1.2.0" }))
      moments.push(recorder.events.length) // 1: two versions, nothing else
      await recorder.write(
        opened,
        registry.annotate("alpha", "1.0.0", { tags: { eval: "passed", team: null }, description: "baseline" }),
      )
      await opened.run(registry.compact)
      await recorder.write(opened, registry.promote("alpha", "1.0.0", { actor: "alice" }))
      await recorder.write(opened, registry.setAlias("alpha", "champion", "1.0.0"))
      moments.push(recorder.events.length) // 2: 1.0.0 annotated, in production, champion
      await opened.run(registry.compact)
      await recorder.write(
        opened,
        registry.annotateModel("alpha", { description: "the vision model", tags: { owner: "ml" } }),
      )
      await recorder.write(opened, registry.promote("alpha", "1.2.0"))
      await recorder.write(opened, registry.annotate("alpha", "1.0.0", { tags: { eval: "superseded" } }))
      moments.push(recorder.events.length) // 3: 1.2.0 in production, 1.0.0 back to registered
      await recorder.write(opened, registry.register({ name: "beta", version: "2.0.0" }))
      await recorder.write(opened, registry.archiveModel("beta"))
      await opened.run(registry.compact)
      moments.push(recorder.events.length) // 4: beta archived
      await recorder.write(opened, registry.restoreModel("beta"))
      await recorder.write(opened, registry.deprecate("alpha", "1.0.0"))
      moments.push(recorder.events.length) // 5: the present
      await opened.close()
      opened = await open(layerFile({ directory: directory.path }))
      // Compaction deleted the log's early records: only the kept history can answer.
      expect((await opened.run(opened.registry.stats)).firstSeq).toBeGreaterThan(1)
      expect(moments).toHaveLength(5)
      for (const seq of [0, ...moments]) {
        await expectMoment(opened, model.moment({ seq }), seq)
        await expectMoment(opened, model.moment({ seq }), `seq:${seq}`)
      }
      for (const event of recorder.events)
        await expectMoment(opened, model.moment({ ms: Date.parse(event.at) }), event.at)
      await expectHistory(opened, recorder.events)
      const changes = await opened.run(opened.registry.history("alpha", "1.0.0"))
      expect(changes.events.map((e) => [e._tag, e.actor])).toEqual([
        ["Registered", "(embedded)"],
        ["VersionAnnotated", "(embedded)"],
        ["Promoted", "alice"],
        ["AliasSet", "(embedded)"],
        ["Promoted", "(embedded)"],
        ["VersionAnnotated", "(embedded)"],
        ["Deprecated", "(embedded)"],
      ])
      // The registration is listed as it was: with the tags it was registered with, not today's.
      expect(changes.events[0]).toMatchObject({ metadata: { tags: { team: "vision" } } })
      await opened.close()
    } finally {
      directory.remove()
    }
  })

  const step = fc.oneof(
    fc.record({
      _tag: fc.constant("register" as const),
      name: fc.constantFrom(...names),
      version: fc.constantFrom(...versions),
    }),
    fc.record({
      _tag: fc.constant("annotate" as const),
      name: fc.constantFrom(...names),
      version: fc.constantFrom(...versions),
      tags: fc.dictionary(fc.constantFrom("a", "b", "c"), fc.option(fc.constantFrom("x", "y"))),
      description: fc.option(fc.constantFrom("first", "second"), { nil: undefined }),
    }),
    fc.record({
      _tag: fc.constantFrom("promote" as const, "deprecate" as const),
      name: fc.constantFrom(...names),
      version: fc.constantFrom(...versions),
    }),
    fc.record({
      _tag: fc.constant("alias" as const),
      name: fc.constantFrom(...names),
      alias: fc.constantFrom(...aliases),
      version: fc.option(fc.constantFrom(...versions)),
    }),
    fc.record({
      _tag: fc.constant("annotateModel" as const),
      name: fc.constantFrom(...names),
      tags: fc.dictionary(fc.constantFrom("owner", "area"), fc.option(fc.constantFrom("ml", "ops"))),
    }),
    fc.record({ _tag: fc.constantFrom("archive" as const, "restore" as const), name: fc.constantFrom(...names) }),
    fc.constant({ _tag: "compact" as const }),
    fc.constant({ _tag: "reopen" as const }),
  )

  it("after any commands, compactions and reopens, every seq and every commit time reads as the reference model's copy", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 30 }), async (steps) => {
        const store = makeMemoryRegistryStore()
        const model = new ReferenceModel().keepingPast()
        const recorder = new Recorder(model)
        let opened = await open(layerMemory({ store }))
        try {
          for (const s of steps) {
            const { registry } = opened
            switch (s._tag) {
              case "register":
                await recorder.write(opened, registry.register({ name: s.name, version: s.version, tags: { a: "x" } }))
                break
              case "annotate":
                await recorder.write(
                  opened,
                  registry.annotate(s.name, s.version, {
                    tags: s.tags,
                    ...(s.description === undefined ? {} : { description: s.description }),
                  }),
                )
                break
              case "promote":
              case "deprecate":
                await recorder.write(opened, registry[s._tag](s.name, s.version))
                break
              case "alias":
                await recorder.write(
                  opened,
                  s.version === null
                    ? registry.removeAlias(s.name, s.alias)
                    : registry.setAlias(s.name, s.alias, s.version),
                )
                break
              case "annotateModel":
                await recorder.write(opened, registry.annotateModel(s.name, { tags: s.tags }))
                break
              case "archive":
                await recorder.write(opened, registry.archiveModel(s.name))
                break
              case "restore":
                await recorder.write(opened, registry.restoreModel(s.name))
                break
              case "compact":
                await opened.run(registry.compact)
                break
              case "reopen":
                await opened.close()
                opened = await open(layerMemory({ store }))
            }
          }
          const lastSeq = (await opened.run(opened.registry.stats)).lastSeq
          expect(lastSeq).toBe(recorder.events.length)
          for (let seq = 0; seq <= lastSeq; seq++) await expectMoment(opened, model.moment({ seq }), seq)
          for (const event of recorder.events)
            await expectMoment(opened, model.moment({ ms: Date.parse(event.at) }), event.at)
          await expectHistory(opened, recorder.events)
          expect(failureTag(await opened.exitOf(opened.registry.get("alpha", "1.0.0", { asOf: lastSeq + 1 })))).toBe(
            "InvalidInput",
          )
        } finally {
          await opened.close()
        }
      }),
      { numRuns: 40 },
    )
  })
})
