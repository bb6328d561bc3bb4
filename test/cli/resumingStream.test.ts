/**
 * The remote `watch` across dropped connections, over scripted connections and the test clock: it resumes after
 * the last id the server sent, so the events come once each and in order; it says so once per outage; it waits
 * the server's `retry:` and backs off; it gives up after `giveUpAfterMs` without a server; and a refusal ends it at
 * once.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Clock, Effect, Exit, Fiber, Option, Stream, TestClock } from "effect"
import { CliFailure } from "../../src/cli/client.ts"
import { Dropped, type ResumeOptions, resuming } from "../../src/cli/resumingStream.ts"
import type { Frame } from "../../src/cli/sseFrames.ts"
import { failureOf } from "../../src/testing/exits.ts"

const open = (id: number, retry = 100): Frame => ({ event: undefined, data: "", id: String(id), retry })
const event = (seq: number): Frame => ({
  event: "Registered",
  data: `{"seq":${seq}}`,
  id: String(seq),
  retry: undefined,
})

type Attempt = { readonly frames: ReadonlyArray<Frame>; readonly ending: "drop" | "stay" } | "refused" | CliFailure

/** Connections that follow `script`, one entry per attempt, recording what each was asked and when. */
const scripted = (script: ReadonlyArray<Attempt>) => {
  const asked: Array<{ readonly after: string | undefined; readonly atMs: number }> = []
  const notices: Array<string> = []
  const connect: ResumeOptions["connect"] = (lastEventId) =>
    Effect.gen(function* () {
      const attempt = script[asked.length] ?? "refused"
      asked.push({ after: Option.getOrUndefined(lastEventId), atMs: yield* Clock.currentTimeMillis })
      if (attempt === "refused") return yield* new Dropped({ reason: "connect ECONNREFUSED" })
      if (attempt instanceof CliFailure) return yield* attempt
      const frames = Stream.fromIterable(attempt.frames)
      return attempt.ending === "stay"
        ? Stream.concat(frames, Stream.never)
        : Stream.concat(frames, Stream.fail(new Dropped({ reason: "the connection broke" })))
    })
  const options = (giveUpAfterMs: number): ResumeOptions => ({
    connect,
    giveUpAfterMs,
    reconnectDelayMs: 1_000,
    notice: (message) => Effect.sync(() => void notices.push(message)),
    server: "http://server",
  })
  return { asked, notices, options }
}

const compacted = new CliFailure({
  detail: { tag: "PositionCompacted", message: "seq 1 was compacted away", from: 1, firstSeq: 4 },
})

describe("resuming", () => {
  it.effect("resumes after the last id the server sent: every event once, in order, one notice per outage", () =>
    Effect.gen(function* () {
      const { asked, notices, options } = scripted([
        { frames: [open(0), event(1), event(2)], ending: "drop" },
        "refused",
        "refused",
        { frames: [open(2), event(3)], ending: "drop" },
        { frames: [open(3), event(4)], ending: "stay" },
      ])
      const fiber = yield* resuming(options(60_000)).pipe(Stream.take(4), Stream.runCollect, Effect.fork)
      yield* TestClock.adjust("1 minute")
      const frames = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      expect(frames.map((frame) => frame.id)).toEqual(["1", "2", "3", "4"])
      expect(asked.map((a) => a.after)).toEqual([undefined, "2", "2", "2", "3"])
      // The server's retry (100 ms) first, then doubled per failed attempt; back at the server's after a success.
      expect(asked.map((a) => a.atMs)).toEqual([0, 100, 300, 700, 800])
      expect(notices).toEqual([
        "lost http://server: the connection broke; resuming after seq 2",
        "lost http://server: the connection broke; resuming after seq 3",
      ])
    }),
  )

  it.effect("gives up once the server has been unreachable for giveUpAfterMs, saying where to resume", () =>
    Effect.gen(function* () {
      const { asked, notices, options } = scripted([{ frames: [open(0), event(1)], ending: "drop" }])
      const fiber = yield* resuming(options(10_000)).pipe(Stream.runDrain, Effect.exit, Effect.fork)
      yield* TestClock.adjust("1 minute")
      const exit = yield* Fiber.join(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(failureOf(exit)).toMatchObject({
        detail: {
          tag: "Unavailable",
          message: "gave up after 10 s without http://server: connect ECONNREFUSED (resume after seq 1)",
        },
      })
      // Waits never pass 5 s, nor the time left before giving up.
      expect(asked.map((a) => a.atMs)).toEqual([0, 100, 300, 700, 1_500, 3_100, 6_300, 10_000])
      expect(notices).toEqual(["lost http://server: the connection broke; resuming after seq 1"])
    }),
  )

  it.effect("with giveUpAfterMs 0, a server unreachable at the start ends it at once", () =>
    Effect.gen(function* () {
      const { asked, notices, options } = scripted([])
      const exit = yield* resuming(options(0)).pipe(Stream.runDrain, Effect.exit)
      expect(failureOf(exit)).toMatchObject({ detail: { tag: "Unavailable" } })
      expect(asked).toHaveLength(1)
      expect(notices).toEqual(["cannot reach http://server: connect ECONNREFUSED; retrying"])
    }),
  )

  it.effect("a refusal retrying cannot change ends it at once, even after a drop", () =>
    Effect.gen(function* () {
      const { asked, options } = scripted([{ frames: [open(0), event(1)], ending: "drop" }, compacted])
      const fiber = yield* resuming(options(60_000)).pipe(Stream.runCollect, Effect.exit, Effect.fork)
      yield* TestClock.adjust("1 minute")
      const exit = yield* Fiber.join(fiber)
      expect(failureOf(exit)).toBe(compacted)
      expect(asked).toHaveLength(2)
    }),
  )
})
