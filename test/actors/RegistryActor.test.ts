/**
 * The registry actor through the public API on memory storage: what each caller of a batch gets, what a closed
 * registry answers, and how a subscription past the compacted log fails.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Schema, Stream } from "effect"
import { RegisterInput } from "../../src/domain/ModelMetadata.ts"
import * as Registry from "../../src/effects/ModelRegistry.ts"
import { failureOf, failureTag } from "../../src/testing/exits.ts"
import { open } from "../support/harness.ts"

describe("RegistryActor", () => {
  it("gives each caller of a batch the version as its own command left it", async () => {
    const opened = await open(Registry.layerMemory())
    const { registry } = opened
    await opened.run(registry.register({ name: "m", version: "1.0.0" }))
    await opened.run(registry.register({ name: "m", version: "2.0.0" }))
    const before = (await opened.run(registry.stats)).batches
    // Both promotions are queued before the loop runs, so they are decided in one batch: the second supersedes the
    // first, yet the first caller must see 1.0.0 in production, as its own event left it.
    const [first, second] = await opened.run(
      Effect.all([registry.promote("m", "1.0.0"), registry.promote("m", "2.0.0")], { concurrency: "unbounded" }),
    )
    expect((await opened.run(registry.stats)).batches).toBe(before + 1)
    expect([first.version.version, first.version.state]).toEqual(["1.0.0", "production"])
    expect([second.version.version, second.version.state]).toEqual(["2.0.0", "production"])
    expect(second.event).toMatchObject({ _tag: "Promoted", supersedes: "1.0.0" })
    expect((await opened.run(registry.get("m", "1.0.0"))).state).toBe("registered")
    await opened.close()
  })

  it("registerDecoded registers an input decoded elsewhere, with the same outcome as register", async () => {
    const opened = await open(Registry.layerMemory())
    const { registry } = opened
    const decoded = Schema.decodeUnknownSync(RegisterInput)({ name: "a", version: "1.0.0", metrics: { acc: 1 } })
    const outcome = await opened.run(registry.registerDecoded(decoded))
    expect(outcome.event?._tag).toBe("Registered")
    expect(outcome.version).toMatchObject({ name: "a", version: "1.0.0", metrics: { acc: 1 } })
    // The same content through register is an identical re-send.
    expect((await opened.run(registry.register({ name: "a", version: "1.0.0", metrics: { acc: 1 } }))).event).toBe(null)
    await opened.close()
  })

  it("fills createdAt with the batch's commit time when the caller gives none, and keeps a given one", async () => {
    const opened = await open(Registry.layerMemory())
    const { registry } = opened
    const filled = await opened.run(registry.register({ name: "m", version: "1.0.0" }))
    expect(filled.version.createdAt).toBe(filled.event?.at)
    const given = await opened.run(
      registry.register({ name: "m", version: "2.0.0", createdAt: "2020-01-01T00:00:00.000Z" }),
    )
    expect(given.version.createdAt).toBe("2020-01-01T00:00:00.000Z")
    await opened.close()
  })

  it("a closed registry fails commands and compactions with RegistryClosed", async () => {
    const opened = await open(Registry.layerMemory())
    const { registry } = opened
    await opened.close()
    expect(failureTag(await opened.exitOf(registry.register({ name: "m", version: "1.0.0" })))).toBe("RegistryClosed")
    expect(failureTag(await opened.exitOf(registry.promote("m", "1.0.0")))).toBe("RegistryClosed")
    expect(failureTag(await opened.exitOf(registry.compact))).toBe("RegistryClosed")
  })

  it("a subscription from a compacted seq fails with StorageFailed Compacted, as the WAL does", async () => {
    const opened = await open(Registry.layerMemory({ tailEventsMax: 1 }))
    const { registry } = opened
    for (const round of [0, 1, 2]) {
      for (let i = 0; i < 3; i++) await opened.run(registry.register({ name: "m", version: `${round}.${i}.0` }))
      await opened.run(registry.compact)
    }
    const exit = await opened.exitOf(Stream.runCollect(registry.subscribe({ from: 1 })))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(failureOf(exit)).toMatchObject({ _tag: "StorageFailed", reason: "Compacted" })
    await opened.close()
  })

  it("stats name the first seq a subscription can start from: the log's, or the tail's where it reaches further", async () => {
    const rounds = async (tailEventsMax: number) => {
      const opened = await open(Registry.layerMemory({ tailEventsMax }))
      const { registry } = opened
      const firstSeqs = [(await opened.run(registry.stats)).firstSeq]
      for (const round of [0, 1, 2]) {
        for (let i = 0; i < 3; i++) await opened.run(registry.register({ name: "m", version: `${round}.${i}.0` }))
        await opened.run(registry.compact)
        firstSeqs.push((await opened.run(registry.stats)).firstSeq)
      }
      const firstSeq = firstSeqs.at(-1)!
      const events = await opened.run(Stream.runCollect(Stream.take(registry.subscribe({ from: firstSeq }), 1)))
      expect([...events].map((e) => e.seq)).toEqual([firstSeq])
      const before = await opened.exitOf(Stream.runCollect(Stream.take(registry.subscribe({ from: firstSeq - 1 }), 1)))
      await opened.close()
      return { firstSeqs, beforeFails: firstSeq > 1 && Exit.isFailure(before) }
    }
    // Each compaction keeps the log from the older of the two last snapshots (seq 3, then 6); a one-event tail adds
    // nothing to that, and a large one still holds every event.
    expect(await rounds(1)).toEqual({ firstSeqs: [1, 1, 4, 7], beforeFails: true })
    expect(await rounds(64)).toEqual({ firstSeqs: [1, 1, 1, 1], beforeFails: false })
  })
})
