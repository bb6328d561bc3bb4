/**
 * The `/events` feed over a memory registry: a client that falls a full buffer behind is cut while the others keep
 * receiving; its queue never holds more than the bound; each event is encoded once whatever the number of clients;
 * and a client that catches up from any seq, at any point of the feed, gets every event from there exactly once,
 * in order (the seam between its own catch-up and the shared feed, checked as a property).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import * as fc from "fast-check"
import { StorageFailed } from "../../src/domain/errors.ts"
import type { RegistryEvent } from "../../src/domain/RegistryEvent.ts"
import * as Registry from "../../src/effects/ModelRegistry.ts"
import * as EventFanout from "../../src/http/eventFanout.ts"
import { eventFrame, reconnectDelayMs } from "../../src/http/sse.ts"

const decoder = new TextDecoder()
const encoder = new TextEncoder()

/**
 * A client that records every event id it is sent, the id of its open frame (the seq before its first event), its
 * last frame's event name, and how its stream ended.
 */
const reader = (fanout: EventFanout.EventFanout, from?: number) =>
  Effect.gen(function* () {
    const ids: Array<number> = []
    const frames: Array<string> = []
    let text = ""
    let cuts = 0
    const fiber = yield* fanout
      .frames(from, () => {
        cuts++
      })
      .pipe(
        Stream.runForEach((bytes) =>
          Effect.sync(() => {
            text += decoder.decode(bytes)
            const end = text.lastIndexOf("\n\n")
            if (end === -1) return
            for (const frame of text.slice(0, end).split("\n\n")) {
              frames.push(frame)
              const id = /^id: (\d+)\nevent: /m.exec(frame)
              if (id) ids.push(Number(id[1]))
            }
            text = text.slice(end + 2)
          }),
        ),
        Effect.fork,
      )
    const openId = () => Number(/^id: (\d+)$/m.exec(frames[0] ?? "")?.[1] ?? Number.NaN)
    return { ids, frames, fiber, openId, cuts: () => cuts }
  })

/** A client that takes its first `taking` writes and then never reads again. */
const stalled = (fanout: EventFanout.EventFanout, taking = 1) =>
  Effect.gen(function* () {
    const never = yield* Deferred.make<void>()
    let taken = 0
    let cuts = 0
    const fiber = yield* fanout
      .frames(undefined, () => {
        cuts++
      })
      .pipe(
        Stream.runForEach(() => (++taken >= taking ? Deferred.await(never) : Effect.void)),
        Effect.fork,
      )
    return { fiber, cuts: () => cuts }
  })

const feed = (options: { readonly bufferFramesMax: number; readonly encodeEvent?: (e: RegistryEvent) => Uint8Array }) =>
  Effect.gen(function* () {
    const registry = yield* Registry.ModelRegistry
    const stopping = yield* Deferred.make<void>()
    const fanout = yield* EventFanout.make(registry, {
      keepAliveMs: 3_600_000,
      stopping,
      flushIntervalMs: 0,
      ...options,
    })
    let next = 0
    const commit = (count: number) =>
      Effect.forEach(
        Array.from({ length: count }, () => next++),
        (i) => registry.register({ name: `m${i % 3}`, version: `1.0.${i}` }),
        { concurrency: "unbounded", discard: true },
      )
    return { registry, fanout, commit, stopping }
  })

/** Waits (real time, bounded) until `done` holds. */
const eventually = (done: () => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 2_000 && !done(); i++) yield* Effect.sleep(1)
    expect(done()).toBe(true)
  })

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe("EventFanout", () => {
  it.scopedLive("cuts a client that falls a full buffer behind, and the others keep receiving", () =>
    Effect.gen(function* () {
      const { fanout, commit } = yield* feed({ bufferFramesMax: 8 })
      const laggard = yield* stalled(fanout)
      const live = yield* reader(fanout)
      for (let i = 0; i < 20; i++) yield* commit(1)
      yield* eventually(() => live.ids.length === 20)
      expect(live.ids).toEqual(range(1, 20))
      expect(laggard.cuts()).toBe(1)
      expect(live.cuts()).toBe(0)
      // The cut client's stream is over: its fiber returns once the writer pulls again.
      expect((yield* fanout.backlog).clients).toBe(1)
      yield* Fiber.interrupt(laggard.fiber)
    }).pipe(Effect.provide(Registry.layerMemory())),
  )

  it.scopedLive("never queues more than the bound for a client that reads nothing, even a batch at a time", () =>
    Effect.gen(function* () {
      const bound = 16
      const { fanout, commit } = yield* feed({ bufferFramesMax: bound })
      const laggard = yield* stalled(fanout)
      const sizes = [1, 5, 3, 7, 1, 1, 9, 2]
      const seen: Array<number> = []
      for (const size of sizes) {
        yield* commit(size)
        yield* Effect.sleep(2)
        seen.push((yield* fanout.backlog).framesMax)
      }
      expect(Math.max(...seen)).toBeLessThanOrEqual(bound)
      expect(laggard.cuts()).toBe(1)
      // Its frames are released with it.
      expect(yield* fanout.backlog).toEqual({ clients: 0, framesMax: 0 })
    }).pipe(Effect.provide(Registry.layerMemory())),
  )

  it.scopedLive("encodes each event once, whatever the number of clients", () =>
    Effect.gen(function* () {
      for (const clients of [1, 7]) {
        let encoded = 0
        const counted = (event: RegistryEvent) => {
          encoded++
          return encoder.encode(eventFrame(event))
        }
        yield* Effect.scoped(
          Effect.gen(function* () {
            const { fanout, commit } = yield* feed({ bufferFramesMax: 1_000, encodeEvent: counted })
            const readers = yield* Effect.forEach(range(1, clients), () => reader(fanout))
            yield* commit(5)
            yield* commit(7)
            yield* eventually(() => readers.every((r) => r.ids.length === 12))
            for (const r of readers) expect(r.ids).toEqual(range(1, 12))
            expect(encoded).toBe(12)
          }).pipe(Effect.provide(Registry.layerMemory())),
        )
      }
    }),
  )

  it.scopedLive("a cut client resuming after the last event it got receives every later one, once, in order", () =>
    Effect.gen(function* () {
      const { fanout, commit } = yield* feed({ bufferFramesMax: 4 })
      const first = yield* reader(fanout)
      yield* commit(3)
      yield* eventually(() => first.ids.length === 3)
      const laggard = yield* stalled(fanout, 1)
      yield* commit(10)
      yield* eventually(() => laggard.cuts() === 1)
      const resumed = yield* reader(fanout, 4)
      yield* commit(2)
      yield* eventually(() => resumed.ids.length === 12)
      expect(resumed.ids).toEqual(range(4, 15))
    }).pipe(Effect.provide(Registry.layerMemory())),
  )

  it.scopedLive("starts every stream with the reconnect delay and the id before its first event", () =>
    Effect.gen(function* () {
      const { fanout, commit } = yield* feed({ bufferFramesMax: 1_000 })
      yield* commit(3)
      const [live, from2] = [yield* reader(fanout), yield* reader(fanout, 2)]
      yield* commit(1)
      yield* eventually(() => live.ids.length === 1 && from2.ids.length === 3)
      expect(live.frames[0]).toBe(`retry: ${reconnectDelayMs}\nid: 3\n: connected`)
      expect(live.ids).toEqual([4])
      expect(from2.frames[0]).toBe(`retry: ${reconnectDelayMs}\nid: 1\n: connected`)
      expect(from2.ids).toEqual([2, 3, 4])
    }).pipe(Effect.provide(Registry.layerMemory())),
  )

  it.scoped(
    "a compaction that overtakes a catching-up client ends its stream with stream-error PositionCompacted, no path",
    () =>
      Effect.gen(function* () {
        const lastSeq = 10
        const firstSeq = 4
        const compacted = new StorageFailed({
          operation: "read",
          path: "/srv/secret/data/wal-0000000000000001.seg",
          reason: "Compacted",
          message: "seq 2 was compacted away; the log starts at seq 4",
        })
        // The log as a compaction left it after the client's start was checked: the feed is live at its end, and a
        // read from before `firstSeq` fails as the registry's subscription does.
        const registry = {
          stats: Effect.succeed({
            lastSeq,
            firstSeq,
            versions: 0,
            mailboxDepth: 0,
            batches: 0,
            appendedRecords: 0,
            compactions: 2,
          }),
          subscribe: (options?: { readonly from?: number }) =>
            (options?.from ?? lastSeq + 1) > lastSeq ? Stream.never : Stream.fail(compacted),
        }
        const stopping = yield* Deferred.make<void>()
        const fanout = yield* EventFanout.make(registry, { bufferFramesMax: 100, keepAliveMs: 3_600_000, stopping })
        const client = yield* reader(fanout, 2)
        yield* Fiber.join(client.fiber)
        expect(client.ids).toEqual([])
        expect(client.frames).toHaveLength(2)
        const [event, data] = client.frames[1]!.split("\n")
        expect(event).toBe("event: stream-error")
        expect(JSON.parse(data!.slice("data: ".length))).toEqual({
          error: {
            tag: "PositionCompacted",
            from: 2,
            firstSeq,
            message: `seq 2 was compacted away; the first event still available is seq ${firstSeq}`,
          },
        })
        expect(client.frames.join("\n")).not.toContain("/srv")
      }),
  )

  it("joins the feed without a gap or a duplicate, whenever a client connects and from wherever", async () => {
    type Step = { readonly commit: number } | { readonly connect: number | null } | { readonly yields: number }
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ commit: fc.integer({ min: 1, max: 6 }) }),
      // null: live only; n: from the n-th last committed seq (0: the next one, -1: one not committed yet).
      fc.record({ connect: fc.option(fc.integer({ min: -1, max: 12 })) }),
      fc.record({ yields: fc.integer({ min: 0, max: 4 }) }),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 20 }), (steps) =>
        Effect.runPromise(
          Effect.scoped(
            Effect.gen(function* () {
              const { fanout, commit, registry } = yield* feed({ bufferFramesMax: 1_000 })
              const clients: Array<{
                readonly from: number | undefined
                readonly ids: Array<number>
                readonly openId: () => number
              }> = []
              for (const s of steps) {
                if ("commit" in s) yield* commit(s.commit)
                else if ("yields" in s) for (let i = 0; i < s.yields; i++) yield* Effect.yieldNow()
                else {
                  const last = (yield* registry.stats).lastSeq
                  const from = s.connect === null ? undefined : Math.max(1, last + 1 - s.connect)
                  const client = yield* reader(fanout, from)
                  clients.push({ from, ids: client.ids, openId: client.openId })
                }
              }
              yield* commit(2)
              const last = (yield* registry.stats).lastSeq
              yield* eventually(() => clients.every((c) => c.ids.at(-1) === last))
              for (const c of clients) {
                // A live-only client starts after what the feed had handed out when it connected, which its open
                // frame names: resuming after that id loses nothing committed since.
                const start = c.from ?? c.openId() + 1
                expect(c.openId()).toBe(start - 1)
                expect(c.ids).toEqual(range(start, last))
              }
            }).pipe(Effect.provide(Registry.layerMemory())),
          ),
        ),
      ),
      { numRuns: 40 },
    )
  })
})
