/**
 * Observer actors: durable cursors with at-least-once redelivery across restarts, dead letters after
 * maxAttempts, isolation from hanging handlers, and the built-in audit log (exactly the event stream).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Metric, Option, Scope } from "effect"
import { eventsCounter } from "../../src/actors/builtinObservers.ts"
import { observerPaths } from "../../src/actors/ObserverActor.ts"
import type { RegistryEvent } from "../../src/domain/index.ts"
import { layerMemory, makeMemoryRegistryStore } from "../../src/effects/ModelRegistry.ts"
import { layerFile } from "../../src/node.ts"
import { open, tempDirectory, until } from "../support/harness.ts"

const register = (count: number, model = "m") =>
  Effect.succeed(Array.from({ length: count }, (_, i) => ({ name: model, version: `1.0.${i}` })))

const decoder = new TextDecoder()
const readLines = (chunks: ReadonlyArray<Uint8Array> | undefined) =>
  (chunks ?? [])
    .map((chunk) => decoder.decode(chunk))
    .join("")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>)

describe("ObserverActor", () => {
  it("redelivers from the durable cursor after a crash, in order and without gaps", async () => {
    const store = makeMemoryRegistryStore()
    const first = await open(layerMemory({ store }))
    const inputs = await first.run(register(6))
    for (const input of inputs) await first.run(first.registry.register(input))
    const seen: Array<number> = []
    const hang = Effect.runSync(Deferred.make<void>())
    const scope = Effect.runSync(Scope.make())
    await first.run(
      first.registry
        .observe("crashy", (event: RegistryEvent) =>
          event.seq === 4 ? Deferred.await(hang) : Effect.sync(() => seen.push(event.seq)),
        )
        .pipe(Scope.extend(scope)),
    )
    await until(() => seen.length >= 3)
    // The "crash": the process goes away while event 4 is being handled, before its cursor write.
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await first.close()
    expect(seen).toEqual([1, 2, 3])

    const second = await open(layerMemory({ store }))
    const redelivered: Array<number> = []
    const scope2 = Effect.runSync(Scope.make())
    const handle = await second.run(
      second.registry
        .observe("crashy", (event: RegistryEvent) => Effect.sync(() => redelivered.push(event.seq)))
        .pipe(Scope.extend(scope2)),
    )
    await second.run(handle.awaitSeq(6))
    // At-least-once: everything after the last durable cursor comes again, in order, with no gap.
    const cursor = store.cursors.get(observerPaths.cursor("crashy"))
    expect(cursor).toBe(6)
    expect(redelivered[redelivered.length - 1]).toBe(6)
    expect(redelivered).toEqual(Array.from({ length: redelivered.length }, (_, i) => redelivered[0]! + i))
    expect(redelivered[0]).toBeLessThanOrEqual(4)
    await Effect.runPromise(Scope.close(scope2, Exit.void))
    await second.close()
  })

  it("keeps a memory cursor in the process only: nothing saved, and a restart begins where `from` says", async () => {
    const store = makeMemoryRegistryStore()
    const first = await open(layerMemory({ store }))
    const inputs = await first.run(register(5))
    for (const input of inputs.slice(0, 2)) await first.run(first.registry.register(input))
    const seen: Array<number> = []
    const scope = Effect.runSync(Scope.make())
    const handle = await first.run(
      first.registry
        .observe("counter", (event: RegistryEvent) => Effect.sync(() => seen.push(event.seq)), { cursor: "memory" })
        .pipe(Scope.extend(scope)),
    )
    for (const input of inputs.slice(2)) await first.run(first.registry.register(input))
    await first.run(handle.awaitSeq(5))
    expect(seen).toEqual([1, 2, 3, 4, 5])
    expect((await first.run(handle.status)).cursor).toBe(5)
    expect(store.cursors.get(observerPaths.cursor("counter"))).toBeUndefined()
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await first.close()

    const second = await open(layerMemory({ store }))
    const again: Array<number> = []
    const scope2 = Effect.runSync(Scope.make())
    const fromNow = await second.run(
      second.registry
        .observe("counter", (event: RegistryEvent) => Effect.sync(() => again.push(event.seq)), {
          cursor: "memory",
          from: "now",
        })
        .pipe(Scope.extend(scope2)),
    )
    await second.run(second.registry.register({ name: "m", version: "2.0.0" }))
    await second.run(fromNow.awaitSeq(6))
    expect(again).toEqual([6])
    expect(store.cursors.get(observerPaths.cursor("counter"))).toBeUndefined()
    await Effect.runPromise(Scope.close(scope2, Exit.void))
    await second.close()
  })

  it("the built-in metrics observer saves no cursor", async () => {
    const store = makeMemoryRegistryStore()
    const registry = await open(layerMemory({ store }))
    const scope = Effect.runSync(Scope.make())
    const handle = await registry.run(registry.registry.metrics({ from: "now" }).pipe(Scope.extend(scope)))
    await registry.run(registry.registry.register({ name: "m", version: "1.0.0" }))
    await registry.run(handle.awaitSeq(1))
    expect(store.cursors.get(observerPaths.cursor("metrics"))).toBeUndefined()
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await registry.close()
  })

  it("dead-letters an event after maxAttempts and moves on", async () => {
    const store = makeMemoryRegistryStore()
    const opened = await open(layerMemory({ store }))
    for (const input of await opened.run(register(3))) await opened.run(opened.registry.register(input))
    const delivered: Array<number> = []
    const scope = Effect.runSync(Scope.make())
    const handle = await opened.run(
      opened.registry
        .observe(
          "picky",
          (event: RegistryEvent) =>
            event.seq === 2 ? Effect.fail(`refusing seq ${event.seq}`) : Effect.sync(() => delivered.push(event.seq)),
          { maxAttempts: 3, retryDelay: "1 millis" },
        )
        .pipe(Scope.extend(scope)),
    )
    await opened.run(handle.awaitSeq(3))
    const status = await opened.run(handle.status)
    expect(delivered).toEqual([1, 3])
    expect(status).toMatchObject({ cursor: 3, delivered: 2, deadLettered: 1, retries: 2 })
    const letters = readLines(store.files.get(observerPaths.deadLetters("picky")))
    expect(letters).toHaveLength(1)
    expect(letters[0]).toMatchObject({ observer: "picky", seq: 2, attempts: 3 })
    expect(String(letters[0]!.error)).toContain("refusing seq 2")
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await opened.close()
  })

  it("a hanging observer delays neither registrations nor other observers", async () => {
    const opened = await open(layerMemory())
    const scope = Effect.runSync(Scope.make())
    const hanging = await opened.run(opened.registry.observe("hangs", () => Effect.never).pipe(Scope.extend(scope)))
    const healthy = await opened.run(opened.registry.observe("healthy", () => Effect.void).pipe(Scope.extend(scope)))
    const throwing = await opened.run(
      opened.registry
        .observe(
          "throws",
          () =>
            Effect.sync(() => {
              throw new Error("handler bug")
            }),
          { maxAttempts: 1 },
        )
        .pipe(Scope.extend(scope)),
    )
    const inputs = await opened.run(register(1_000))
    await opened.run(
      Effect.forEach(inputs, (input) => opened.registry.register(input), { concurrency: 64, discard: true }),
    )
    await opened.run(healthy.awaitSeq(1_000))
    await opened.run(throwing.awaitSeq(1_000))
    expect((await opened.run(opened.registry.stats)).lastSeq).toBe(1_000)
    expect((await opened.run(hanging.status)).cursor).toBe(0)
    expect((await opened.run(throwing.status)).deadLettered).toBe(1_000)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await opened.close()
  })

  it("the audit log holds exactly the event stream, once, across a restart", async () => {
    const directory = tempDirectory("audit")
    try {
      const first = await open(layerFile({ directory: directory.path }))
      const scope = Effect.runSync(Scope.make())
      const audit = await first.run(first.registry.auditLog().pipe(Scope.extend(scope)))
      await first.run(first.registry.metrics().pipe(Scope.extend(scope)))
      for (const input of await first.run(register(5))) await first.run(first.registry.register(input))
      await first.run(first.registry.promote("m", "1.0.3"))
      await first.run(audit.awaitSeq(6))
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await first.close()

      const second = await open(layerFile({ directory: directory.path }))
      const scope2 = Effect.runSync(Scope.make())
      await second.run(second.registry.deprecate("m", "1.0.3"))
      const audit2 = await second.run(second.registry.auditLog().pipe(Scope.extend(scope2)))
      await second.run(audit2.awaitSeq(7))
      const { readFileSync } = await import("node:fs")
      const lines = readLines([readFileSync(`${directory.path}/audit.ndjson`)])
      expect(lines.map((line) => [line.seq, line._tag])).toEqual([
        [1, "Registered"],
        [2, "Registered"],
        [3, "Registered"],
        [4, "Registered"],
        [5, "Registered"],
        [6, "Promoted"],
        [7, "Deprecated"],
      ])
      const registered = await Effect.runPromise(Metric.value(eventsCounter.pipe(Metric.tagged("type", "Registered"))))
      expect(registered.count).toBeGreaterThanOrEqual(5)
      await Effect.runPromise(Scope.close(scope2, Exit.void))
      await second.close()
    } finally {
      directory.remove()
    }
  })

  it("stops with RegistryClosed when the registry closes", async () => {
    const opened = await open(layerMemory())
    const scope = Effect.runSync(Scope.make())
    const handle = await opened.run(opened.registry.observe("o", () => Effect.void).pipe(Scope.extend(scope)))
    await opened.run(opened.registry.register({ name: "m", version: "1.0.0" }))
    await Effect.runPromise(handle.awaitSeq(1))
    await opened.close()
    // awaitSeq also returns once the observer stopped for good.
    await Effect.runPromise(handle.awaitSeq(Number.MAX_SAFE_INTEGER))
    const status = await Effect.runPromise(handle.status)
    expect(Option.getOrUndefined(status.stopped)?._tag).toBe("RegistryClosed")
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })
})
