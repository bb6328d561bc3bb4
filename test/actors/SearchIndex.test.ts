/**
 * The query plan: a filter an index can answer reads that index's candidates, not every version. `examined`
 * counts the records a search tested; on 10,000 versions a selective filter must test about what it selects.
 * (Which versions come back, in which order, is test/effects/ModelRegistry.search.test.ts's property.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { RegistryIndex } from "../../src/actors/RegistryIndex.ts"
import type { SearchResult } from "../../src/actors/SearchIndex.ts"
import type { ModelMetadata, ModelName, SemVer } from "../../src/domain/index.ts"
import type { SearchQuery } from "../../src/domain/Search.ts"

const versions = 10_000
const models = 50

const filled = (): RegistryIndex => {
  const index = new RegistryIndex()
  for (let i = 0; i < versions; i++) {
    const metadata: ModelMetadata = {
      id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      name: `model-${String(i % models).padStart(2, "0")}` as ModelName,
      version: `1.0.${Math.floor(i / models)}` as SemVer,
      createdAt: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
      metrics: { accuracy: (i % 1000) / 1000 },
      // One version in a hundred is a candidate.
      tags: { team: i % 100 === 0 ? "rare" : "common" },
    }
    index.apply(i + 1, { _tag: "Registered", metadata })
  }
  return index
}

const search = (index: RegistryIndex, query: SearchQuery): SearchResult => {
  const result = index.search(query)
  if (Either.isLeft(result)) throw new Error(result.left.message)
  return result.right
}

describe("SearchIndex", () => {
  const index = filled()

  it("answers a tag equality from its postings", () => {
    const result = search(index, { tags: { team: "rare" }, limit: 1000 })
    expect(result.versions).toHaveLength(versions / 100)
    expect(result.examined).toBe(versions / 100)
  })

  it("answers a metric comparison from the metric's order", () => {
    const result = search(index, { metrics: [{ metric: "accuracy", op: ">=", value: 0.995 }], limit: 1000 })
    expect(result.versions).toHaveLength(versions / 200)
    expect(result.examined).toBe(versions / 200)
  })

  it("answers a name prefix from the models it names", () => {
    const result = search(index, { namePrefix: "model-01", limit: 1000 })
    expect(result.versions).toHaveLength(versions / models)
    expect(result.examined).toBe(versions / models)
  })

  it("takes the most selective index when several filters apply", () => {
    const result = search(index, {
      namePrefix: "model-0",
      tags: { team: "rare" },
      metrics: [{ metric: "accuracy", op: "<", value: 0.5 }],
    })
    expect(result.versions.every((v) => v.name.startsWith("model-0") && v.tags.team === "rare")).toBe(true)
    expect(result.examined).toBe(versions / 100)
  })

  it("reads an unfiltered page from the order's index, not every version", () => {
    const first = search(index, { orderBy: "createdAt", descending: true, limit: 10 })
    expect(first.versions.map((v) => v.createdAt)).toEqual(
      Array.from({ length: 10 }, (_, i) => new Date(Date.UTC(2026, 0, 1) + (versions - 1 - i) * 1000).toISOString()),
    )
    expect(first.examined).toBe(11)
    const second = search(index, { orderBy: "createdAt", descending: true, limit: 10, cursor: first.nextCursor! })
    expect(second.examined).toBe(11)
    expect(second.versions[0]!.createdAt < first.versions[9]!.createdAt).toBe(true)
  })

  it("scans the order when a filter would select most versions anyway", () => {
    const result = search(index, { tags: { team: "common" }, orderBy: "createdAt", limit: 10 })
    expect(result.versions).toHaveLength(10)
    // The first version in time is rare, then ten common ones, and one more to know a next page exists.
    expect(result.examined).toBe(12)
  })
})
