/**
 * The snapshot codec: every index round-trips, at any line size; every damaged or inconsistent snapshot is
 * refused with a reason (never a throw, never a half-restored index).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import fc from "fast-check"
import { approval, compiledDefault } from "../../src/actors/builtinLifecycles.ts"
import { compileOrThrow } from "../../src/actors/lifecycleDefinition.ts"
import { RegistryIndex } from "../../src/actors/RegistryIndex.ts"
import {
  decodeIndexState,
  encodeIndexState,
  encodeIndexStateCooperatively,
  restoreIndex,
  versionsPerLine,
} from "../../src/actors/snapshotCodec.ts"
import { forbiddenKeys } from "../../src/domain/Json.ts"
import type { ModelVersion } from "../../src/domain/ModelVersion.ts"

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
      RegistryIndex.fromSnapshot({
        lastSeq: consistent.length,
        lifecycle: compiledDefault.binding,
        versions: consistent as Array<ModelVersion>,
      }),
      (reason) => new Error(reason),
    )
  })

const restore = (bytes: Uint8Array) => Either.getOrThrowWith(restoreIndex(bytes), (reason) => new Error(reason))

describe("snapshot codec", () => {
  it("any index round-trips, whatever the number of versions per line", () => {
    fc.assert(
      fc.property(indexArb, fc.integer({ min: 1, max: 7 }), (index, perLine) => {
        const snapshot = index.toSnapshot()
        const bytes = encodeIndexState(snapshot, perLine)
        const lines = new TextDecoder().decode(bytes).split("\n")
        expect(lines.at(-1)).toBe("") // every line ends with a newline
        expect(lines.length).toBe(2 + Math.ceil(snapshot.versions.length / perLine))
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
      RegistryIndex.fromSnapshot({ lastSeq: versions.length, lifecycle: compiledDefault.binding, versions }),
      (reason) => new Error(reason),
    )
    const bytes = encodeIndexState(index.toSnapshot())
    expect(new TextDecoder().decode(bytes).split("\n").length).toBe(2 + 3)
    expect(restore(bytes).toSnapshot()).toEqual(index.toSnapshot())
    // The background compaction's encoder yields between lines and writes the same bytes.
    expect(await Effect.runPromise(encodeIndexStateCooperatively(index.toSnapshot()))).toEqual(bytes)
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
        lastSeq: 9,
        versions: 1,
        lifecycle: approvalBinding,
      })
      expect(restore(encoded).toSnapshot()).toEqual(index.toSnapshot())
    })
  })
})
