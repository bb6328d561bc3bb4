/**
 * A data directory written by an earlier release opens unchanged: every version, state and event it held, its
 * observers' files, and a clean read-only verification of the directory itself.
 */
import { cpSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Chunk, Effect, Option, Stream } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { dump, verify } from "../../src/effects/Inspection.ts"
import { layerFile, layerNode } from "../../src/node.ts"
import { open, tempDirectory } from "../support/harness.ts"

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

describe("release 0.1.0 data directory", () => {
  const cleanups: Array<() => void> = []
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup()
  })
  const copy = () => {
    const dir = tempDirectory("release-0.1.0")
    cleanups.push(dir.remove)
    cpSync(join(fixtures, "release-0.1.0"), dir.path, { recursive: true })
    return dir.path
  }

  it("verifies read-only without changing a byte", async () => {
    const directory = join(fixtures, "release-0.1.0")
    const before = contents(directory)
    const report = await Effect.runPromise(verify(directory).pipe(Effect.provide(layerNode)))
    expect(report).toMatchObject({
      firstSeq: 6,
      lastSeq: 18,
      events: 13,
      snapshot: Option.some({ lastSeq: 15, versions: 11 }),
    })
    expect(report.recovery).toMatchObject({ tornTail: Option.none(), snapshotFallbacks: [], segments: 2 })
    const events = Chunk.toReadonlyArray(
      await Effect.runPromise(Stream.runCollect(dump(directory)).pipe(Effect.provide(layerNode))),
    )
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
    expect(contents(directory)).toEqual(before)
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
