/**
 * Follows `/events` with the token. EventSource cannot send an Authorization header, so the stream is read with fetch
 * and parsed here: the few lines of the SSE format the server writes (id, event, data, retry, comments), which is
 * less than any library's wrapper around a fetch would add to the bundle. After a drop it reconnects with
 * `Last-Event-ID` (the last id seen), so every event arrives once, in order.
 */
import { authHeaders, errorOf, type RegistryEvent } from "./api.ts"

export type FeedStatus = "connecting" | "live" | "reconnecting" | "stopped"

export interface FeedHandlers {
  readonly onEvent: (event: RegistryEvent) => void
  readonly onStatus: (status: FeedStatus, detail: string) => void
  /** The last id seen, after every frame with an `id:` (including the stream's opening one). */
  readonly onId?: (id: string) => void
}

interface Frame {
  id: string | null
  event: string
  data: string[]
}

/** Splits a chunked SSE body into frames; call `push` with each decoded chunk. */
export const sseParser = (onFrame: (frame: Frame) => void, onRetry: (ms: number) => void) => {
  let buffer = ""
  let frame: Frame = { id: null, event: "message", data: [] }
  // A "\r" that ends the buffer may be half of a "\r\n": the next chunk tells.
  const lineEnd = () => {
    const at = buffer.search(/\r\n|\r|\n/)
    return at === buffer.length - 1 && buffer[at] === "\r" ? -1 : at
  }
  return (chunk: string) => {
    buffer += chunk
    let newline = lineEnd()
    while (newline >= 0) {
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1))
      if (line === "") {
        if (frame.id !== null || frame.data.length > 0) onFrame(frame)
        frame = { id: null, event: "message", data: [] }
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":")
        const field = colon < 0 ? line : line.slice(0, colon)
        const value = colon < 0 ? "" : line.slice(colon + (line[colon + 1] === " " ? 2 : 1))
        if (field === "id") frame.id = value
        else if (field === "event") frame.event = value
        else if (field === "data") frame.data.push(value)
        else if (field === "retry" && /^\d+$/.test(value)) onRetry(Number(value))
      }
      newline = lineEnd()
    }
  }
}

/** Follows the feed from `from` (a seq) or, when `lastId` is given, after it; returns a function that stops it. */
export const followEvents = (start: { from?: number; lastId?: string }, handlers: FeedHandlers): (() => void) => {
  let stopped = false
  let lastId = start.lastId ?? null
  let retryMs = 1000
  let controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined

  const connect = async (attempt: number) => {
    handlers.onStatus(attempt === 0 ? "connecting" : "reconnecting", "")
    controller = new AbortController()
    const headers: Record<string, string> = { ...authHeaders(), accept: "text/event-stream" }
    if (lastId !== null) headers["last-event-id"] = lastId
    const query = lastId === null && start.from !== undefined ? `?from=${start.from}` : ""
    try {
      const response = await fetch(`/events${query}`, { headers, signal: controller.signal, cache: "no-store" })
      if (!response.ok || !response.body) {
        const error = await errorOf(response)
        // A refusal (bad token, compacted start) will not change by retrying: say so and stop.
        if (response.status < 500 && response.status !== 429) {
          handlers.onStatus("stopped", `${error.tag}: ${error.message}`)
          stopped = true
          return
        }
        throw error
      }
      handlers.onStatus("live", attempt === 0 ? "" : `resumed after ${lastId ?? "the start"}`)
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      const push = sseParser(
        (frame) => {
          if (frame.id !== null) {
            lastId = frame.id
            handlers.onId?.(frame.id)
          }
          if (frame.data.length === 0) return
          if (frame.event === "stream-error") {
            handlers.onStatus("stopped", frame.data.join("\n"))
            stopped = true
            controller.abort()
            return
          }
          handlers.onEvent(JSON.parse(frame.data.join("\n")) as RegistryEvent)
        },
        (ms) => {
          retryMs = ms
        },
      )
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        push(value)
      }
      throw new Error("the server ended the stream")
    } catch (error) {
      if (stopped) return
      handlers.onStatus("reconnecting", error instanceof Error ? error.message : String(error))
      timer = setTimeout(() => void connect(attempt + 1), retryMs)
    }
  }
  void connect(0)
  return () => {
    stopped = true
    clearTimeout(timer)
    controller.abort()
  }
}
