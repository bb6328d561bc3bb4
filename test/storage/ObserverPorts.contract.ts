/**
 * The cases every `CursorStore` + `AppendSink` implementation must pass, run against each backend (file and memory
 * in ObserverPorts.test.ts, Deno KV in test/deno): values survive a "reopen", and names that could escape the
 * directory are defects.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, type Scope } from "effect"
import type * as AppendSink from "../../src/storage/AppendSink.ts"
import type * as CursorStore from "../../src/storage/CursorStore.ts"

export interface ObserverPortsBackend {
  readonly name: string
  /** Opens the ports over one persistent "directory"; call again to model a restart. */
  readonly fresh: Effect.Effect<
    () => Effect.Effect<{ cursors: CursorStore.CursorStore; sink: AppendSink.AppendSink }, never, Scope.Scope>,
    never,
    Scope.Scope
  >
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const utf8 = new TextEncoder()

export const observerPortsContract = (backend: ObserverPortsBackend) =>
  describe(`observer ports: ${backend.name}`, () => {
    it.scoped(`${backend.name}: cursors round-trip and survive a reopen`, () =>
      Effect.gen(function* () {
        const openPorts = yield* backend.fresh
        const first = yield* Effect.scoped(
          Effect.gen(function* () {
            const { cursors } = yield* openPorts()
            const none = yield* cursors.get("observers/audit.cursor")
            yield* cursors.set("observers/audit.cursor", 7)
            yield* cursors.set("observers/audit.cursor", 42)
            yield* cursors.set("observers/metrics.cursor", 0)
            return none
          }),
        )
        expect(first).toEqual(Option.none())
        const { cursors } = yield* openPorts()
        expect(yield* cursors.get("observers/audit.cursor")).toEqual(Option.some(42))
        expect(yield* cursors.get("observers/metrics.cursor")).toEqual(Option.some(0))
      }),
    )

    it.scoped(`${backend.name}: appended lines accumulate in order and survive a reopen`, () =>
      Effect.gen(function* () {
        const openPorts = yield* backend.fresh
        yield* Effect.scoped(
          Effect.gen(function* () {
            const { sink } = yield* openPorts()
            expect(yield* sink.readAll("observers/a.dead.ndjson")).toEqual(new Uint8Array())
            yield* sink.append("observers/a.dead.ndjson", utf8.encode('{"seq":1}\n'))
            yield* sink.append("observers/a.dead.ndjson", utf8.encode('{"seq":2}\n'))
            yield* sink.append("audit.ndjson", utf8.encode("x\n"))
          }),
        )
        const { sink } = yield* openPorts()
        yield* sink.append("observers/a.dead.ndjson", utf8.encode('{"seq":3}\n'))
        expect(text(yield* sink.readAll("observers/a.dead.ndjson"))).toBe('{"seq":1}\n{"seq":2}\n{"seq":3}\n')
        expect(text(yield* sink.readAll("audit.ndjson"))).toBe("x\n")
      }),
    )

    it.scoped(`${backend.name}: names that could escape the directory are defects`, () =>
      Effect.gen(function* () {
        const openPorts = yield* backend.fresh
        const { cursors, sink } = yield* openPorts()
        for (const name of ["../x.cursor", "/etc/passwd", "a//b", "", "observers/.hidden", "x.tmp", "a/b/c/d/e"]) {
          const exits: Array<Exit.Exit<unknown, unknown>> = [
            yield* cursors.set(name, 1).pipe(Effect.exit),
            yield* cursors.get(name).pipe(Effect.exit),
            yield* sink.append(name, new Uint8Array([1])).pipe(Effect.exit),
          ]
          for (const exit of exits) expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        }
        const negative = yield* cursors.set("c.cursor", -1).pipe(Effect.exit)
        expect(Exit.isFailure(negative) && Cause.isDie(negative.cause)).toBe(true)
      }),
    )
  })
