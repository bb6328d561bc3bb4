/**
 * A data directory written by an earlier release opens unchanged: every version, state and event it held, its
 * observers' files, and a clean read-only verification of the directory itself.
 */
import { cpSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Chunk, Effect, Option, Stream } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { embeddedActor, unknownActor } from "../../src/domain/Actor.ts"
import { dump, verify } from "../../src/effects/Inspection.ts"
import type { ModelRegistry } from "../../src/effects/ModelRegistry.ts"
import { layerFile, layerNode, mlflowStages } from "../../src/node.ts"
import { failureOf } from "../../src/testing/exits.ts"
import { open, openFailure, tempDirectory } from "../support/harness.ts"

const fixtures = join(import.meta.dirname, "..", "fixtures")
const id = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`

/** Every file of a directory, name → bytes, to prove an inspection changed nothing. */
const contents = (directory: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(directory, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => {
        const path = join(entry.parentPath, entry.name)
        return [path.slice(directory.length), readFileSync(path).toString("base64")]
      }),
  )

/** Verifies a fixture in place and dumps its log, proving that neither changed a byte of it. */
const verifyUnchanged = async (fixture: string) => {
  const directory = join(fixtures, fixture)
  const before = contents(directory)
  const report = await Effect.runPromise(verify(directory).pipe(Effect.provide(layerNode)))
  const events = Chunk.toReadonlyArray(
    await Effect.runPromise(Stream.runCollect(dump(directory)).pipe(Effect.provide(layerNode))),
  )
  expect(contents(directory)).toEqual(before)
  return { report, events }
}

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})
/** A scratch copy of a fixture, removed after the test. */
const copyOf = (fixture: string) => {
  const dir = tempDirectory(fixture)
  cleanups.push(dir.remove)
  cpSync(join(fixtures, fixture), dir.path, { recursive: true })
  return dir.path
}

describe("release 0.1.0 data directory", () => {
  const copy = () => copyOf("release-0.1.0")

  it("verifies read-only without changing a byte", async () => {
    const { report, events } = await verifyUnchanged("release-0.1.0")
    expect(report).toMatchObject({
      firstSeq: 6,
      lastSeq: 18,
      events: 13,
      snapshot: Option.some({ lastSeq: 15, versions: 11 }),
    })
    expect(report.recovery).toMatchObject({ tornTail: Option.none(), snapshotFallbacks: [], segments: 2 })
    expect(events.map((e) => [e.seq, e._tag])).toEqual([
      [6, "Registered"],
      [7, "Registered"],
      [8, "Deprecated"],
      ...[9, 10, 11, 12, 13, 14].map((seq) => [seq, "Registered"]),
      [15, "Promoted"],
      [16, "Registered"],
      [17, "Deprecated"],
      [18, "Promoted"],
    ])
  })

  it("opens with every version, state and metric it held, and goes on from seq 18", async () => {
    const directory = copy()
    const registry = await open(layerFile({ directory }))
    try {
      const { registry: r, run } = registry
      expect((await run(r.stats)).lastSeq).toBe(18)
      const states = async (name: string) => (await run(r.listVersions(name))).map((v) => `${v.version}:${v.state}`)
      expect(await states("resnet")).toEqual(["1.0.0:deprecated", "1.1.0:production", "1.10.0-rc.1+build.7:registered"])
      expect(await states("bert")).toEqual(["0.1.0:registered", "0.2.0:deprecated", "0.3.0:registered"])
      expect(await states("bulk")).toEqual([0, 1, 2, 3, 4].map((i) => `1.0.${i}:registered`).concat("1.0.5:production"))
      expect(await run(r.get("resnet", "1.0.0"))).toEqual({
        id: id(1),
        name: "resnet",
        version: "1.0.0",
        createdAt: "2026-11-01T12:00:01.000Z",
        metrics: { top1: 0.76, nested: { f1: 0.5, ok: true } },
        tags: { framework: "torch" },
        state: "deprecated",
        aliases: [],
      })
      expect(await run(r.get("bert", "0.1.0"))).toMatchObject({ id: id(4), tags: { lang: "en", "team.owner": "nlp" } })
      expect(await run(r.get("bulk", "1.0.3"))).toMatchObject({ id: id(9), metrics: { i: 3 } })
      expect(Option.isNone(await run(r.production("bert")))).toBe(true)
      const history = await run(Stream.runCollect(r.subscribe({ from: 6 }).pipe(Stream.take(13))))
      expect(Chunk.toReadonlyArray(history).map((e) => e.seq)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18])
      const next = await run(r.register({ name: "bert", version: "0.4.0" }))
      expect(next.event?.seq).toBe(19)
    } finally {
      await registry.close()
    }
    const reopened = await open(layerFile({ directory }))
    try {
      expect((await reopened.run(reopened.registry.stats)).lastSeq).toBe(19)
    } finally {
      await reopened.close()
    }
  })

  it("resumes the audit observer at its stored cursor, without a duplicate", async () => {
    const directory = copy()
    const registry = await open(layerFile({ directory }))
    try {
      const { registry: r, run } = registry
      await run(
        Effect.scoped(
          Effect.gen(function* () {
            const audit = yield* r.auditLog()
            yield* r.promote("bert", "0.3.0")
            while ((yield* audit.status).cursor < 19) yield* Effect.yieldNow()
          }),
        ),
      )
    } finally {
      await registry.close()
    }
    const lines = readFileSync(join(directory, "audit.ndjson"), "utf8").trim().split("\n")
    expect(lines.map((line) => JSON.parse(line).seq)).toEqual(Array.from({ length: 19 }, (_, i) => i + 1))
  })
})

describe("release 0.2.0 data directory, written before lifecycles could be chosen", () => {
  const fixture = "release-0.2.0-pre-lifecycle"
  const copy = () => copyOf(fixture)
  const defaultStates = {
    vision: ["1.0.0:deprecated", "1.1.0:production", "2.0.0-beta.1+exp.3:registered"],
    nlp: ["0.1.0:deprecated", "0.2.0:deprecated", "0.3.0:registered", "0.4.0:production"],
    tabular: ["1.0.0:deprecated", "1.0.1:registered", "1.0.2:registered", "1.0.3:production"],
  }
  const stagesMapping = { registered: "none", production: "production", deprecated: "archived" }
  const stagesStates = Object.fromEntries(
    Object.entries(defaultStates).map(([name, versions]) => [
      name,
      versions.map((v) => v.replace(/:(\w+)$/, (_, state: string) => `:${stagesMapping[state as "registered"]}`)),
    ]),
  )
  /** Every model's versions as `version:state`. */
  const statesOf = async ({ registry: r, run }: Awaited<ReturnType<typeof open>>) =>
    Object.fromEntries(
      await Promise.all(
        Object.keys(defaultStates).map(async (name) => [
          name,
          (await run(r.listVersions(name))).map((v) => `${v.version}:${v.state}`),
        ]),
      ),
    )
  /**
   * The events the audit observer wrote when the fixture was made: every event as it was committed. That release
   * recorded no actor, so each reads back naming the reserved unknown one.
   */
  const written = readFileSync(join(fixtures, fixture, "audit.ndjson"), "utf8")
    .trim()
    .split("\n")
    .map((line) => ({ ...JSON.parse(line), actor: unknownActor }))
  const withRegistry = async <A>(
    layer: Parameters<typeof open>[0],
    body: (opened: Awaited<ReturnType<typeof open>>) => Promise<A>,
  ): Promise<A> => {
    const opened = await open(layer)
    try {
      return await body(opened)
    } finally {
      await opened.close()
    }
  }
  const eventsFrom = (r: ModelRegistry, from: number, count: number) =>
    Stream.runCollect(r.subscribe({ from }).pipe(Stream.take(count))).pipe(Effect.map(Chunk.toReadonlyArray))

  it("verifies read-only without changing a byte", async () => {
    const { report, events } = await verifyUnchanged(fixture)
    expect(report).toMatchObject({
      firstSeq: 11,
      lastSeq: 21,
      events: 11,
      snapshot: Option.some({ lastSeq: 17, versions: 10 }),
    })
    expect(report.recovery).toMatchObject({ tornTail: Option.none(), snapshotFallbacks: [], segments: 2 })
    expect(JSON.parse(JSON.stringify(events))).toEqual(written.slice(10))
  })

  it("opens under the default lifecycle with every version, state, metric, production version and event", async () => {
    const directory = copy()
    await withRegistry(layerFile({ directory }), async (opened) => {
      const { registry: r, run } = opened
      expect((await run(r.stats)).lastSeq).toBe(21)
      expect(await statesOf(opened)).toEqual(defaultStates)
      expect(await run(r.get("vision", "1.0.0"))).toEqual({
        id: id(1),
        name: "vision",
        version: "1.0.0",
        createdAt: "2026-11-14T10:00:01.000Z",
        metrics: { accuracy: 0.81, confusion: { tp: 40, fp: 3 }, calibrated: true },
        tags: { framework: "jax" },
        state: "deprecated",
        aliases: [],
      })
      expect(await run(r.get("nlp", "0.1.0"))).toMatchObject({
        id: id(4),
        tags: { lang: "de", "owner.team": "language" },
      })
      expect(await run(r.get("tabular", "1.0.2"))).toMatchObject({
        id: id(9),
        createdAt: "2026-11-15T09:00:14.000Z",
        metrics: { fold: 2 },
      })
      const production = async (name: string) => Option.map(await run(r.production(name)), (v) => v.version)
      expect(await production("vision")).toEqual(Option.some("1.1.0"))
      expect(await production("nlp")).toEqual(Option.some("0.4.0"))
      expect(await production("tabular")).toEqual(Option.some("1.0.3"))
      expect((await run(r.listModels)).map((m) => [m.name, m.production, m.holders, m.aliases])).toEqual([
        ["nlp", "0.4.0", { production: "0.4.0" }, {}],
        ["tabular", "1.0.3", { production: "1.0.3" }, {}],
        ["vision", "1.1.0", { production: "1.1.0" }, {}],
      ])
      expect(JSON.parse(JSON.stringify(await run(eventsFrom(r, 11, 11))))).toEqual(written.slice(10))
      const next = await run(r.register({ name: "nlp", version: "0.5.0" }))
      expect(next.event).toMatchObject({ seq: 22, actor: embeddedActor })
      expect((await run(r.promote("nlp", "0.5.0"))).event).toMatchObject({
        _tag: "Promoted",
        seq: 23,
        supersedes: "0.4.0",
      })
    })
    await withRegistry(layerFile({ directory }), async ({ registry: r, run }) => {
      expect((await run(r.stats)).lastSeq).toBe(23)
      expect((await run(r.get("nlp", "0.4.0"))).state).toBe("registered")
    })
  })

  it("compacts after reopening into a snapshot with its lifecycle, which reopens to the same state", async () => {
    const directory = copy()
    await withRegistry(layerFile({ directory }), async ({ registry: r, run }) => {
      await run(r.deprecate("vision", "2.0.0-beta.1+exp.3"))
      await run(r.compact)
    })
    const snapshot = readFileSync(join(directory, "snap-0000000000000022.snap"), "latin1")
    expect(snapshot).toContain('"lifecycle":{"name":"default"')
    await withRegistry(layerFile({ directory }), async (opened) => {
      expect((await opened.run(opened.registry.stats)).lastSeq).toBe(22)
      expect(await statesOf(opened)).toEqual({
        ...defaultStates,
        vision: ["1.0.0:deprecated", "1.1.0:production", "2.0.0-beta.1+exp.3:deprecated"],
      })
    })
  })

  it("refuses mlflowStages without a state mapping, changing nothing on disk", async () => {
    const directory = copy()
    const before = contents(directory)
    const failure = await openFailure(layerFile({ directory, lifecycle: mlflowStages }))
    expect(failure).toMatchObject({ _tag: "LifecycleMismatch", recorded: "default", given: "mlflow-stages" })
    expect(contents(directory)).toEqual(before)
  })

  it("moves to mlflowStages with a mapping, in one recorded event, and then runs under it only", async () => {
    const directory = copy()
    await withRegistry(
      layerFile({ directory, lifecycle: mlflowStages, lifecycleMapping: stagesMapping }),
      async (opened) => {
        const { registry: r, run } = opened
        expect((await run(r.stats)).lastSeq).toBe(22)
        const [changed] = await run(eventsFrom(r, 22, 1))
        expect(changed).toMatchObject({
          _tag: "LifecycleChanged",
          seq: 22,
          from: { name: "default", exclusive: ["production"] },
          to: { name: "mlflow-stages", exclusive: ["production"] },
          mapping: stagesMapping,
          aliasesCleared: [],
        })
        expect(changed?._tag === "LifecycleChanged" ? changed.changes.length : 0).toBe(8)
        expect(await statesOf(opened)).toEqual(stagesStates)
        expect(r.lifecycle.name).toBe("mlflow-stages")
        expect((await run(r.transition("tabular", "1.0.2", "promote"))).event).toMatchObject({
          _tag: "Transitioned",
          seq: 23,
          displaced: [{ version: "1.0.3", from: "production", to: "archived" }],
        })
        // The snapshot after the move carries the new binding: the reopens below start from it.
        expect((await run(r.compact)).snapshotSeq).toBe(23)
      },
    )
    await withRegistry(layerFile({ directory, lifecycle: mlflowStages }), async (opened) => {
      expect((await opened.run(opened.registry.stats)).lastSeq).toBe(23)
      expect(await statesOf(opened)).toEqual({
        ...stagesStates,
        tabular: ["1.0.0:archived", "1.0.1:none", "1.0.2:production", "1.0.3:archived"],
      })
    })
    const before = contents(directory)
    expect(await openFailure(layerFile({ directory }))).toMatchObject({
      _tag: "LifecycleMismatch",
      recorded: "mlflow-stages",
      given: "default",
    })
    expect(contents(directory)).toEqual(before)
  })
})

describe("release 0.3.0 data directory, whose events name their actors", () => {
  const fixture = "release-0.3.0-actors"
  /** The events as the audit observer wrote them when the fixture was made, each with its actor. */
  const written = readFileSync(join(fixtures, fixture, "audit.ndjson"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line))

  it("verifies read-only without changing a byte, every event with the actor it was written with", async () => {
    const { events } = await verifyUnchanged(fixture)
    expect(JSON.parse(JSON.stringify(events))).toEqual(written)
    expect(events.map((event) => event.actor)).toEqual([
      "ci",
      "ci",
      embeddedActor,
      "alice",
      "alice@example.org",
      "deploy bot ✓",
      "alice",
      embeddedActor,
      "(anonymous)",
    ])
  })

  it("opens with its versions and replays its events, actors included", async () => {
    const directory = copyOf(fixture)
    const opened = await open(layerFile({ directory }))
    try {
      const { registry: r, run } = opened
      expect((await run(r.listVersions("vision"))).map((v) => [v.version, v.state, v.aliases])).toEqual([
        ["1.0.0", "deprecated", []],
        ["1.1.0", "production", []],
        ["1.2.0", "registered", []],
      ])
      const replayed = await run(Stream.runCollect(r.subscribe({ from: 1 }).pipe(Stream.take(written.length))))
      expect(JSON.parse(JSON.stringify(Chunk.toReadonlyArray(replayed)))).toEqual(written)
    } finally {
      await opened.close()
    }
  })
})

describe("release 0.4.0 data directory, whose snapshots keep the history", () => {
  const fixture = "release-0.4.0-history"
  const written = readFileSync(join(fixtures, fixture, "audit.ndjson"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line))

  it("verifies read-only without changing a byte; its log starts after the compacted seqs", async () => {
    const { report, events } = await verifyUnchanged(fixture)
    expect(report).toMatchObject({ firstSeq: 7, lastSeq: 12 })
    expect(JSON.parse(JSON.stringify(events))).toEqual(written.slice(6))
  })

  it("opens with its annotations and archiving, and answers history and asOf from before its log's start", async () => {
    const directory = copyOf(fixture)
    for (let run = 0; run < 2; run++) {
      const opened = await open(layerFile({ directory }))
      try {
        const { registry: r, run: exec } = opened
        expect(await exec(r.get("vision", "1.0.0"))).toMatchObject({
          state: "deprecated",
          tags: { eval: "passed" },
          description: "first in production",
        })
        expect(await exec(r.model("vision"))).toMatchObject({
          description: "image classifier",
          tags: { owner: "ml" },
          archived: false,
        })
        expect((await exec(r.model("nlp"))).archived).toBe(false)
        const history = await exec(r.history("vision"))
        expect(history.since).toBe(0)
        expect(JSON.parse(JSON.stringify(history.events))).toEqual(
          written.filter((e) => (e.name ?? e.metadata.name) === "vision"),
        )
        // Seq 3: 1.0.0 just promoted, as registered; its annotation came at seq 4, the log now starts at 7.
        expect(await exec(r.get("vision", "1.0.0", { asOf: 3 }))).toMatchObject({
          state: "production",
          tags: { team: "cv" },
        })
        expect(Object.hasOwn(await exec(r.get("vision", "1.0.0", { asOf: "seq:3" })), "description")).toBe(false)
        expect(Option.map(await exec(r.production("vision", { asOf: 8 })), (v) => v.version)).toEqual(
          Option.some("1.0.0"),
        )
        expect(Option.map(await exec(r.production("vision", { asOf: 9 })), (v) => v.version)).toEqual(
          Option.some("1.1.0"),
        )
        // Between the archiving (09:00:09) and the restoring (09:00:13): hidden from a search of that moment.
        const moment = { asOf: "2026-12-05T09:00:09.500Z" }
        expect((await exec(r.model("nlp", moment))).archived).toBe(true)
        expect((await exec(r.search({}, moment))).versions.map((v) => v.name)).toEqual(["vision", "vision"])
        expect((await exec(r.search({ includeArchived: true }, moment))).versions).toHaveLength(3)
        expect((await exec(r.resolveAlias("vision", "champion", { asOf: 6 }))).version).toBe("1.0.0")
        await exec(r.compact)
      } finally {
        await opened.close()
      }
    }
  })
})

describe("a snapshot of an earlier release, which kept no history", () => {
  const fixture = "release-0.2.0-pre-lifecycle"

  it("starts the history at its seq: earlier moments are HistoryUnavailable, later ones answer, across a compaction", async () => {
    const directory = copyOf(fixture)
    for (let run = 0; run < 2; run++) {
      const opened = await open(layerFile({ directory }))
      try {
        const { registry: r, run: exec, exitOf } = opened
        const history = await exec(r.history("nlp"))
        expect(history.since).toBe(17)
        expect(history.events.every((event) => event.seq > 17)).toBe(true)
        expect(history.events.map((event) => event._tag)).toEqual(["Registered", "Promoted", "Deprecated"])
        expect(failureOf(await exitOf(r.get("nlp", "0.2.0", { asOf: 16 })))).toMatchObject({
          _tag: "HistoryUnavailable",
          since: 17,
        })
        expect(failureOf(await exitOf(r.get("nlp", "0.2.0", { asOf: "2026-11-15T09:00:01.000Z" })))?._tag).toBe(
          "HistoryUnavailable",
        )
        expect(Option.map(await exec(r.production("nlp", { asOf: 17 })), (v) => v.version)).toEqual(
          Option.some("0.2.0"),
        )
        expect(Option.map(await exec(r.production("nlp", { asOf: 19 })), (v) => v.version)).toEqual(
          Option.some("0.4.0"),
        )
        expect(failureOf(await exitOf(r.get("nlp", "0.4.0", { asOf: 17 })))?._tag).toBe("VersionNotFound")
        await exec(r.compact)
      } finally {
        await opened.close()
      }
    }
  })
})
