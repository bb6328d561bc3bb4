/** SSE parsing for the remote `watch`: events, the open frame's id and retry without data, keep-alives dropped. */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { frames } from "../../src/cli/sseFrames.ts"

const parse = (chunks: ReadonlyArray<string>) =>
  Effect.map(Stream.runCollect(frames(Stream.fromIterable(chunks))), Chunk.toReadonlyArray)

describe("frames", () => {
  it.effect("gives the open frame's id and retry without an event, events with theirs, and drops comments", () =>
    Effect.gen(function* () {
      const parsed = yield* parse([
        "retry: 1000\nid: 4\n: connected\n\n",
        ": keep-alive\n\n",
        'id: 5\nevent: Registered\ndata: {"seq"',
        ':5}\n\nevent: stream-error\ndata: {"error":{}}\n\n',
        "retry: soon\nid: a\0b\n\n",
      ])
      expect(parsed).toEqual([
        { event: undefined, data: "", id: "4", retry: 1000 },
        { event: "Registered", data: '{"seq":5}', id: "5", retry: undefined },
        { event: "stream-error", data: '{"error":{}}', id: undefined, retry: undefined },
      ])
    }),
  )
})
