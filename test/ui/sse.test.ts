/** The UI's SSE parser: however the body is cut into chunks, the same frames come out, in order. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { sseParser } from "../../ui/src/sse.ts"

const body =
  'retry: 1000\nid: 0\n: connected\n\nid: 1\nevent: Registered\ndata: {"seq":1}\n\n' +
  'id: 2\r\nevent: AliasSet\r\ndata: {"seq":\r\ndata: 2}\r\n\r\nevent: stream-error\ndata:{"error":1}\n\n'

const parse = (chunks: ReadonlyArray<string>) => {
  const frames: Array<{ id: string | null; event: string; data: string }> = []
  const retries: number[] = []
  const push = sseParser(
    (frame) => frames.push({ id: frame.id, event: frame.event, data: frame.data.join("\n") }),
    (ms) => retries.push(ms),
  )
  for (const chunk of chunks) push(chunk)
  return { frames, retries }
}

describe("sseParser", () => {
  it("reads ids, events, multi-line data, retry and comments", () => {
    expect(parse([body])).toEqual({
      retries: [1000],
      frames: [
        { id: "0", event: "message", data: "" },
        { id: "1", event: "Registered", data: '{"seq":1}' },
        { id: "2", event: "AliasSet", data: '{"seq":\n2}' },
        { id: null, event: "stream-error", data: '{"error":1}' },
      ],
    })
  })

  it("gives the same frames whatever the chunk boundaries", () => {
    const whole = parse([body])
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: body.length - 1 }), { maxLength: 12 }), (cuts) => {
        const points = [0, ...[...cuts].sort((a, b) => a - b), body.length]
        const chunks = points.slice(1).map((end, i) => body.slice(points[i], end))
        expect(parse(chunks)).toEqual(whole)
      }),
    )
  })
})
