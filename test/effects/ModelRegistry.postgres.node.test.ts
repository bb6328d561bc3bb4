/**
 * Several registries on one PostgreSQL schema, racing: conflicting promotions, deprecations, aliases and
 * registrations of the same models from all of them at once. Whatever the interleaving, the log is one gap-free
 * order that every server streams alike, every acknowledged write is in it as acknowledged, at most one version of
 * a model is in production at every seq, and a retried registration is a no-op on any server. Also: a database
 * that goes away fails writes with a typed error and readiness until it is back, and a schema the single-writer
 * release wrote opens unchanged.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Layer, Option, Stream } from "effect"
import fc from "fast-check"
import { mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import type { RegistryEvent } from "../../src/domain/RegistryEvent.ts"
import { ModelRegistry } from "../../src/effects/ModelRegistry.ts"
import { layerPostgres } from "../../src/node.ts"
import { failureOf, failureTag } from "../../src/testing/exits.ts"
import { layerTestClient } from "../storage/postgres.ts"
import { type Opened, open, until } from "../support/harness.ts"
import { startPgProxy } from "../support/pgProxy.ts"
import { postgresRegistryBackend } from "../support/postgresRegistry.ts"

const models = ["m0", "m1"] as const
const versions = ["1.0.0", "1.1.0", "1.2.0", "2.0.0"] as const

/** Waits until every server has applied the same last seq, and returns it. */
const caughtUp = async (servers: ReadonlyArray<Opened>): Promise<number> => {
  const deadline = Date.now() + 15_000
  for (;;) {
    const seqs = await Promise.all(servers.map(async ({ registry, run }) => (await run(registry.stats)).lastSeq))
    if (seqs.every((seq) => seq === seqs[0])) return seqs[0]!
    if (Date.now() > deadline) throw new Error(`the servers did not catch up: ${seqs.join(", ")}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const logOf = async ({ registry, run }: Opened, lastSeq: number): Promise<Array<RegistryEvent>> =>
  Chunk.toArray(await run(registry.subscribe({ from: 1 }).pipe(Stream.take(lastSeq), Stream.runCollect)))

/** Folds the log under the default lifecycle, failing at the first seq where two versions hold production. */
const checkProduction = (log: ReadonlyArray<RegistryEvent>) => {
  const production = new Map<string, string>()
  for (const event of log) {
    if (event._tag === "Promoted") {
      // A promotion supersedes exactly the version that held production at its seq.
      expect({ seq: event.seq, supersedes: event.supersedes ?? null }).toEqual({
        seq: event.seq,
        supersedes: production.get(event.name) ?? null,
      })
      production.set(event.name, event.version)
    } else if (event._tag === "Deprecated" && production.get(event.name) === event.version)
      production.delete(event.name)
  }
  return production
}

describe("several registries on one PostgreSQL schema", () => {
  it("race conflicting writes into one gap-free order that all stream alike, losing no acknowledged write", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            server: fc.nat({ max: 2 }),
            op: fc.constantFrom("promote", "deprecate", "alias", "register"),
            model: fc.constantFrom(...models),
            version: fc.constantFrom(...versions),
          }),
          { minLength: 20, maxLength: 60 },
        ),
        async (ops) => {
          const backend = postgresRegistryBackend()
          const servers = await Promise.all([0, 1, 2].map(() => open(backend.layer({ pollMillis: 10 }))))
          try {
            for (const model of models)
              for (const version of versions.slice(0, 3))
                await servers[0]!.run(servers[0]!.registry.register({ name: model, version }))
            await caughtUp(servers)
            const acknowledged: Array<RegistryEvent> = []
            // All at once: each server's actor batches what reaches it, and the three race for the head.
            const exits = await Promise.all(
              ops.map(({ server, op, model, version }) => {
                const { registry, exitOf } = servers[server]!
                const write =
                  op === "promote"
                    ? registry.promote(model, version)
                    : op === "deprecate"
                      ? registry.deprecate(model, version)
                      : op === "alias"
                        ? registry.setAlias(model, "champion", version)
                        : registry.register({ name: model, version, metrics: { server } })
                return exitOf(write as Effect.Effect<{ readonly event: RegistryEvent | null }, unknown>)
              }),
            )
            for (const exit of exits) {
              if (Exit.isSuccess(exit) && exit.value.event !== null) acknowledged.push(exit.value.event)
              // A rejection is a decision at the head (a conflict, a missing version), never a storage failure.
              if (Exit.isFailure(exit))
                expect(["VersionConflict", "InvalidTransition", "VersionNotFound", "AliasNotAllowed"]).toContain(
                  failureTag(exit),
                )
            }
            const lastSeq = await caughtUp(servers)
            const logs = await Promise.all(servers.map((server) => logOf(server, lastSeq)))
            expect(logs[0]!.map((event) => event.seq)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1))
            expect(logs[1]).toEqual(logs[0])
            expect(logs[2]).toEqual(logs[0])
            for (const event of acknowledged) expect(logs[0]![event.seq - 1]).toEqual(event)
            const production = checkProduction(logs[0]!)
            for (const model of models)
              for (const { registry, run } of servers)
                expect(Option.getOrUndefined(Option.map(await run(registry.production(model)), (v) => v.version))).toBe(
                  production.get(model),
                )
          } finally {
            await Promise.all(servers.map((server) => server.close()))
            backend.remove()
          }
        },
      ),
      { numRuns: 8 },
    )
  })

  it("takes a registration retried on another server as the no-op it is, and a conflicting one as a conflict", async () => {
    const backend = postgresRegistryBackend()
    const [a, b] = await Promise.all([0, 1].map(() => open(backend.layer({ pollMillis: 1000 }))))
    try {
      const input = { name: "retry", version: "1.0.0", id: "00000000-0000-4000-8000-000000000001" } as const
      const first = await a!.run(a!.registry.register(input))
      expect(first.event).not.toBeNull()
      // No wait for b to follow: the retry is decided at the head, after b caught up inside its append.
      const retried = await b!.run(b!.registry.register(input))
      expect(retried.event).toBeNull()
      expect(retried.version.id).toBe(input.id)
      const conflicting = await b!.exitOf(
        b!.registry.register({ ...input, id: "00000000-0000-4000-8000-000000000002" }),
      )
      expect(failureTag(conflicting)).toBe("VersionConflict")
      expect((await b!.run(b!.registry.stats)).lastSeq).toBe(1)
    } finally {
      await Promise.all([a!.close(), b!.close()])
      backend.remove()
    }
  })

  it("stops a server whose lifecycle another server moved the registry away from, before it decides under it", async () => {
    const backend = postgresRegistryBackend()
    const first = await open(backend.layer({ pollMillis: 10 }))
    try {
      await first.run(first.registry.register({ name: "m", version: "1.0.0" }))
      const second = await open(backend.layer({ lifecycle: mlflowStages, lifecycleMapping: { registered: "none" } }))
      await second.close()
      await until(async () => Exit.isFailure(await first.exitOf(first.registry.health)))
      const refused = await first.exitOf(first.registry.promote("m", "1.0.0"))
      expect(failureOf(refused)).toMatchObject({ _tag: "StorageFailed", operation: "follow" })
      expect(String((failureOf(refused) as { message: string }).message)).toMatch(/moved this registry to lifecycle/)
    } finally {
      await first.close()
      backend.remove()
    }
  })

  it("runs a durable observer in one server at a time, and another takes over from its cursor when it goes", async () => {
    const backend = postgresRegistryBackend()
    const handled: Array<{ readonly server: number; readonly seq: number }> = []
    const observing = (server: number) =>
      Layer.scopedDiscard(
        Effect.flatMap(ModelRegistry, (registry) =>
          registry.observe("deploy", (event) => Effect.sync(() => handled.push({ server, seq: event.seq }))),
        ),
      )
    const serverWith = (server: number) =>
      open(Layer.provideMerge(observing(server), backend.layer({ pollMillis: 20 })))
    const first = await serverWith(1)
    const second = await serverWith(2)
    try {
      for (let i = 0; i < 6; i++) {
        const { registry, run } = i % 2 === 0 ? first : second
        await run(registry.register({ name: "observed", version: `1.0.${i}` }))
      }
      await until(() => handled.length >= 6)
      await new Promise((resolve) => setTimeout(resolve, 200))
      // Each event once, all by the one server that holds the lease.
      expect(handled.map((h) => h.seq)).toEqual([1, 2, 3, 4, 5, 6])
      const holder = handled[0]!.server
      expect(new Set(handled.map((h) => h.server))).toEqual(new Set([holder]))
      const [gone, stays] = holder === 1 ? [first, second] : [second, first]
      await gone.close()
      for (let i = 6; i < 9; i++) await stays.run(stays.registry.register({ name: "observed", version: `1.0.${i}` }))
      await until(() => handled.length >= 9)
      // The other server took over from the cursor the first left: no event skipped, none delivered twice.
      expect(handled.map((h) => h.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
      expect(handled.slice(6).every((h) => h.server !== holder)).toBe(true)
    } finally {
      await Promise.all([first.close(), second.close()])
      backend.remove()
    }
  })

  it("fails writes with a typed Unavailable while the database is gone, says so at /healthz, and recovers", async () => {
    const backend = postgresRegistryBackend()
    const proxy = await startPgProxy()
    const url = `postgres://postgres@127.0.0.1:${proxy.port}/test`
    const opened = await open(layerPostgres({ url, schema: backend.schema, pollMillis: 20 }))
    try {
      const { registry, run, exitOf } = opened
      await run(registry.register({ name: "cut", version: "1.0.0" }))
      proxy.cut()
      const refused = await exitOf(registry.register({ name: "cut", version: "1.1.0" }))
      expect(failureOf(refused)).toMatchObject({ _tag: "StorageFailed", reason: "Unavailable" })
      await until(async () => Exit.isFailure(await exitOf(registry.health)))
      expect(failureOf(await exitOf(registry.health))).toMatchObject({ _tag: "StorageFailed", reason: "Unavailable" })
      // Reads go on from the server's own state.
      expect((await run(registry.get("cut", "1.0.0"))).version).toBe("1.0.0")
      proxy.restore()
      await until(async () => Exit.isSuccess(await exitOf(registry.health)))
      const next = await run(registry.register({ name: "cut", version: "1.1.0" }))
      // The refused write left nothing: the next one takes seq 2.
      expect(next.event?.seq).toBe(2)
    } finally {
      await opened.close()
      await proxy.close()
      backend.remove()
    }
  })

  it("opens a schema the single-writer release wrote, unchanged, and goes on from its last seq", async () => {
    const backend = postgresRegistryBackend()
    const dump = await import("node:fs").then((fs) =>
      fs.readFileSync(new URL("../fixtures/postgres-migration-1/dump.sql", import.meta.url), "utf8"),
    )
    await Effect.runPromise(
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(dump.replaceAll("fixture_m1", backend.schema))).pipe(
        Effect.provide(layerTestClient),
      ),
    )
    const opened = await open(backend.layer())
    try {
      const { registry, run } = opened
      expect((await run(registry.stats)).lastSeq).toBe(12)
      expect(Option.map(await run(registry.production("vision")), (v) => v.version)).toEqual(Option.some("1.1.0"))
      expect((await run(registry.resolveAlias("vision", "champion"))).version).toBe("1.1.0")
      expect((await run(registry.get("vision", "1.0.0"))).state).toBe("deprecated")
      expect((await run(registry.model("nlp"))).tags).toEqual({})
      expect((await run(registry.get("nlp", "0.1.0"))).description).toBe("German")
      expect((await run(registry.history("vision"))).events.map((e) => e._tag)).toEqual([
        "Registered",
        "Registered",
        "Promoted",
        "Promoted",
        "AliasSet",
        "Deprecated",
      ])
      const log = await logOf(opened, 12)
      expect(log.map((e) => e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1))
      const next = await run(registry.register({ name: "tabular", version: "2.0.0" }))
      expect(next.event?.seq).toBe(13)
    } finally {
      await opened.close()
    }
    // And the next opener reads it back, segments' sizes backfilled so that it rolls where a file would.
    const again = await open(backend.layer())
    try {
      expect((await again.run(again.registry.stats)).lastSeq).toBe(13)
    } finally {
      await again.close()
      backend.remove()
    }
  })
})
