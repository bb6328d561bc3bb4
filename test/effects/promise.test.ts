/** The Promise facade: same operations, and a failure rejects with the tagged error itself. */
import { describe, expect, it } from "@effect/vitest"
import { openRegistry } from "../../src/node.ts"
import { tempDirectory } from "../support/harness.ts"

describe("openRegistry (Promise facade)", () => {
  it("registers, promotes, reads, subscribes, and rejects with tagged errors", async () => {
    const directory = tempDirectory("promise")
    try {
      const registry = await openRegistry({ directory: directory.path })
      const first = await registry.register({ name: "bert", version: "1.0.0", metrics: { f1: 0.9 } })
      expect(first.event?._tag).toBe("Registered")
      expect((await registry.register({ name: "bert", version: "1.0.0", metrics: { f1: 0.9 } })).event).toBeNull()
      await registry.promote("bert", "1.0.0")
      expect((await registry.production("bert"))?.version).toBe("1.0.0")

      const conflict = await registry.register({ name: "bert", version: "1.0.0", metrics: { f1: 0.1 } }).catch((e) => e)
      expect(conflict).toBeInstanceOf(Error)
      expect(conflict).toMatchObject({ _tag: "VersionConflict", name: "bert", version: "1.0.0" })
      const invalid = await registry.get("no/such", "1.0.0").catch((e) => e)
      expect(invalid).toMatchObject({ _tag: "InvalidInput", field: "name" })
      const missing = await registry.promote("bert", "9.9.9").catch((e) => e)
      expect(missing).toMatchObject({ _tag: "VersionNotFound" })

      const seen: Array<string> = []
      for await (const event of registry.subscribe({ from: 1 })) {
        seen.push(`${event.seq}:${event._tag}`)
        if (event.seq === 2) break
      }
      expect(seen).toEqual(["1:Registered", "2:Promoted"])
      await registry.close()
      const locked = await openRegistry({ directory: directory.path })
      expect((await locked.listVersions("bert")).map((v) => v.state)).toEqual(["production"])
      await locked.close()
    } finally {
      directory.remove()
    }
  })

  it("annotates, archives, restores, reads history and reads the past with asOf", async () => {
    const directory = tempDirectory("promise-history")
    const registry = await openRegistry({ directory: directory.path })
    try {
      await registry.register({ name: "bert", version: "1.0.0", tags: { team: "nlp" } })
      const annotated = await registry.annotate("bert", "1.0.0", {
        tags: { team: null, stage: "qa" },
        description: "first",
      })
      expect(annotated.version).toMatchObject({ tags: { stage: "qa" }, description: "first" })
      expect((await registry.get("bert", "1.0.0", { asOf: 1 })).tags).toEqual({ team: "nlp" })
      expect((await registry.get("bert", "1.0.0", { asOf: "seq:2" })).description).toBe("first")
      await registry.promote("bert", "1.0.0")
      expect(await registry.production("bert", { asOf: 2 })).toBeUndefined()
      expect((await registry.holder("bert", "production"))?.version).toBe("1.0.0")

      expect((await registry.annotateModel("bert", { description: "a model" })).model.description).toBe("a model")
      expect((await registry.archiveModel("bert")).model.archived).toBe(true)
      expect(await registry.listModels()).toEqual([])
      expect((await registry.model("bert")).archived).toBe(true)
      expect(await registry.annotate("bert", "1.0.0", { description: "x" }).catch((e) => e)).toMatchObject({
        _tag: "ModelIsArchived",
      })
      expect((await registry.search({ includeArchived: true }, { asOf: 4 })).versions).toHaveLength(1)
      expect((await registry.restoreModel("bert")).model.archived).toBe(false)
      expect((await registry.history("bert", "1.0.0")).events.map((e) => e._tag)).toEqual([
        "Registered",
        "VersionAnnotated",
        "Promoted",
      ])
      expect((await registry.history("bert")).events.map((e) => e._tag)).toContain("ModelRestored")
    } finally {
      await registry.close()
      directory.remove()
    }
  })
})
