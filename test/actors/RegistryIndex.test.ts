/**
 * The index orders versions by SemVer precedence with a numeric fast path for plain releases (`1.2.3`) and
 * `semver` for everything else; whatever the mix and the arrival order, listing must equal a stable sort by
 * `compareSemVer`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import { approval, defaultLifecycle, mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import { Registration } from "../../src/actors/History.ts"
import { lifecycleChange } from "../../src/actors/lifecycleBinding.ts"
import { type CompiledLifecycle, compileOrThrow } from "../../src/actors/lifecycleDefinition.ts"
import { type Command, makeLifecycle } from "../../src/actors/lifecycleRules.ts"
import { BatchOverlay, RegistryIndex } from "../../src/actors/RegistryIndex.ts"
import { encodeIndexState, restoreIndex } from "../../src/actors/snapshotCodec.ts"
import type { AliasName, ModelMetadata, ModelName, RegistryEvent, SemVer } from "../../src/domain/index.ts"
import { compareSemVer } from "../../src/domain/SemVer.ts"

const name = "resnet" as ModelName
const metadata = (version: string, i: number): ModelMetadata => ({
  id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
  name,
  version: version as SemVer,
  createdAt: "2026-11-27T00:00:00.000Z",
  metrics: {},
  tags: {},
})

const part = fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constantFrom(99, 100, 123456789012345, 999999999999999))
const identifier = fc.oneof(fc.constantFrom("alpha", "beta", "rc", "x-1"), fc.integer({ min: 0, max: 20 }).map(String))
const version = fc
  .tuple(
    part,
    part,
    part,
    fc.option(fc.array(identifier, { minLength: 1, maxLength: 3 }), { nil: undefined }),
    fc.option(fc.constantFrom("build.1", "sha.abc", "007"), { nil: undefined }),
    fc.option(fc.constantFrom("1234567890123456", "9007199254740991"), { nil: undefined }),
  )
  .map(([major, minor, patch, pre, build, longMajor]) => {
    let text = `${longMajor ?? major}.${minor}.${patch}`
    if (pre) text += `-${pre.join(".")}`
    if (build) text += `+${build}`
    return text
  })

describe("RegistryIndex ordering", () => {
  it("lists versions in SemVer precedence order, ties in arrival order, for any mix and arrival order", () => {
    fc.assert(
      fc.property(fc.uniqueArray(version, { minLength: 1, maxLength: 60 }), (versions) => {
        const index = new RegistryIndex()
        versions.forEach((v, i) => {
          index.apply(i + 1, { _tag: "Registered", metadata: metadata(v, i) })
        })
        const expected = versions
          .map((v, i) => ({ v, i }))
          .sort((a, b) => compareSemVer(a.v as SemVer, b.v as SemVer) || a.i - b.i)
          .map(({ v }) => v)
        expect(index.listVersions(name)!.map((r) => r.version)).toEqual(expected)
      }),
      { numRuns: 300 },
    )
  })

  it("appends increasing plain releases and still places an older one in order", () => {
    const index = new RegistryIndex()
    const versions = ["1.0.0", "1.0.1", "1.2.0", "2.0.0", "1.1.0", "2.0.0-rc.1", "10.0.0", "9.9.9"]
    versions.forEach((v, i) => {
      index.apply(i + 1, { _tag: "Registered", metadata: metadata(v, i) })
    })
    expect(index.listVersions(name)!.map((r) => r.version)).toEqual([
      "1.0.0",
      "1.0.1",
      "1.1.0",
      "1.2.0",
      "2.0.0-rc.1",
      "2.0.0",
      "9.9.9",
      "10.0.0",
    ])
  })
})

describe("RegistryIndex state changes", () => {
  // Versions equal in precedence (build metadata only) sit together in the sorted list; a promotion or
  // deprecation must find the exact one among them.
  const twins = fc.uniqueArray(
    fc.tuple(fc.constantFrom("1.0.0", "1.0.1", "2.0.0-rc.1", "0.9.0"), fc.constantFrom("", "+a", "+b", "+c")),
    { minLength: 1, maxLength: 12, selector: ([core, build]) => core + build },
  )

  it("changes exactly the version named, and every read agrees with a plain model of the states", () => {
    fc.assert(
      fc.property(
        twins.chain((pairs) =>
          fc.tuple(
            fc.shuffledSubarray(pairs.map(([core, build]) => core + build)),
            fc.array(fc.tuple(fc.boolean(), fc.nat({ max: pairs.length - 1 })), { maxLength: 20 }),
          ),
        ),
        ([versions, changes]) => {
          fc.pre(versions.length > 0)
          const index = new RegistryIndex()
          const states = new Map<string, string>()
          let seq = 0
          versions.forEach((v, i) => {
            index.apply(++seq, { _tag: "Registered", metadata: metadata(v, i) })
            states.set(v, "registered")
          })
          for (const [promote, pick] of changes) {
            const v = versions[pick % versions.length]! as SemVer
            if (states.get(v) === "deprecated") continue
            if (promote) {
              const current = [...states].find(([, state]) => state === "production")?.[0] ?? null
              if (current === v) continue
              index.apply(++seq, { _tag: "Promoted", name, version: v, supersedes: current as SemVer | null })
              if (current !== null) states.set(current, "registered")
              states.set(v, "production")
            } else {
              index.apply(++seq, { _tag: "Deprecated", name, version: v })
              states.set(v, "deprecated")
            }
          }
          for (const [v, state] of states) expect(index.get(name, v)?.state).toBe(state)
          const listed = new Map(index.listVersions(name)!.map((r) => [r.version as string, r.state as string]))
          expect(listed).toEqual(states)
          const snapshot = new Map(index.toSnapshot().versions.map((r) => [r.version as string, r.state as string]))
          expect(snapshot).toEqual(states)
          const production = [...states].find(([, state]) => state === "production")?.[0]
          expect(index.production(name)?.version).toBe(production)
        },
      ),
      { numRuns: 500 },
    )
  })
})

describe("RegistryIndex under a custom lifecycle", () => {
  const models = ["alpha", "beta"] as const
  const versions: ReadonlyArray<string> = ["1.0.0", "1.1.0", "2.0.0", "1.0.0+b"]
  const at = "2026-11-28T00:00:00.000Z"
  const commandOf = (lifecycle: CompiledLifecycle): fc.Arbitrary<Command> => {
    const model = fc.constantFrom(...models).map((m) => m as ModelName)
    const version = fc.constantFrom(...versions).map((v) => v as SemVer)
    const alias = fc.constantFrom(...lifecycle.aliases.keys(), "other").map((a) => a as AliasName)
    const registers = fc.record({ name: model, version }).map(
      ({ name, version }): Command => ({
        _tag: "Register",
        metadata: { ...metadata(version, versions.indexOf(version)), name },
        compareId: true,
      }),
    )
    const transitions = fc
      .record({ name: model, version, event: fc.constantFrom(...lifecycle.events, "unknown") })
      .map((c): Command => ({ _tag: "Transition", ...c }))
    const aliasCommands = fc.oneof(
      fc.record({ name: model, version, alias }).map((c): Command => ({ _tag: "SetAlias", ...c })),
      fc.record({ name: model, alias }).map((c): Command => ({ _tag: "RemoveAlias", ...c })),
    )
    // Transitions weigh most: displacements and cleared aliases need several in a row on one model.
    return fc.oneof(
      { arbitrary: registers, weight: 1 },
      { arbitrary: transitions, weight: 4 },
      { arbitrary: aliasCommands, weight: 2 },
    )
  }
  /** Everything a reader can see of an index. */
  const observed = (index: RegistryIndex) => ({
    lastSeq: index.lastSeq,
    versionCount: index.versionCount,
    binding: index.binding,
    models: index.listModels(),
    versions: models.map((name) => index.listVersions(name) ?? []),
    production: models.map((name) => index.production(name)?.version),
  })
  /** A fresh index bound to `lifecycle`, as a registry opening an empty directory writes it. */
  const boundTo = (lifecycle: CompiledLifecycle) => {
    const index = new RegistryIndex()
    const change = Either.getOrThrow(lifecycleChange(index, lifecycle, undefined))
    if (change !== undefined) index.apply(1, change)
    return index
  }

  it.each([mlflowStages, approval, defaultLifecycle])(
    "applying events one by one, through batch overlays, and through a snapshot gives the same state (%s)",
    (definition) => {
      const compiled = compileOrThrow(definition)
      const rules = makeLifecycle(compiled)
      fc.assert(
        fc.property(
          fc.array(fc.tuple(commandOf(compiled), fc.boolean()), { minLength: 20, maxLength: 80 }),
          (steps) => {
            const direct = boundTo(compiled)
            const batched = boundTo(compiled)
            const overlay = new BatchOverlay(batched)
            const nameOf = (command: Command) => (command._tag === "Register" ? command.metadata.name : command.name)
            const registrations = models.flatMap((name) =>
              versions.map((version, i): [Command, boolean] => [
                { _tag: "Register", metadata: { ...metadata(version, i), name: name as ModelName }, compareId: true },
                false,
              ]),
            )
            let batch: Array<RegistryEvent> = []
            for (const [command, endsBatch] of [...registrations, ...steps]) {
              const decision = rules.decide(direct.model(nameOf(command)), command, at)
              expect(rules.decide(overlay.view(nameOf(command)), command, at)).toEqual(decision)
              if (decision._tag === "Accept") {
                const event = { ...decision.event, seq: direct.lastSeq + 1, at, actor: "test" } as RegistryEvent
                direct.apply(event.seq, event)
                overlay.apply(decision.event)
                batch.push(event)
              }
              if (endsBatch) {
                batched.commit(overlay, batch)
                batch = []
                overlay.clear()
              }
            }
            batched.commit(overlay, batch)
            const restored = Either.getOrThrowWith(
              restoreIndex(encodeIndexState(direct.toSnapshot())),
              (reason) => new Error(reason),
            )
            expect(observed(batched)).toEqual(observed(direct))
            expect(observed(restored)).toEqual(observed(direct))
            // Holders and aliases agree with the records they summarize.
            for (const summary of direct.listModels()) {
              const records = direct.listVersions(summary.name)!
              for (const state of compiled.exclusive.keys())
                expect(summary.holders[state]).toBe(records.find((r) => r.state === state)?.version)
              for (const record of records)
                expect(record.aliases).toEqual(
                  Object.entries(summary.aliases)
                    .filter(([, version]) => version === record.version)
                    .map(([alias]) => alias)
                    .sort(),
                )
            }
            // Restored from a snapshot, records unread until a command touches them, it goes on as the original.
            const lazy = Either.getOrThrowWith(
              restoreIndex(encodeIndexState(direct.toSnapshot())),
              (reason) => new Error(reason),
            )
            for (const [command] of steps) {
              const decision = rules.decide(direct.model(nameOf(command)), command, at)
              expect(rules.decide(lazy.model(nameOf(command)), command, at)).toEqual(decision)
              if (decision._tag === "Accept") {
                direct.apply(direct.lastSeq + 1, decision.event)
                lazy.apply(lazy.lastSeq + 1, decision.event)
              }
            }
            expect(observed(lazy)).toEqual(observed(direct))
          },
        ),
        { numRuns: 200 },
      )
    },
  )
})

describe("RegistryIndex restored from a columnar snapshot", () => {
  const stored = (v: string, i: number) => ({
    ...metadata(v, i),
    state: "registered" as const,
    aliases: [] as ReadonlyArray<AliasName>,
  })
  const snapshotOf = (versions: ReadonlyArray<string>) =>
    encodeIndexState({
      lastSeq: versions.length,
      lifecycle: new RegistryIndex().binding,
      versions: versions.map((v, i) => stored(v, i)),
      registrations: versions.map(
        (v, i) => new Registration(i + 1, metadata(v, i).createdAt, "test", v as SemVer, "registered"),
      ),
      history: { since: 0, lastAt: "", firstAtAfterSince: undefined, changes: [] },
    } as Parameters<typeof encodeIndexState>[0])

  it("refuses a version listed twice, wherever and in whatever order the versions come", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(version, { minLength: 1, maxLength: 40 }),
        fc.nat(),
        fc.nat(),
        fc.boolean(),
        (versions, from, to, sorted) => {
          const listed = sorted ? [...versions].sort((a, b) => compareSemVer(a as SemVer, b as SemVer)) : versions
          const twice = [...listed]
          twice.splice(to % (twice.length + 1), 0, listed[from % listed.length]!)
          const restored = restoreIndex(snapshotOf(twice))
          expect(Either.isLeft(restored) && restored.left).toMatch(
            new RegExp(
              `^block 1: version \\d+ \\(resnet ${listed[from % listed.length]!.replace(/[.+]/g, "\\$&")}\\): version .* appears twice$`,
            ),
          )
          expect(Either.isRight(restoreIndex(snapshotOf(listed)))).toBe(true)
        },
      ),
      { numRuns: 300 },
    )
  })

  it("answers every lookup as the index it was written from, before and after building its map, between registers", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(version, { minLength: 1, maxLength: 60 }),
        fc.array(fc.tuple(version, fc.boolean()), { minLength: 1, maxLength: 150 }),
        (versions, steps) => {
          const live = new RegistryIndex()
          versions.forEach((v, i) => {
            live.apply(i + 1, { _tag: "Registered", metadata: metadata(v, i) })
          })
          const restored = Either.getOrThrow(restoreIndex(encodeIndexState(live.toSnapshot())))
          let seq = versions.length
          for (const [v, register] of steps) {
            if (register && live.get(name, v) === undefined) {
              seq++
              for (const index of [live, restored]) index.apply(seq, { _tag: "Registered", metadata: metadata(v, seq) })
            }
            expect(restored.get(name, v)).toEqual(live.get(name, v))
            expect(restored.model(name)!.records.has(v)).toBe(live.model(name)!.records.has(v))
          }
          expect(restored.listVersions(name)).toEqual(live.listVersions(name))
          expect(restored.model(name)!.records.size).toBe(live.model(name)!.records.size)
        },
      ),
      { numRuns: 300 },
    )
  })
})
