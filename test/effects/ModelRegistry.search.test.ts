/**
 * `search` against a brute-force oracle: every filter and order, paged to the end, returns exactly the versions
 * a scan of every listing selects, in the documented order; and paging while writes continue never repeats a
 * version, never skips one that matched throughout, and returns only versions that matched when their page was read.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import type { ModelVersion } from "../../src/domain/ModelVersion.ts"
import type { SearchQuery } from "../../src/domain/Search.ts"
import { layerMemory, type ModelRegistry, makeMemoryRegistryStore } from "../../src/effects/ModelRegistry.ts"
import { failureOf } from "../../src/testing/exits.ts"
import { open } from "../support/harness.ts"

const names = ["alpha", "alpine", "beta"] as const
const versions = ["0.9.0", "1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1", "2.0.0"] as const
const createdAts = ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.500Z", "2026-01-02T00:00:00.000Z"] as const

type Write =
  | {
      readonly kind: "register"
      readonly name: string
      readonly version: string
      readonly createdAt: string
      readonly tags: Record<string, string>
      readonly metrics: Record<string, number | string>
    }
  | { readonly kind: "promote" | "deprecate"; readonly name: string; readonly version: string }
  | { readonly kind: "alias"; readonly name: string; readonly version: string }

const writeArb: fc.Arbitrary<Write> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("register" as const),
      name: fc.constantFrom(...names),
      version: fc.constantFrom(...versions),
      createdAt: fc.constantFrom(...createdAts),
      tags: fc.record(
        { team: fc.constantFrom("vision", "speech"), env: fc.constantFrom("prod", "dev") },
        { requiredKeys: [] },
      ),
      metrics: fc.record(
        {
          accuracy: fc.constantFrom(0.5, 0.8, 0.9, 0.95),
          loss: fc.oneof(fc.constantFrom(0.1, 0.3), fc.constant("n/a")),
        },
        { requiredKeys: [] },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom("promote" as const, "deprecate" as const, "alias" as const),
      name: fc.constantFrom(...names),
      version: fc.constantFrom(...versions),
    }),
  },
)

/** Each filter present one time in four, so that most queries select something and paging has pages to turn. */
const sometimes = <A>(arbitrary: fc.Arbitrary<A>): fc.Arbitrary<A | undefined> =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary })

const queryArb: fc.Arbitrary<SearchQuery> = fc
  .record({
    namePrefix: sometimes(fc.constantFrom("", "al", "alp", "b", "z")),
    tags: sometimes(fc.constantFrom({ team: "vision" }, { team: "speech", env: "dev" })),
    state: sometimes(fc.constantFrom("registered", "production", "deprecated")),
    alias: sometimes(fc.constant("champion")),
    metrics: sometimes(
      fc.constantFrom(
        [{ metric: "accuracy", op: ">=" as const, value: 0.9 }],
        [{ metric: "loss", op: "<" as const, value: 0.3 }],
        [{ metric: "accuracy", op: "!=" as const, value: 0.8 }],
        [
          { metric: "accuracy", op: ">" as const, value: 0.5 },
          { metric: "accuracy", op: "<=" as const, value: 0.9 },
        ],
        [{ metric: "accuracy", op: "=" as const, value: 0.95 }],
      ),
    ),
    orderBy: fc.constantFrom("version", "createdAt", "metric.accuracy", "metric.loss"),
    descending: fc.boolean(),
    limit: fc.integer({ min: 1, max: 4 }),
  })
  .map((query) => Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined)) as SearchQuery)

const apply = (registry: ModelRegistry, write: Write): Effect.Effect<unknown, unknown> => {
  switch (write.kind) {
    case "register":
      return registry.register({
        name: write.name,
        version: write.version,
        createdAt: write.createdAt,
        tags: write.tags,
        metrics: write.metrics,
      })
    case "promote":
      return registry.promote(write.name, write.version)
    case "deprecate":
      return registry.deprecate(write.name, write.version)
    case "alias":
      return registry.setAlias(write.name, "champion", write.version)
  }
}

const numeric = (version: ModelVersion, metric: string): number | undefined => {
  const value = version.metrics[metric]
  return typeof value === "number" ? value : undefined
}

/** The query by brute force over every listing; `rank` is each version's place in its model's SemVer order. */
const oracle = async (registry: ModelRegistry, query: SearchQuery): Promise<ReadonlyArray<ModelVersion>> => {
  const all: Array<{ version: ModelVersion; rank: number }> = []
  for (const model of await Effect.runPromise(registry.listModels))
    (await Effect.runPromise(registry.listVersions(model.name))).forEach((version, rank) => {
      all.push({ version, rank })
    })
  const holds = (value: number, op: string, bound: number) =>
    op === "<"
      ? value < bound
      : op === "<="
        ? value <= bound
        : op === ">"
          ? value > bound
          : op === ">="
            ? value >= bound
            : op === "="
              ? value === bound
              : value !== bound
  const selected = all.filter(
    ({ version }) =>
      (query.namePrefix === undefined || version.name.startsWith(query.namePrefix)) &&
      (query.state === undefined || version.state === query.state) &&
      (query.alias === undefined || version.aliases.includes(query.alias)) &&
      Object.entries(query.tags ?? {}).every(([key, value]) => version.tags[key] === value) &&
      (query.metrics ?? []).every((filter) => {
        const value = numeric(version, filter.metric)
        return value !== undefined && holds(value, filter.op, filter.value)
      }),
  )
  const orderBy = query.orderBy ?? "version"
  const sign = query.descending ? -1 : 1
  const tie = (a: (typeof all)[number], b: (typeof all)[number]) =>
    a.version.name < b.version.name ? -1 : a.version.name > b.version.name ? 1 : a.rank - b.rank
  selected.sort((a, b) => {
    if (orderBy === "version") return sign * tie(a, b)
    if (orderBy === "createdAt")
      return sign * (Date.parse(a.version.createdAt) - Date.parse(b.version.createdAt)) || tie(a, b)
    const metric = orderBy.slice("metric.".length)
    const x = numeric(a.version, metric)
    const y = numeric(b.version, metric)
    if (x === undefined || y === undefined) return x === y ? tie(a, b) : x === undefined ? 1 : -1
    return sign * (x - y) || tie(a, b)
  })
  return selected.map(({ version }) => version)
}

const keyOf = (version: ModelVersion) => `${version.name}@${version.version}`

describe("ModelRegistry.search", () => {
  it("pages through exactly what a scan selects, in the documented order", async () => {
    let asked = 0
    let paged = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(writeArb, { minLength: 15, maxLength: 40 }),
        fc.array(queryArb, { minLength: 1, maxLength: 4 }),
        fc.constantFrom("none", "reopen", "compact and reopen"),
        async (writes, queries, restart) => {
          const store = makeMemoryRegistryStore()
          let opened = await open(layerMemory({ store }))
          try {
            // A search half way builds the indexes, so the second half's commits must keep them current.
            for (const [i, write] of writes.entries()) {
              if (i === writes.length >> 1) await opened.run(opened.registry.search({ tags: { team: "vision" } }))
              await opened.exitOf(apply(opened.registry, write))
            }
            // Reopened, the versions come back from the log, or lazily from a snapshot's bodies.
            if (restart === "compact and reopen") await opened.run(opened.registry.compact)
            if (restart !== "none") {
              await opened.close()
              opened = await open(layerMemory({ store }))
            }
            for (const query of queries) {
              const expected = await oracle(opened.registry, query)
              const got: Array<ModelVersion> = []
              let cursor: string | undefined
              for (let page = 0; page < 100; page++) {
                const result = await opened.run(opened.registry.search({ ...query, ...(cursor ? { cursor } : {}) }))
                expect(result.versions.length).toBeLessThanOrEqual(query.limit ?? 100)
                got.push(...result.versions)
                if (result.nextCursor === null) break
                cursor = result.nextCursor
              }
              expect(got.map(keyOf)).toEqual(expected.map(keyOf))
              expect(got).toEqual(expected)
              asked++
              if (expected.length > (query.limit ?? 100)) paged++
            }
          } finally {
            await opened.close()
          }
        },
      ),
      { numRuns: 150 },
    )
    // The property is only as strong as the queries that select something: most must span several pages.
    expect(paged / asked).toBeGreaterThan(0.3)
  })

  it("paging while writes continue neither repeats nor skips a version that matched throughout", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(writeArb, { minLength: 15, maxLength: 30 }),
        queryArb,
        fc.array(fc.array(writeArb, { maxLength: 4 }), { maxLength: 12 }),
        async (before, query, between) => {
          const opened = await open(layerMemory())
          try {
            for (const write of before) await opened.exitOf(apply(opened.registry, write))
            let matchedThroughout = new Set((await oracle(opened.registry, query)).map(keyOf))
            const seen: Array<string> = []
            const pages: Array<ReadonlyArray<ModelVersion>> = []
            let cursor: string | undefined
            for (let page = 0; page < 200; page++) {
              const now = new Set((await oracle(opened.registry, query)).map(keyOf))
              matchedThroughout = new Set([...matchedThroughout].filter((key) => now.has(key)))
              const result = await opened.run(opened.registry.search({ ...query, ...(cursor ? { cursor } : {}) }))
              // Whatever a page returns matched when the page was read.
              for (const version of result.versions) expect(now.has(keyOf(version))).toBe(true)
              seen.push(...result.versions.map(keyOf))
              pages.push(result.versions)
              if (result.nextCursor === null) break
              cursor = result.nextCursor
              for (const write of between[page] ?? []) await opened.exitOf(apply(opened.registry, write))
            }
            expect(new Set(seen).size).toBe(seen.length)
            for (const key of matchedThroughout) expect(seen).toContain(key)
          } finally {
            await opened.close()
          }
        },
      ),
      { numRuns: 150 },
    )
  })

  it("refuses a malformed query or a cursor from another query, naming the field", async () => {
    const opened = await open(layerMemory())
    try {
      const { registry } = opened
      await opened.run(registry.register({ name: "m", version: "1.0.0" }))
      await opened.run(registry.register({ name: "m", version: "1.1.0" }))
      const refusal = async (query: unknown) => {
        const exit = await opened.exitOf(registry.search(query as SearchQuery))
        return failureOf(exit)
      }
      expect(await refusal({ limit: 0 })).toMatchObject({ _tag: "InvalidInput", field: "limit" })
      expect(await refusal({ limit: 1001 })).toMatchObject({ _tag: "InvalidInput", field: "limit" })
      expect(await refusal({ orderBy: "size" })).toMatchObject({ _tag: "InvalidInput", field: "orderBy" })
      expect(await refusal({ filter: "x" })).toMatchObject({ _tag: "InvalidInput", field: "filter" })
      expect(await refusal({ cursor: "garbage!" })).toMatchObject({
        _tag: "InvalidInput",
        field: "cursor",
      })
      const first = await opened.run(registry.search({ limit: 1 }))
      expect(first.nextCursor).not.toBeNull()
      const other = await refusal({ limit: 1, state: "production", cursor: first.nextCursor })
      expect(other).toMatchObject({ _tag: "InvalidInput", field: "cursor" })
      expect(other?.message).toContain("different query")
      // The same query with another page size continues where it was.
      const rest = await opened.run(registry.search({ limit: 5, cursor: first.nextCursor! }))
      expect(rest.versions.map((v) => v.version)).toEqual(["1.1.0"])
      expect(rest.nextCursor).toBeNull()
    } finally {
      await opened.close()
    }
  })

  it("pages the model list by name prefix", async () => {
    const opened = await open(layerMemory())
    try {
      const { registry } = opened
      for (const name of ["a-1", "a-2", "a-3", "b-1"]) await opened.run(registry.register({ name, version: "1.0.0" }))
      const first = await opened.run(registry.listModelsPage({ namePrefix: "a-", limit: 2 }))
      expect(first.models.map((m) => m.name)).toEqual(["a-1", "a-2"])
      const second = await opened.run(
        registry.listModelsPage({ namePrefix: "a-", limit: 2, cursor: first.nextCursor! }),
      )
      expect(second.models.map((m) => m.name)).toEqual(["a-3"])
      expect(second.nextCursor).toBeNull()
      expect(await opened.run(registry.listModelsPage({ namePrefix: "c" }))).toEqual({ models: [], nextCursor: null })
      const all = await opened.run(registry.listModelsPage())
      expect(all.models).toEqual(await opened.run(registry.listModels))
    } finally {
      await opened.close()
    }
  })
})
