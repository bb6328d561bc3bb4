/**
 * Server-Sent Events parsing for the remote `watch`: text in, frames out, each with what a reconnecting client
 * needs besides the event (the id to resume after, the reconnect delay the server asks for).
 */
import { Stream } from "effect"

export interface Frame {
  /** The event's name; `undefined` for a frame without data, which carries only `id` or `retry`. */
  readonly event: string | undefined
  readonly data: string
  /** The frame's `id:` field: the last event id from here on. */
  readonly id: string | undefined
  /** The frame's `retry:` field: how long to wait before reconnecting, in ms. */
  readonly retry: number | undefined
}

interface PendingFrame {
  readonly event: string
  readonly data: ReadonlyArray<string>
  readonly id: string | undefined
  readonly retry: number | undefined
  /** Whether any field was seen: a block of comments only (a keep-alive) is no frame. */
  readonly fields: boolean
}

const emptyFrame: PendingFrame = { event: "message", data: [], id: undefined, retry: undefined, fields: false }

const complete = (acc: PendingFrame): ReadonlyArray<Frame> => {
  if (!acc.fields) return []
  const hasData = acc.data.length > 0
  return [{ event: hasData ? acc.event : undefined, data: acc.data.join("\n"), id: acc.id, retry: acc.retry }]
}

/** One SSE line into the frame being built; a blank line completes it. Comments (keep-alives) are dropped. */
const step = (acc: PendingFrame, line: string): readonly [PendingFrame, ReadonlyArray<Frame>] => {
  if (line === "") return [emptyFrame, complete(acc)]
  if (line.startsWith(":")) return [acc, []]
  const colon = line.indexOf(":")
  const field = colon === -1 ? line : line.slice(0, colon)
  const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "")
  const seen = { ...acc, fields: true }
  if (field === "event") return [{ ...seen, event: value }, []]
  if (field === "data") return [{ ...seen, data: [...acc.data, value] }, []]
  // As the SSE specification says: an id containing NUL is ignored, and so is a retry that is not all digits.
  if (field === "id" && !value.includes("\0")) return [{ ...seen, id: value }, []]
  if (field === "retry" && /^[0-9]+$/.test(value)) return [{ ...seen, retry: Number(value) }, []]
  return [acc, []]
}

export const frames = <E>(text: Stream.Stream<string, E>): Stream.Stream<Frame, E> =>
  text.pipe(Stream.splitLines, Stream.mapAccum(emptyFrame, step), Stream.flattenIterables)
