/** Spans: every promote, deprecate and compact gets its own span, and every committed batch one more. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Tracer } from "effect"
import { layerMemory, ModelRegistry } from "../../src/effects/ModelRegistry.ts"

/** Wraps the default tracer, recording span names. */
const recordingTracer = (base: Tracer.Tracer, names: Array<string>) =>
  Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      names.push(name)
      return base.span(name, parent, context, links, startTime, kind, options)
    },
    context: base.context,
  })

describe("tracing", () => {
  it.effect("records spans for lifecycle commands, compaction, committed batches and, on request, registers", () =>
    Effect.gen(function* () {
      const names: Array<string> = []
      const base = yield* Effect.tracer
      yield* Effect.gen(function* () {
        const registry = yield* ModelRegistry
        yield* registry.register({ name: "m", version: "1.0.0" })
        yield* registry.promote("m", "1.0.0")
        yield* registry.deprecate("m", "1.0.0")
        yield* registry.compact
      }).pipe(Effect.provide(layerMemory({ traceRegisters: true })), Effect.withTracer(recordingTracer(base, names)))
      expect(names).toEqual(
        expect.arrayContaining([
          "ModelRegistry.register",
          "ModelRegistry.promote",
          "ModelRegistry.deprecate",
          "ModelRegistry.compact",
          "RegistryActor.commit",
        ]),
      )
      expect(names.filter((name) => name === "RegistryActor.commit").length).toBeGreaterThanOrEqual(3)
    }),
  )
})
