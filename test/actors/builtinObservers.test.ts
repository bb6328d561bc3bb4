/**
 * The built-in observers on a lifecycle's new events, as a registry under MLflow's stages commits them: the audit log
 * writes each one as its line, and the metrics observer counts each under its own `type` label.
 */
import { Chunk, Effect, Metric, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import { auditLog, eventsCounter, metrics } from "../../src/actors/builtinObservers.ts"
import type { RegistryEvent } from "../../src/domain/RegistryEvent.ts"
import { layerMemory, ModelRegistry } from "../../src/effects/ModelRegistry.ts"
import * as AppendSink from "../../src/storage/AppendSink.ts"

/**
 * Every event of a run that sets, moves, clears (by displacement) and removes an alias under MLflow's stages, each
 * run on a fresh memory store.
 */
const stagesEvents = Effect.suspend(() =>
  run.pipe(Effect.provide(layerMemory({ lifecycle: mlflowStages })), Effect.scoped),
)
const run = Effect.gen(function* () {
  const registry = yield* ModelRegistry
  for (const version of ["1.0.0", "2.0.0"]) yield* registry.register({ name: "bert", version })
  yield* registry.transition("bert", "1.0.0", "promote")
  yield* registry.setAlias("bert", "champion", "1.0.0")
  yield* registry.transition("bert", "2.0.0", "promote")
  yield* registry.setAlias("bert", "champion", "2.0.0")
  yield* registry.removeAlias("bert", "champion")
  const { lastSeq } = yield* registry.stats
  return Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.take(registry.subscribe({ from: 1 }), lastSeq)))
})

const types = ["LifecycleChanged", "Registered", "Transitioned", "AliasSet", "AliasRemoved"] as const
const countOf = (type: string) =>
  Effect.map(Metric.value(eventsCounter.pipe(Metric.tagged("type", type))), (s) => s.count)

describe("the built-in observers", () => {
  it("see the lifecycle's events: the run under test makes every new type", async () => {
    const events = await Effect.runPromise(stagesEvents)
    expect(events.map((event) => event._tag)).toEqual([
      "LifecycleChanged",
      "Registered",
      "Registered",
      "Transitioned",
      "AliasSet",
      "Transitioned",
      "AliasSet",
      "AliasRemoved",
    ])
    expect(events[5]).toMatchObject({ aliasesCleared: [{ alias: "champion", version: "1.0.0" }] })
  })

  it("the audit log writes each new event as its own line, exactly as committed", async () => {
    const lines = await Effect.runPromise(
      Effect.gen(function* () {
        const events = yield* stagesEvents
        const sink = AppendSink.makeMemory()
        const delivery = auditLog(sink, "audit.ndjson")
        if (delivery._tag !== "Chunk") throw new Error("the audit log takes chunks")
        yield* delivery.handle(events.slice(0, 4))
        // Redelivered after a crash: deduplicated by seq.
        yield* delivery.handle(events)
        const text = new TextDecoder().decode(yield* sink.readAll("audit.ndjson"))
        return {
          events,
          written: text
            .trimEnd()
            .split("\n")
            .map((line) => JSON.parse(line) as RegistryEvent),
        }
      }),
    )
    expect(lines.written).toEqual(JSON.parse(JSON.stringify(lines.events)))
  })

  it("the metrics observer counts each new event under its type", async () => {
    const counted = await Effect.runPromise(
      Effect.gen(function* () {
        const events = yield* stagesEvents
        const before = yield* Effect.forEach(types, countOf)
        if (metrics._tag !== "Counter") throw new Error("the metrics observer counts chunks")
        yield* metrics.count(events)
        const after = yield* Effect.forEach(types, countOf)
        return Object.fromEntries(types.map((type, i) => [type, after[i]! - before[i]!]))
      }),
    )
    expect(counted).toEqual({ LifecycleChanged: 1, Registered: 2, Transitioned: 2, AliasSet: 2, AliasRemoved: 1 })
  })

  it("the metrics observer keeps the labels its fiber's metrics carry", async () => {
    const tagged = (type: string) =>
      Effect.map(
        Metric.value(eventsCounter.pipe(Metric.tagged("service", "observer-test"), Metric.tagged("type", type))),
        (s) => s.count,
      )
    const counted = await Effect.runPromise(
      Effect.gen(function* () {
        const events = yield* stagesEvents
        if (metrics._tag !== "Counter") throw new Error("the metrics observer counts chunks")
        const before = yield* Effect.forEach(types, tagged)
        const plainBefore = yield* Effect.forEach(types, countOf)
        yield* metrics.count(events).pipe(Effect.tagMetrics("service", "observer-test"))
        const after = yield* Effect.forEach(types, tagged)
        const plainAfter = yield* Effect.forEach(types, countOf)
        return {
          tagged: Object.fromEntries(types.map((type, i) => [type, after[i]! - before[i]!])),
          untagged: plainAfter.map((count, i) => count - plainBefore[i]!),
        }
      }),
    )
    expect(counted.tagged).toEqual({
      LifecycleChanged: 1,
      Registered: 2,
      Transitioned: 2,
      AliasSet: 2,
      AliasRemoved: 1,
    })
    expect(counted.untagged).toEqual([0, 0, 0, 0, 0])
  })
})
