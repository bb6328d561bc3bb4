/**
 * Annotations and archiving through the Effect API: bad input is a typed error that writes nothing, an annotation
 * that changes nothing is a no-op, the tag limit holds for what an annotation leaves, and an archived model is hidden
 * and read-only until restored.
 */
import { describe, expect, it } from "@effect/vitest"
import { Exit } from "effect"
import fc from "fast-check"
import { descriptionLengthMax } from "../../src/domain/Annotation.ts"
import { tagsCountMax } from "../../src/domain/ModelMetadata.ts"
import { layerMemory } from "../../src/effects/ModelRegistry.ts"
import { failureOf, failureTag } from "../../src/testing/exits.ts"
import { type Opened, open } from "../support/harness.ts"

const withRegistry = async (test: (opened: Opened) => Promise<void>) => {
  const opened = await open(layerMemory())
  try {
    await opened.run(opened.registry.register({ name: "m", version: "1.0.0", tags: { team: "a" } }))
    await test(opened)
  } finally {
    await opened.close()
  }
}

const lastSeq = async (opened: Opened) => (await opened.run(opened.registry.stats)).lastSeq

describe("annotate", () => {
  it.each([
    ["nothing to annotate", {}, "input"],
    ["an unknown field", { tags: {}, note: "x" }, "note"],
    ["an empty description", { description: "" }, "description"],
    ["a control character in the description", { description: "a\u0007b" }, "description"],
    ["a description too long", { description: "x".repeat(descriptionLengthMax + 1) }, "description"],
    ["an empty tag key", { tags: { "": "x" } }, "tags"],
    ["a reserved tag key", { tags: JSON.parse('{"__proto__":"x"}') }, "tags"],
    ["a tag value that is a number", { tags: { k: 1 } }, "tags"],
    ["a tag value over 1 KiB", { tags: { k: "é".repeat(513) } }, "tags"],
  ])("refuses %s with InvalidInput naming the field, writing nothing", async (_, annotation, field) => {
    await withRegistry(async (opened) => {
      const before = await lastSeq(opened)
      const exit = await opened.exitOf(opened.registry.annotate("m", "1.0.0", annotation as never))
      expect(failureOf(exit)).toMatchObject({ _tag: "InvalidInput", field })
      const modelExit = await opened.exitOf(opened.registry.annotateModel("m", annotation as never))
      expect(failureOf(modelExit)).toMatchObject({ _tag: "InvalidInput", field })
      expect(await lastSeq(opened)).toBe(before)
    })
  })

  it("keeps at most 64 tags: a change that would leave more is refused, one that removes as many is not", async () => {
    await withRegistry(async (opened) => {
      const { registry, run, exitOf } = opened
      const full = Object.fromEntries(Array.from({ length: tagsCountMax - 1 }, (_, i) => [`k${i}`, "v"]))
      await run(registry.annotate("m", "1.0.0", { tags: full }))
      const before = await lastSeq(opened)
      expect(failureOf(await exitOf(registry.annotate("m", "1.0.0", { tags: { extra: "v" } })))).toMatchObject({
        _tag: "InvalidInput",
        field: "tags",
      })
      expect(await lastSeq(opened)).toBe(before)
      const swapped = await run(registry.annotate("m", "1.0.0", { tags: { extra: "v", team: null } }))
      expect(Object.keys(swapped.version.tags)).toHaveLength(tagsCountMax)
    })
  })

  it("records only what changes, with what it held before; an annotation that changes nothing writes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom("team", "eval", "k"), fc.option(fc.constantFrom("a", "b"))),
        fc.option(fc.constantFrom("d1", "d2")),
        async (tags, description) => {
          await withRegistry(async (opened) => {
            const { registry, run } = opened
            const first = await run(registry.annotate("m", "1.0.0", { tags, description }))
            const expected: Record<string, string> = { team: "a" }
            for (const [key, value] of Object.entries(tags))
              if (value === null) delete expected[key]
              else expected[key] = value
            expect(first.version.tags).toEqual(expected)
            expect(first.version.description).toBe(description ?? undefined)
            if (first.event !== null && first.event._tag === "VersionAnnotated")
              for (const [key, change] of Object.entries(first.event.tags)) {
                expect(change.from).toBe(key === "team" ? "a" : null)
                expect(change.to).toBe(tags[key])
                expect(change.from).not.toBe(change.to)
              }
            const before = await lastSeq(opened)
            const again = await run(registry.annotate("m", "1.0.0", { tags, description }))
            expect(again.event).toBeNull()
            expect(again.version).toEqual(first.version)
            expect(await lastSeq(opened)).toBe(before)
          })
        },
      ),
      { numRuns: 50 },
    )
  })

  it("names a model or version that does not exist", async () => {
    await withRegistry(async ({ registry, exitOf }) => {
      expect(failureTag(await exitOf(registry.annotate("m", "9.9.9", { description: "x" })))).toBe("VersionNotFound")
      expect(failureTag(await exitOf(registry.annotate("nope", "1.0.0", { description: "x" })))).toBe("ModelNotFound")
      expect(failureTag(await exitOf(registry.annotateModel("nope", { description: "x" })))).toBe("ModelNotFound")
      expect(failureTag(await exitOf(registry.archiveModel("nope")))).toBe("ModelNotFound")
      expect(failureTag(await exitOf(registry.annotate("m", "not a version", { description: "x" })))).toBe(
        "InvalidInput",
      )
    })
  })
})

describe("archiveModel", () => {
  it("hides the model from listings and search, refuses every change but restoring, and restores it as it was", async () => {
    await withRegistry(async (opened) => {
      const { registry, run, exitOf } = opened
      await run(registry.register({ name: "other", version: "1.0.0" }))
      const archived = await run(registry.archiveModel("m", { actor: "admin" }))
      expect(archived.model).toEqual({ name: "m", tags: {}, archived: true })
      expect(archived.event).toMatchObject({ _tag: "ModelArchived", name: "m", actor: "admin" })
      expect((await run(registry.archiveModel("m"))).event).toBeNull()
      expect((await run(registry.listModels)).map((s) => s.name)).toEqual(["other"])
      expect((await run(registry.listModelsPage({ includeArchived: true }))).models.map((s) => s.name)).toEqual([
        "m",
        "other",
      ])
      expect((await run(registry.search({}))).versions.map((v) => v.name)).toEqual(["other"])
      expect((await run(registry.search({ includeArchived: true }))).versions).toHaveLength(2)
      // Reads by name still answer.
      expect((await run(registry.get("m", "1.0.0"))).version).toBe("1.0.0")
      expect((await run(registry.model("m"))).archived).toBe(true)
      const before = await lastSeq(opened)
      for (const write of [
        registry.register({ name: "m", version: "2.0.0" }),
        registry.promote("m", "1.0.0"),
        registry.setAlias("m", "live", "1.0.0"),
        registry.removeAlias("m", "live"),
        registry.annotate("m", "1.0.0", { description: "x" }),
        registry.annotateModel("m", { description: "x" }),
      ] as ReadonlyArray<Parameters<typeof exitOf>[0]>)
        expect(failureOf(await exitOf(write))).toMatchObject({ _tag: "ModelIsArchived", name: "m" })
      expect(await lastSeq(opened)).toBe(before)
      const restored = await run(registry.restoreModel("m"))
      expect(restored.model.archived).toBe(false)
      expect((await run(registry.restoreModel("m"))).event).toBeNull()
      expect((await run(registry.listModels)).map((s) => s.name)).toEqual(["m", "other"])
      expect(Exit.isSuccess(await exitOf(registry.promote("m", "1.0.0")))).toBe(true)
    })
  })
})

describe("asOf", () => {
  it.each([
    ["text that is neither a seq nor a time", "yesterday"],
    ["a time without its zone", "2026-11-20T10:00:00"],
    ["a negative seq", -1],
    ["a seq past the last one", 99],
    ["an invalid Date", new Date(Number.NaN)],
  ])("refuses %s with InvalidInput", async (_, asOf) => {
    await withRegistry(async ({ registry, exitOf }) => {
      for (const read of [
        registry.get("m", "1.0.0", { asOf }),
        registry.listVersions("m", { asOf }),
        registry.production("m", { asOf }),
        registry.resolveAlias("m", "live", { asOf }),
        registry.search({}, { asOf }),
        registry.model("m", { asOf }),
      ] as ReadonlyArray<Parameters<typeof exitOf>[0]>)
        expect(failureOf(await exitOf(read))).toMatchObject({ _tag: "InvalidInput", field: "asOf" })
    })
  })

  it("before the first event, no model exists", async () => {
    await withRegistry(async ({ registry, exitOf }) => {
      expect(failureTag(await exitOf(registry.get("m", "1.0.0", { asOf: 0 })))).toBe("ModelNotFound")
      expect(failureTag(await exitOf(registry.get("m", "1.0.0", { asOf: "1999-01-01T00:00:00Z" })))).toBe(
        "ModelNotFound",
      )
    })
  })
})
