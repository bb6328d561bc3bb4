/**
 * Who wrote it: every write's `actor` option lands on its event, as the write answers it, as the audit log writes it
 * and as a reopened registry reads it back; a write without one names the reserved `(embedded)`, and an actor the
 * option may not take fails the write with nothing written.
 */
import { Chunk, Effect, Exit, Scope, Stream } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { actorLengthMax, actorOptionViolation, embeddedActor, unknownActor } from "../../src/domain/Actor.ts"
import type { RegistryEvent } from "../../src/domain/RegistryEvent.ts"
import { layerMemory, type ModelRegistry, makeMemoryRegistryStore } from "../../src/effects/ModelRegistry.ts"
import { failureOf } from "../../src/testing/exits.ts"
import { open, until } from "../support/harness.ts"

/** What an embedding app may name: token-like names, any printable text, or nothing. */
const actorOption = fc.option(
  fc.oneof(
    fc.constantFrom("ci", "alice@example.org", "deploy-bot", embeddedActor),
    fc.string({ minLength: 1, maxLength: actorLengthMax }).filter((text) => actorOptionViolation(text) === undefined),
  ),
  { nil: undefined },
)

type Write = (
  registry: ModelRegistry,
  actor: string | undefined,
  step: number,
) => Effect.Effect<{ event: RegistryEvent | null }, unknown>
const options = (actor: string | undefined) => (actor === undefined ? {} : { actor })

/** Each write changes something on a model that has `1.0.0` and `1.1.0`, whatever ran before it. */
const writes: ReadonlyArray<Write> = [
  (r, actor, step) => r.register({ name: "m", version: `2.0.${step}` }, options(actor)),
  (r, actor) => r.setAlias("m", "live", "1.0.0", options(actor)),
  (r, actor) => r.setAlias("m", "live", "1.1.0", options(actor)),
  (r, actor) => r.promote("m", "1.0.0", options(actor)),
  (r, actor) => r.promote("m", "1.1.0", options(actor)),
]

const events = (registry: ModelRegistry, count: number) =>
  Effect.runPromise(
    Stream.runCollect(registry.subscribe({ from: 1 }).pipe(Stream.take(count))).pipe(Effect.map(Chunk.toReadonlyArray)),
  )

describe("a write's actor", () => {
  it("lands on its event, in the answer, the audit log and after a reopen", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: writes.length - 1 }), actorOption)),
        async (steps) => {
          const store = makeMemoryRegistryStore()
          const expected: Array<string> = []
          const first = await open(layerMemory({ store }))
          const auditScope = Effect.runSync(Scope.make())
          const auditLines = () =>
            (store.files.get("audit.ndjson") ?? [])
              .map((chunk) => new TextDecoder().decode(chunk))
              .join("")
              .split("\n")
              .filter((line) => line.length > 0)
          try {
            const { registry, run } = first
            for (const version of ["1.0.0", "1.1.0"]) {
              await run(registry.register({ name: "m", version }, { actor: "setup" }))
              expected.push("setup")
            }
            await run(Scope.extend(registry.auditLog(), auditScope))
            for (const [step, [which, actor]] of steps.entries()) {
              const { event } = await run(writes[which]!(registry, actor, step))
              if (event === null) continue
              expect(event.actor).toBe(actor ?? embeddedActor)
              expected.push(event.actor)
            }
            expect((await events(registry, expected.length)).map((event) => event.actor)).toEqual(expected)
            await until(() => auditLines().length === expected.length)
            expect(auditLines().map((line) => JSON.parse(line).actor)).toEqual(expected)
          } finally {
            await Effect.runPromise(Scope.close(auditScope, Exit.void))
            await first.close()
          }
          const reopened = await open(layerMemory({ store }))
          try {
            expect((await events(reopened.registry, expected.length)).map((event) => event.actor)).toEqual(expected)
          } finally {
            await reopened.close()
          }
        },
      ),
      { numRuns: 25 },
    )
  })

  it("may not take the reserved form, control characters, nothing or too much: InvalidInput, nothing written", async () => {
    const opened = await open(layerMemory())
    try {
      const { registry, run, exitOf } = opened
      await run(registry.register({ name: "m", version: "1.0.0" }))
      for (const actor of [unknownActor, "(admin)", "", "a\nb", "\u0085", "x".repeat(actorLengthMax + 1)]) {
        for (const write of [
          registry.register({ name: "m", version: "9.9.9" }, { actor }),
          registry.promote("m", "1.0.0", { actor }),
          registry.setAlias("m", "live", "1.0.0", { actor }),
          registry.removeAlias("m", "live", { actor }),
        ] as ReadonlyArray<Effect.Effect<unknown, unknown>>) {
          const exit = await exitOf(write)
          expect(Exit.isFailure(exit) && failureOf(exit)).toMatchObject({ _tag: "InvalidInput", field: "actor" })
        }
      }
      expect((await run(registry.stats)).lastSeq).toBe(1)
    } finally {
      await opened.close()
    }
  })
})
