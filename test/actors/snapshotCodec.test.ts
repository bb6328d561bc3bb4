/**
 * The snapshot codec: every index round-trips, at any block size; every damaged or inconsistent snapshot is
 * refused with a reason (never a throw, never a half-restored index), and a snapshot that restores makes a valid
 * record of every version when it is read. Snapshots written by earlier releases (JSON lines) still restore.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import fc from "fast-check"
import { approval, compiledDefault, mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import { compileOrThrow } from "../../src/actors/lifecycleDefinition.ts"
import { type IndexSnapshot, RegistryIndex } from "../../src/actors/RegistryIndex.ts"
import {
  columnarFormat,
  decodeIndexState,
  encodeIndexState,
  encodeIndexStateCooperatively,
  restoreIndex,
  StoredVersion,
  versionsPerLine,
} from "../../src/actors/snapshotCodec.ts"
import { decoder } from "../../src/domain/decode.ts"
import { forbiddenKeys } from "../../src/domain/Json.ts"
import type { ModelVersion } from "../../src/domain/ModelVersion.ts"
import { concatBytes } from "../../src/storage/ByteParts.ts"

const nameArb = fc.constantFrom("resnet", "bert", "m7", "a.b-c_d", "Z")
const versionArb = fc
  .tuple(
    fc.nat(30),
    fc.nat(30),
    fc.nat(1000),
    fc.option(fc.constantFrom("alpha", "rc.1", "beta.11", "0"), { nil: undefined }),
  )
  .map(([major, minor, patch, pre]) => `${major}.${minor}.${patch}${pre === undefined ? "" : `-${pre}`}`)
const jsonLeaf = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.boolean(),
  fc.constant(null),
)
// As the registry holds metrics: what JSON carries (a -0 is stored as 0; register normalizes it).
const metricsArb = fc
  .dictionary(
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 10 }).filter((k) => !forbiddenKeys.has(k)),
    fc.oneof(jsonLeaf, fc.array(jsonLeaf, { maxLength: 3 })),
    { maxKeys: 4 },
  )
  .map((metrics) => JSON.parse(JSON.stringify(metrics)) as Record<string, unknown>)
const tagsArb = fc.dictionary(
  fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 12 }).filter((k) => !forbiddenKeys.has(k)),
  fc.string({ unit: "grapheme", maxLength: 30 }),
  { maxKeys: 3 },
)

/** A consistent index: unique versions per model, at most one production version each. */
const indexArb = fc
  .uniqueArray(
    fc.record({
      name: nameArb,
      version: versionArb,
      metrics: metricsArb,
      tags: tagsArb,
      id: fc.uuid(),
      createdAt: fc
        .date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true })
        .map((d) => d.toISOString()),
      state: fc.constantFrom("registered", "deprecated", "production"),
      aliases: fc.constant([] as ReadonlyArray<string>),
    }),
    { selector: (v) => `${v.name}@${v.version}`, maxLength: 40 },
  )
  .map((versions) => {
    const producing = new Set<string>()
    const consistent = versions.map((v) => {
      if (v.state !== "production" || !producing.has(v.name)) {
        if (v.state === "production") producing.add(v.name)
        return v
      }
      return { ...v, state: "registered" as const }
    })
    return Either.getOrThrowWith(
      RegistryIndex.fromState({
        lastSeq: consistent.length,
        lifecycle: compiledDefault.binding,
        versions: consistent as Array<ModelVersion>,
      }),
      (reason) => new Error(reason),
    )
  })

const lifecycles = [compiledDefault, compileOrThrow(approval), compileOrThrow(mlflowStages)]

/**
 * An index under any built-in lifecycle, in any of its states, with aliases (each naming one version of its model),
 * metrics and tags beyond what the body check accepts (nested, escaped, long), and non-ASCII text.
 */
const richIndexArb = fc
  .record({
    lifecycle: fc.constantFrom(...lifecycles),
    versions: fc.uniqueArray(
      fc.record({
        name: nameArb,
        version: versionArb,
        metrics: fc.oneof(
          metricsArb,
          fc.constant({ nested: { deep: [1, { x: "é\n\u0000" }] } }),
          fc.constant({ big: 1e300, small: -1.5e-300, text: "😀".repeat(1300) }),
        ),
        tags: tagsArb,
        id: fc.uuid(),
        createdAt: fc
          .date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true })
          .map((d) => d.toISOString()),
        state: fc.nat(10),
        aliases: fc.uniqueArray(fc.constantFrom("live", "champion", "a_b-c", "x9"), { maxLength: 2 }),
      }),
      { selector: (v) => `${v.name}@${v.version}`, maxLength: 30 },
    ),
  })
  .map(({ lifecycle, versions }) => {
    const holders = new Set<string>()
    const named = new Set<string>()
    const consistent = versions.map((v) => {
      let state = lifecycle.states[v.state % lifecycle.states.length]!
      if (lifecycle.binding.exclusive.includes(state)) {
        if (holders.has(`${v.name}/${state}`))
          state = lifecycle.states.find((s) => !lifecycle.binding.exclusive.includes(s))!
        else holders.add(`${v.name}/${state}`)
      }
      const aliases = v.aliases.filter((alias) => !named.has(`${v.name}/${alias}`)).sort()
      for (const alias of aliases) named.add(`${v.name}/${alias}`)
      return { ...v, state, aliases }
    })
    return Either.getOrThrowWith(
      RegistryIndex.fromState({
        lastSeq: consistent.length + 3,
        lifecycle: lifecycle.binding,
        versions: consistent as unknown as Array<ModelVersion>,
      }),
      (reason) => new Error(reason),
    )
  })

/** The JSON-lines state every release before the columnar format wrote (its encoder, kept here as the reference). */
const jsonLinesState = (index: RegistryIndex, perLine: number): Uint8Array => {
  const { lastSeq, lifecycle, versions } = index.toSnapshot()
  let text = `${JSON.stringify({ lastSeq, versions: versions.length, lifecycle })}\n`
  for (let start = 0; start < versions.length; start += perLine)
    text += `${JSON.stringify(versions.slice(start, start + perLine))}\n`
  return new TextEncoder().encode(text)
}

const decodeStored = decoder(StoredVersion)

const restore = (bytes: Uint8Array) => Either.getOrThrowWith(restoreIndex(bytes), (reason) => new Error(reason))

/** The versions part of a snapshot, as the earlier formats' fixtures describe it. */
const stateOf = (index: RegistryIndex) => {
  const { lastSeq, lifecycle, versions } = index.toSnapshot()
  return { lastSeq, lifecycle, versions }
}

/**
 * A state of an earlier format opens with its history starting at its seq, every version and alias a baseline fact
 * there; written again (format 3) it reopens to the same state and the same history.
 */
const expectBaselineRoundTrip = (index: RegistryIndex) => {
  const snapshot = index.toSnapshot()
  expect(snapshot.history.since).toBe(snapshot.lastSeq)
  expect(snapshot.registrations.every((r) => r.seq === snapshot.lastSeq && r.actor === "(unknown)")).toBe(true)
  expect(restore(encodeIndexState(snapshot, 2)).toSnapshot()).toEqual(snapshot)
}

describe("snapshot codec", () => {
  it("any index round-trips, whatever the number of versions per line", () => {
    fc.assert(
      fc.property(indexArb, fc.integer({ min: 1, max: 7 }), (index, perLine) => {
        const snapshot = index.toSnapshot()
        const bytes = encodeIndexState(snapshot, perLine)
        const lines = new TextDecoder().decode(bytes).split("\n")
        expect(lines.at(-1)).toBe("") // every line ends with a newline
        expect(lines.length).toBe(2 + 2 * Math.ceil(snapshot.versions.length / perLine))
        const back = restore(bytes)
        expect(back.toSnapshot()).toEqual(snapshot)
        expect(back.versionCount).toBe(index.versionCount)
        expect(back.listModels()).toEqual(index.listModels())
        for (const v of snapshot.versions) {
          const record = back.get(v.name, v.version)!
          for (const part of [record, record.metrics, record.tags]) expect(Object.isFrozen(part)).toBe(true)
        }
      }),
      { numRuns: 300 },
    )
  })

  it("the default line size splits a large index into lines of versionsPerLine", async () => {
    const versions = Array.from(
      { length: versionsPerLine * 2 + 5 },
      (_, i): ModelVersion =>
        ({
          id: "6f1c2a9e-0000-4000-8000-000000000000",
          name: `m${i % 3}`,
          version: `1.0.${i}`,
          createdAt: "2026-11-27T00:00:00.000Z",
          metrics: { accuracy: i / 10_000, note: "é€😀" },
          tags: { team: "vision" },
          state: "registered",
          aliases: [],
        }) as unknown as ModelVersion,
    )
    const index = Either.getOrThrowWith(
      RegistryIndex.fromState({ lastSeq: versions.length, lifecycle: compiledDefault.binding, versions }),
      (reason) => new Error(reason),
    )
    const bytes = encodeIndexState(index.toSnapshot())
    expect(new TextDecoder().decode(bytes).split("\n").length).toBe(2 + 2 * 3)
    expect(restore(bytes).toSnapshot()).toEqual(index.toSnapshot())
    // The background compaction's encoder yields between lines and writes the same bytes, a line per part.
    const parts = await Effect.runPromise(encodeIndexStateCooperatively(index.toSnapshot()))
    expect(parts.length).toBe(1 + 2 * 3)
    expect(concatBytes(parts)).toEqual(bytes)
  })

  it("any index with aliases, any lifecycle's states and non-ASCII text round-trips, read lazily or all at once", () => {
    fc.assert(
      fc.property(richIndexArb, fc.integer({ min: 1, max: 7 }), (index, perLine) => {
        const snapshot = index.toSnapshot()
        const bytes = encodeIndexState(snapshot, perLine)
        // Read one version first, the rest later: a record parsed on its first read equals the one written.
        const back = restore(bytes)
        const first = snapshot.versions[0]
        if (first !== undefined) expect(back.get(first.name, first.version)).toEqual(first)
        expect(back.listModels()).toEqual(index.listModels())
        expect(back.toSnapshot()).toEqual(snapshot)
        expect(back.binding).toEqual(index.binding)
        for (const v of snapshot.versions) {
          const record = back.get(v.name, v.version)!
          for (const part of [record, record.metrics, record.tags, record.aliases])
            expect(Object.isFrozen(part)).toBe(true)
          expect(back.listVersions(v.name)).toContain(record)
        }
        expect(Either.getOrThrow(decodeIndexState(bytes))).toEqual(snapshot)
      }),
      { numRuns: 200 },
    )
  })

  it("the committed columnar fixture restores to the state it was written from, and encodes to the same bytes", () => {
    const fixture = join(import.meta.dirname, "..", "fixtures", "snapshot-state-columnar")
    const bytes = new Uint8Array(readFileSync(join(fixture, "state")))
    const expected = JSON.parse(readFileSync(join(fixture, "expected.json"), "utf8")) as IndexSnapshot
    const index = restore(bytes)
    expect(index.get("nlp", "0.1.0")?.metrics).toEqual({ note: "日本語 😀", loss: 1e-7 })
    expect(stateOf(index)).toEqual(expected)
    expect(index.listModels().map((m) => [m.name, m.holders, m.aliases])).toEqual([
      ["nlp", {}, {}],
      ["vision", { deployed: "1.1.0" }, { candidate: "2.0.0-beta.1+exp.3", live: "1.1.0" }],
    ])
    expectBaselineRoundTrip(index)
  })

  it("the committed fixture with artifact locations and runs restores as written, and encodes to the same bytes", () => {
    const fixture = join(import.meta.dirname, "..", "fixtures", "snapshot-state-provenance")
    const bytes = new Uint8Array(readFileSync(join(fixture, "state")))
    const expected = JSON.parse(readFileSync(join(fixture, "expected.json"), "utf8")) as IndexSnapshot
    const index = restore(bytes)
    expect(index.get("vision", "1.0.0")).toMatchObject({ source: "s3://models/vision/1.0.0", runId: "run-0001" })
    expect(index.get("vision", "1.2.0")?.runId).toBe('mlflow:run/ab12cd34 "quoted"')
    expect(Object.hasOwn(index.get("nlp", "0.1.0")!, "source")).toBe(false)
    expect(stateOf(index)).toEqual(expected)
    expectBaselineRoundTrip(index)
  })

  it("the JSON-lines state of earlier releases restores to the same index as the columnar one", () => {
    fc.assert(
      fc.property(richIndexArb, fc.integer({ min: 1, max: 5 }), (index, perLine) => {
        const fromLines = restore(jsonLinesState(index, perLine))
        expect(fromLines.toSnapshot()).toEqual(index.toSnapshot())
        expect(restore(encodeIndexState(index.toSnapshot(), perLine)).toSnapshot()).toEqual(fromLines.toSnapshot())
      }),
      { numRuns: 100 },
    )
  })

  it("a snapshot with any byte changed is refused at restore, or every version it holds reads as a valid record", () => {
    fc.assert(
      fc.property(richIndexArb, fc.integer({ min: 1, max: 3 }), fc.nat(), fc.nat(255), (index, perLine, at, value) => {
        const bytes = encodeIndexState(index.toSnapshot(), perLine)
        const changed = bytes.slice()
        changed[at % bytes.length] = value
        const restored = restoreIndex(changed)
        if (Either.isLeft(restored)) return
        // Restored: reading must never fail, and each record is one the Schema accepts.
        for (const record of restored.right.allVersions()) expect(Either.isRight(decodeStored(record))).toBe(true)
      }),
      { numRuns: 1000 },
    )
  })

  it("a body a wrong writer garbled is refused at restore, not at a read", () => {
    const index = Either.getOrThrow(
      RegistryIndex.fromState({
        lastSeq: 1,
        lifecycle: compiledDefault.binding,
        versions: [
          {
            id: "6f1c2a9e-0000-4000-8000-000000000000",
            name: "m",
            version: "1.0.0",
            createdAt: "2026-11-27T00:00:00.000Z",
            metrics: { accuracy: 0.5 },
            tags: { team: "vision" },
            state: "registered",
            aliases: [],
          } as unknown as ModelVersion,
        ],
      }),
    )
    const text = new TextDecoder().decode(encodeIndexState(index.toSnapshot()))
    const garbled = (from: string, to: string) => {
      const changed = text.replace(from, to)
      const [header, columns, bodies] = changed.split("\n")
      const fixed = columns!.replace(/"lengths":\[\d+\]/, `"lengths":[${bodies!.length}]`)
      return restoreIndex(new TextEncoder().encode(`${header}\n${fixed}\n${bodies}\n`))
    }
    expect(Either.isRight(garbled("0.5", "0.25"))).toBe(true)
    for (const [from, to, reason] of [
      ['"accuracy":0.5', '"accuracy":', "is not JSON"],
      ['"team":"vision"', '"team":7', "tags"],
      ["2026-11-27", "2026-02-30", "createdAt"],
      ['"accuracy"', '"__proto__"', "metrics"],
      [',"tags":{"team":"vision"}', "", "keys are not"],
      ["6f1c2a9e", "zzzzzzzz", "id"],
      ["0.5", "1e999", "metrics"],
    ] as const) {
      const refused = garbled(from, to)
      expect(Either.isLeft(refused) && refused.left).toContain("block 1: version 1 (m 1.0.0): ")
      expect(Either.isLeft(refused) && refused.left).toContain(reason)
    }
  })

  it.each([
    [
      "a format not known",
      `{"format":4,"lastSeq":0,"versions":0,"lifecycle":${JSON.stringify(compiledDefault.binding)}}\n`,
      "unsupported snapshot state format 4",
    ],
    [
      "a block without its bodies",
      `{"format":2,"lastSeq":0,"versions":1,"lifecycle":${JSON.stringify(compiledDefault.binding)}}\n{}\n`,
      "block 1 has no end",
    ],
    [
      "columns that are not",
      `{"format":2,"lastSeq":0,"versions":1,"lifecycle":${JSON.stringify(compiledDefault.binding)}}\n{}\n\n`,
      "its columns are not",
    ],
  ])("%s is refused", (_, text, reason) => {
    const decoded = restoreIndex(new TextEncoder().encode(text))
    expect(Either.isLeft(decoded) && decoded.left).toContain(reason)
  })

  it("a snapshot cut at any byte, or with any byte changed, is refused with a reason or still valid; never a throw", () => {
    fc.assert(
      fc.property(indexArb, fc.integer({ min: 1, max: 3 }), fc.nat(), fc.nat(255), (index, perLine, at, value) => {
        const bytes = encodeIndexState(index.toSnapshot(), perLine)
        const cut = bytes.subarray(0, at % bytes.length)
        const cutResult = restoreIndex(cut)
        expect(Either.isLeft(cutResult)).toBe(true)
        const changed = bytes.slice()
        changed[at % bytes.length] = value
        const changedResult = restoreIndex(changed)
        if (Either.isLeft(changedResult)) expect(changedResult.left.length).toBeGreaterThan(0)
      }),
      { numRuns: 500 },
    )
  })

  it.each([
    ["an empty file", "", "the first line is not"],
    ["a header only, announcing versions", '{"lastSeq":3,"versions":1}\n', "announces 1 versions, the lines hold 0"],
    ["the old single-document format", '{"lastSeq":0,"versions":[]}\n', "the first line is not"],
    ["a header with an extra key", '{"lastSeq":0,"versions":0,"x":1}\n', "the first line is not"],
    ["a negative seq", '{"lastSeq":-1,"versions":0}\n', "the first line is not"],
    ["more versions than announced", '{"lastSeq":1,"versions":0}\n[{}]\n', "line 2 is not an array of at most the 0"],
    ["an empty line of versions", '{"lastSeq":1,"versions":1}\n[]\n', "line 2 is not an array"],
    ["an invalid version", '{"lastSeq":1,"versions":1}\n[{"name":"m"}]\n', "version 1: "],
    ["no final newline", '{"lastSeq":0,"versions":0}', "line 1 has no end"],
    ["invalid UTF-8", '{"lastSeq":0,"versions":0}\n\xff\n', "line 2 is not UTF-8 JSON"],
  ])("%s is refused", (_, text, reason) => {
    const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0))
    const decoded = decodeIndexState(bytes)
    expect(Either.isLeft(decoded) && decoded.left).toContain(reason)
  })

  it("a snapshot that breaks an invariant does not restore: a version twice, two production versions", () => {
    const version = (v: string, state: string) => ({
      id: "6f1c2a9e-0000-4000-8000-000000000000",
      name: "m",
      version: v,
      createdAt: "2026-11-27T00:00:00.000Z",
      metrics: {},
      tags: {},
      state,
    })
    const bytes = (versions: ReadonlyArray<object>) =>
      new TextEncoder().encode(
        `${JSON.stringify({ lastSeq: 9, versions: versions.length })}\n${JSON.stringify(versions)}\n`,
      )
    expect(restoreIndex(bytes([version("1.0.0", "registered"), version("1.0.0", "deprecated")]))).toEqual(
      Either.left("version 1.0.0 of m appears twice"),
    )
    expect(restoreIndex(bytes([version("1.0.0", "production"), version("2.0.0", "production")]))).toEqual(
      Either.left("m has two versions in exclusive state production, 1.0.0 and 2.0.0"),
    )
    expect(Either.isRight(restoreIndex(bytes([version("1.0.0", "production"), version("2.0.0", "deprecated")])))).toBe(
      true,
    )
  })

  describe("the lifecycle in the header", () => {
    const record = (version: string, state: string, aliases?: ReadonlyArray<string>) => ({
      id: "6f1c2a9e-0000-4000-8000-000000000000",
      name: "m",
      version,
      createdAt: "2026-11-27T00:00:00.000Z",
      metrics: {},
      tags: {},
      state,
      ...(aliases === undefined ? {} : { aliases }),
    })
    const approvalBinding = compileOrThrow(approval).binding
    const bytes = (header: object, versions: ReadonlyArray<object>) =>
      new TextEncoder().encode(
        `${JSON.stringify({ lastSeq: 9, versions: versions.length, ...header })}\n${JSON.stringify(versions)}\n`,
      )

    it("is the default lifecycle when absent, as snapshots written before lifecycles could be chosen", () => {
      const index = Either.getOrThrow(restoreIndex(bytes({}, [record("1.0.0", "production")])))
      expect(index.binding).toEqual(compiledDefault.binding)
      expect(index.listModels()[0]?.holders).toEqual({ production: "1.0.0" })
      expect(index.get("m", "1.0.0")?.aliases).toEqual([])
    })

    it("names the exclusive states whose holders the restore finds and checks", () => {
      const versions = [record("1.0.0", "deployed", ["live"]), record("2.0.0", "retired", ["old", "gone"])]
      const index = Either.getOrThrow(restoreIndex(bytes({ lifecycle: approvalBinding }, versions)))
      expect(index.binding).toEqual(approvalBinding)
      expect(index.listModels()[0]).toMatchObject({
        holders: { deployed: "1.0.0" },
        aliases: { gone: "2.0.0", live: "1.0.0", old: "2.0.0" },
        production: null,
      })
      expect(restoreIndex(bytes({ lifecycle: approvalBinding }, [...versions, record("3.0.0", "deployed")]))).toEqual(
        Either.left("m has two versions in exclusive state deployed, 1.0.0 and 3.0.0"),
      )
      // Without the binding, `deployed` is no exclusive state: two versions may be in it.
      expect(Either.isRight(restoreIndex(bytes({}, [...versions, record("3.0.0", "deployed")])))).toBe(true)
    })

    it("refuses one alias on two versions, and a binding that is not one", () => {
      expect(
        restoreIndex(
          bytes({ lifecycle: approvalBinding }, [
            record("1.0.0", "approved", ["live"]),
            record("2.0.0", "approved", ["live"]),
          ]),
        ),
      ).toEqual(Either.left("alias live of m names both 1.0.0 and 2.0.0"))
      const refused = restoreIndex(bytes({ lifecycle: { name: "1bad", fingerprint: "x", exclusive: [] } }, []))
      expect(Either.isLeft(refused) && refused.left).toMatch(/^the header's lifecycle: /)
      const extra = restoreIndex(bytes({ lifecycle: approvalBinding, extra: 1 }, []))
      expect(Either.isLeft(extra) && extra.left).toMatch(/the first line is not/)
    })

    it("round-trips the binding through encode and decode", () => {
      const index = Either.getOrThrow(
        restoreIndex(bytes({ lifecycle: approvalBinding }, [record("1.0.0", "deployed", ["live"])])),
      )
      const encoded = encodeIndexState(index.toSnapshot())
      expect(JSON.parse(new TextDecoder().decode(encoded).split("\n")[0]!)).toEqual({
        format: columnarFormat,
        lastSeq: 9,
        versions: 1,
        lifecycle: approvalBinding,
        history: { since: 9, lastAt: "", firstAtAfterSince: null, changes: 1 },
      })
      expect(restore(encoded).toSnapshot()).toEqual(index.toSnapshot())
    })
  })
})
