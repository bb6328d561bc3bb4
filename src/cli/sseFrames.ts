/** Server-Sent Events parsing for the remote `watch`: text in, `{ event, data }` frames out. */
import { Stream } from "effect"

interface Frame {
  readonly event: string
  readonly data: string
}

interface PendingFrame {
  readonly event: string
  readonly data: ReadonlyArray<string>
}

const emptyFrame: PendingFrame = { event: "message", data: [] }

/** One SSE line into the frame being built; a blank line completes it. Comments (keep-alives) are dropped. */
const step = (acc: PendingFrame, line: string): readonly [PendingFrame, ReadonlyArray<Frame>] => {
  if (line === "") return [emptyFrame, acc.data.length === 0 ? [] : [{ event: acc.event, data: acc.data.join("\n") }]]
  if (line.startsWith(":")) return [acc, []]
  const colon = line.indexOf(":")
  const field = colon === -1 ? line : line.slice(0, colon)
  const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "")
  if (field === "event") return [{ ...acc, event: value }, []]
  if (field === "data") return [{ ...acc, data: [...acc.data, value] }, []]
  return [acc, []]
}

export const frames = <E>(text: Stream.Stream<string, E>): Stream.Stream<Frame, E> =>
  text.pipe(Stream.splitLines, Stream.mapAccum(emptyFrame, step), Stream.flattenIterables)
