/**
 * Model-based test (DESIGN.md §10): random sequences of every operation, including compaction and
 * close + reopen, run against the registry and against a plain reference model. After every command the
 * registry's answer matches the model's; after every reopen the whole recovered state equals the model.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Layer, Option, Stream } from "effect"
import fc from "fast-check"
import type { Deprecated } from "../../src/domain/RegistryEvent.ts"
import * as IdGenerator from "../../src/effects/IdGenerator.ts"
import {
  layerMemory,
  layerPostgres,
  type ModelRegistry,
  makeMemoryRegistryStore,
} from "../../src/effects/ModelRegistry.ts"
import { layerFile } from "../../src/node.ts"
import { failureOf, failureTag } from "../../src/testing/exits.ts"
import { ReferenceModel, type RefResult } from "../../src/testing/ReferenceModel.ts"
import { command as commandOf, type Real, runModel, temporaryDirectories } from "../support/modelRun.ts"

const names = ["alpha", "beta"] as const
/** Listed in semver precedence order, which string order would get wrong. */
const versions = ["1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1", "2.0.0"] as const
const idOf = (variant: number) => `00000000-0000-4000-8000-00000000000${variant}`

const expectOutcome = async (real: Real, effect: Effect.Effect<unknown, unknown>, expected: RefResult) => {
  const exit = await real.opened.exitOf(effect)
  if (!expected.ok) {
    expect(failureTag(exit)).toBe(expected.tag)
    return
  }
  expect(Exit.isSuccess(exit) ? "ok" : (failureTag(exit) ?? "defect")).toBe("ok")
  const outcome = (exit as Exit.Success<{ version: { state: string }; event: unknown }, never>).value
  expect(outcome.version.state).toBe(expected.state)
  expect(outcome.event === null).toBe(!expected.changed)
}

/** Compares everything a reader can see with the model. */
const expectSameState = async (real: Real, model: ReferenceModel) => {
  const { registry, run } = real.opened
  const summaries = await run(registry.listModels)
  expect(summaries.map((s) => s.name)).toEqual([...model.models.keys()].sort())
  for (const [name, expectedVersions] of model.models) {
    const listed = await run(registry.listVersions(name))
    const expectedOrder = versions.filter((v) => expectedVersions.has(v))
    expect(listed.map((v) => [v.version, v.state, v.id])).toEqual(
      expectedOrder.map((v) => [v, expectedVersions.get(v)!.state, expectedVersions.get(v)!.id]),
    )
    const production = await run(registry.production(name))
    expect(Option.getOrUndefined(Option.map(production, (v) => v.version))).toBe(model.production(name))
    expect(summaries.find((s) => s.name === name)).toMatchObject({
      production: model.production(name) ?? null,
      versionCount: expectedVersions.size,
    })
  }
  expect((await run(registry.stats)).lastSeq).toBe(model.events.length)
}

const command = (label: string, run: (model: ReferenceModel, real: Real) => Promise<void>) =>
  commandOf<ReferenceModel>(label, run)

const nameArb = fc.constantFrom(...names)
const versionArb = fc.constantFrom(...versions)

const commands = [
  fc
    .tuple(nameArb, versionArb, fc.integer({ min: 1, max: 2 }))
    .map(([name, version, variant]) =>
      command(`register(${name}, ${version}, v${variant})`, (model, real) =>
        expectOutcome(
          real,
          real.opened.registry.register({ name, version, id: idOf(variant), metrics: { variant } }),
          model.register(name, version, idOf(variant), { variant }),
        ),
      ),
    ),
  fc
    .tuple(nameArb, versionArb)
    .map(([name, version]) =>
      command(`promote(${name}, ${version})`, (model, real) =>
        expectOutcome(real, real.opened.registry.promote(name, version), model.promote(name, version)),
      ),
    ),
  fc
    .tuple(nameArb, versionArb)
    .map(([name, version]) =>
      command(`deprecate(${name}, ${version})`, (model, real) =>
        expectOutcome(real, real.opened.registry.deprecate(name, version), model.deprecate(name, version)),
      ),
    ),
  fc.tuple(nameArb, versionArb).map(([name, version]) =>
    command(`get(${name}, ${version})`, async (model, real) => {
      const exit = await real.opened.exitOf(real.opened.registry.get(name, version))
      const expected = model.models.get(name)?.get(version)
      if (!model.models.has(name)) expect(failureTag(exit)).toBe("ModelNotFound")
      else if (!expected) expect(failureTag(exit)).toBe("VersionNotFound")
      else expect(Exit.isSuccess(exit) && [exit.value.state, exit.value.id]).toEqual([expected.state, expected.id])
    }),
  ),
  fc.constantFrom("../x", "", "a b").map((name) =>
    command(`register(invalid ${JSON.stringify(name)})`, async (_model, real) => {
      const exit = await real.opened.exitOf(real.opened.registry.register({ name, version: "1.0.0" }))
      expect(failureTag(exit)).toBe("InvalidInput")
    }),
  ),
  fc.constant(command("listAll", (model, real) => expectSameState(real, model))),
  fc.nat({ max: 40 }).map((offset) =>
    command(`subscribe(from end-${offset})`, async (model, real) => {
      const from = Math.max(1, model.events.length - offset)
      const expected = model.events.slice(from - 1)
      const exit = await real.opened.exitOf(
        real.opened.registry.subscribe({ from }).pipe(Stream.take(expected.length), Stream.runCollect),
      )
      if (Exit.isFailure(exit)) {
        // Only history that compaction may have deleted can be refused, and only loudly, never skipped.
        expect(failureOf(exit)).toMatchObject({
          _tag: "StorageFailed",
          reason: "Compacted",
        })
        expect(from).toBeLessThanOrEqual(model.compactedUpTo())
        return
      }
      const events = exit.value
      expect(
        Chunk.toArray(events).map((e) =>
          e._tag === "Registered"
            ? { _tag: e._tag, name: e.metadata.name, version: e.metadata.version, seq: e.seq }
            : e._tag === "Promoted"
              ? { _tag: e._tag, name: e.name, version: e.version, supersedes: e.supersedes, seq: e.seq }
              : { _tag: e._tag, name: (e as Deprecated).name, version: (e as Deprecated).version, seq: e.seq },
        ),
      ).toEqual(expected.map((e, i) => ({ ...e, seq: from + i })))
    }),
  ),
  fc.constant(
    command("compact", async (model, real) => {
      const report = await real.opened.run(real.opened.registry.compact)
      expect(report.snapshotSeq).toBe(model.events.length)
      model.snapshots.push(report.snapshotSeq)
    }),
  ),
  fc.constant(
    command("close+reopen", async (model, real) => {
      await real.reopen()
      await expectSameState(real, model)
    }),
  ),
]

const run = (layer: () => Layer.Layer<ModelRegistry, unknown>, numRuns: number, cleanup?: () => void, servers = 1) =>
  runModel<ReferenceModel>({
    servers,
    commands,
    maxCommands: 40,
    numRuns,
    model: () => new ReferenceModel(),
    layer,
    expectSameState: (model, real) => expectSameState(real, model),
    ...(cleanup === undefined ? {} : { cleanup }),
  })

describe("ModelRegistry (model-based)", () => {
  it("agrees with the reference model on the memory layer", async () => {
    await run(() => layerMemory({ store: makeMemoryRegistryStore() }), 150)
  })

  it("agrees with the reference model on the file layer, across real reopens", async () => {
    const directories = temporaryDirectories("model")
    await run(
      () => layerFile({ directory: directories.next(), segmentBytesMax: 16 * 1024, recordBytesMax: 4096 }),
      25,
      directories.cleanup,
    )
  })

  // The PostgreSQL driver is Node's; Deno runs the other two.
  if (!("Deno" in globalThis))
    it("agrees with the reference model on PostgreSQL, across real reopens", async () => {
      const { layerTestClient, freshSchema, dropSchema } = await import("../storage/postgres.ts")
      const schemas: Array<string> = []
      await run(
        () => {
          const schema = freshSchema()
          schemas.push(schema)
          return layerPostgres({ schema, segmentBytesMax: 16 * 1024, recordBytesMax: 4096 }).pipe(
            Layer.provide(Layer.mergeAll(layerTestClient, IdGenerator.layerRandom)),
          )
        },
        25,
        () => {
          for (const schema of schemas.splice(0)) Effect.runFork(dropSchema(schema))
        },
      )
    })

  if (!("Deno" in globalThis))
    it("agrees with the reference model with three servers on one PostgreSQL schema, each command on the next", async () => {
      const backends: Array<{ readonly remove: () => void }> = []
      const { postgresRegistryBackend } = await import("../support/postgresRegistry.ts")
      await run(
        () => {
          const backend = postgresRegistryBackend()
          backends.push(backend)
          return backend.layer({ pollMillis: 10 })
        },
        20,
        () => {
          for (const backend of backends.splice(0)) backend.remove()
        },
        3,
      )
    })
})
