/**
 * The remote `watch` across dropped connections. An event stream is one long request, and a server restart, a
 * network failure, or the server cutting a client that fell behind all end it; the events go on. So a dropped
 * stream is reconnected with `Last-Event-ID` set to the last id the server sent (the open frame's id when no event
 * came yet), which makes the server resume exactly after it: no gap and no duplicate. Reconnecting waits the delay
 * the server asked for (`retry:`), doubled after each failed attempt up to `reconnectDelayMsMax`; a server still
 * unreachable `giveUpAfterMs` after the first failure ends the stream with `Unavailable`. A refusal that retrying
 * cannot change (a 410 for a compacted position, a rejected token) is the connector's `CliFailure`, and ends it at
 * once.
 */
import { Clock, Data, Effect, Option, type Scope, Stream } from "effect"
import { edgeError } from "../effects/errorStatus.ts"
import { CliFailure } from "./client.ts"
import type { Frame } from "./sseFrames.ts"

/** A connection that failed or ended in a way a later one may not: the server is away, not refusing. */
export class Dropped extends Data.TaggedError("Dropped")<{ readonly reason: string }> {}

export interface ResumeOptions {
  /**
   * Opens the stream after `lastEventId` (from the start the caller asked for when `None`): its frames, which fail
   * with `Dropped` when the connection does.
   */
  readonly connect: (
    lastEventId: Option.Option<string>,
  ) => Effect.Effect<Stream.Stream<Frame, Dropped>, Dropped | CliFailure, Scope.Scope>
  /** How long the server may stay unreachable, from the first failed attempt, before the stream fails. */
  readonly giveUpAfterMs: number
  /** The wait before the first reconnect until the server sends its own `retry:`. */
  readonly reconnectDelayMs: number
  /** Told once per outage, when it starts (the caller prints one line on stderr). */
  readonly notice: (message: string) => Effect.Effect<void>
  /** Names the server in messages. */
  readonly server: string
}

/** The longest wait between two attempts: a server back from a restart is found within this. */
export const reconnectDelayMsMax = 5_000

/** The frames that carry an event, from every connection in turn, until a refusal or giving up. */
export const resuming = (options: ResumeOptions): Stream.Stream<Frame, CliFailure> => {
  let lastEventId: Option.Option<string> = Option.none()
  let reconnectDelayMs = options.reconnectDelayMs
  /** Why the last connection ended; `undefined` before the first. */
  let ended: Dropped | undefined

  const remember = (frame: Frame) =>
    Effect.sync(() => {
      if (frame.id !== undefined) lastEventId = Option.some(frame.id)
      if (frame.retry !== undefined) reconnectDelayMs = frame.retry
    })

  const position = () =>
    Option.match(lastEventId, { onNone: () => "from the start asked for", onSome: (id) => `after seq ${id}` })

  const gaveUp = (dropped: Dropped, downMs: number) =>
    new CliFailure({
      detail: edgeError(
        "Unavailable",
        `gave up after ${Math.round(downMs / 1000)} s without ${options.server}: ${dropped.reason} (resume ${position()})`,
      ),
    })

  /** Attempts until one connects; `downSince` is when this outage began, `attempt` the failures in it so far. */
  const connect = (
    downSince: number | undefined,
    attempt: number,
  ): Effect.Effect<Stream.Stream<Frame, Dropped>, CliFailure, Scope.Scope> =>
    Effect.catchTag(options.connect(lastEventId), "Dropped", (dropped) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const since = downSince ?? now
        if (downSince === undefined)
          yield* options.notice(`cannot reach ${options.server}: ${dropped.reason}; retrying`)
        const downMs = now - since
        if (downMs >= options.giveUpAfterMs) return yield* Effect.fail(gaveUp(dropped, downMs))
        yield* Effect.sleep(backoff(attempt, options.giveUpAfterMs - downMs))
        return yield* connect(since, attempt + 1)
      }),
    )

  const backoff = (attempt: number, leftMs: number) =>
    Math.min(reconnectDelayMs * 2 ** attempt, reconnectDelayMsMax, leftMs)

  const session = Stream.unwrapScoped(
    Effect.gen(function* () {
      const previous = ended
      let downSince: number | undefined
      if (previous !== undefined) {
        yield* options.notice(`lost ${options.server}: ${previous.reason}; resuming ${position()}`)
        downSince = yield* Clock.currentTimeMillis
        yield* Effect.sleep(backoff(0, options.giveUpAfterMs))
      }
      const frames = yield* connect(downSince, previous === undefined ? 0 : 1)
      ended = undefined
      return frames.pipe(
        Stream.tap(remember),
        Stream.filter((frame) => frame.event !== undefined),
        // An event stream has no end: one that ends is a connection the server closed (a shutdown, say).
        Stream.concat(Stream.fail(new Dropped({ reason: "the server ended the stream" }))),
        Stream.catchTag("Dropped", (dropped) =>
          Stream.execute(
            Effect.sync(() => {
              ended = dropped
            }),
          ),
        ),
      )
    }),
  )

  return Stream.flatten(Stream.repeatEffect(Effect.succeed(session)))
}
