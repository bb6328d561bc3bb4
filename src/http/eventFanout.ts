/**
 * The server's one live feed of `/events`. A stream per client over the registry's subscription encodes every
 * event once per client and wakes every client's fibers on every commit: with 200 readers a server fell from
 * ~2,000 to ~60 registers/s (bench/results/issue-19-sse-readers.md). Here one fiber follows the registry, encodes each
 * event once into frame bytes, and hands the same bytes to every client's bounded queue; a client drains its
 * queue as fast as its socket takes the bytes. A client whose queue is full is cut (the caller closes its
 * connection): it reconnects with `Last-Event-ID` and catches up from the log, so nothing is lost and nobody waits
 * for it, neither the registry nor the other clients.
 *
 * A client that asks for a `from` first catches up on its own, reading the registry's cursor up to the feed's
 * position, and joins the feed in the same synchronous step that finds it has reached that position: the feed
 * only moves in whole steps between which no client code runs, so the seam has no gap and no duplicate.
 */
import { Chunk, Deferred, Effect, Metric, Option, Schedule, type Scope, Stream } from "effect"
import { InvalidInput, PositionCompacted } from "../domain/errors.ts"
import type { RegistryEvent } from "../domain/RegistryEvent.ts"
import type { ModelRegistry } from "../effects/ModelRegistry.ts"
import { eventFrame, keepAliveFrame, openFrame, streamErrorFrame } from "./sse.ts"

export interface EventFanoutOptions {
  /** Frames a client may have queued (events and keep-alives) before it is cut. */
  readonly bufferFramesMax: number
  readonly keepAliveMs: number
  /** Completed when shutdown starts: every stream ends. */
  readonly stopping: Deferred.Deferred<void>
  /**
   * The feed hands out at most one step per interval while events keep coming (the first after a quiet spell goes
   * out at once): each client then gets one write per interval, not one per commit. `defaultFlushIntervalMs`
   * when absent.
   */
  readonly flushIntervalMs?: number
  /** How an event becomes frame bytes; injectable so a test can count encodings. */
  readonly encodeEvent?: (event: RegistryEvent) => Uint8Array
}

export interface EventFanout {
  /**
   * One client's frames: the open frame, then every event from `from` on (live only when `undefined`), in seq
   * order, with keep-alive comments between, until shutdown, the registry closing, or a failure (sent as a
   * `stream-error` frame, which ends the stream; a compaction that overtook the client is `PositionCompacted`). `cut` is called once if the client falls `bufferFramesMax` frames behind: the
   * stream is over and the caller must close the connection, since the client may be reading nothing at all.
   */
  readonly frames: (from: number | undefined, cut: () => void) => Stream.Stream<Uint8Array>
  /** Clients on the feed, and the most frames any of them has queued. */
  readonly backlog: Effect.Effect<{ readonly clients: number; readonly framesMax: number }>
}

/** The most bytes one pull hands the socket: bounds what waits in the socket's own buffer beside our queue. */
export const pullBytesMax = 64 * 1024

/** Events a catching-up client reads from the registry per pull. */
const catchUpEventsMax = 1_024

export { defaultBufferFramesMax } from "./serverDefaults.ts"
/**
 * Each write to a client costs the server ~60 µs (a fiber wake, a stream pull, a chunked write, the network path)
 * whatever its size, so readers cost clients × steps per second, and the interval bounds the steps: at 100 ms,
 * 150 readers cost ~0.5 ms of server CPU per register at ~350 registers/s (bench/results/issue-19-sse-readers.md).
 */
export const defaultFlushIntervalMs = 250
const bufferFramesMaxLimit = 1 << 24

const clientsGauge = Metric.gauge("sse_clients", { description: "open /events streams" })
const encodedCounter = Metric.counter("sse_frames_encoded_total", {
  description: "events encoded for the live /events feed (once each, whatever the number of clients)",
})
const backlogGauge = Metric.gauge("sse_backlog_frames_max", {
  description: "the most frames an /events client had queued after the feed's last step (bounded by the buffer)",
})
const cutCounter = Metric.counter("sse_clients_cut_total", {
  description: "/events clients disconnected for falling a full buffer behind (they resume with Last-Event-ID)",
})

const encoder = new TextEncoder()
const keepAliveBytes = encoder.encode(keepAliveFrame)
const encodeEventDefault = (event: RegistryEvent): Uint8Array => encoder.encode(eventFrame(event))

const concat = (frames: ReadonlyArray<Uint8Array>, from: number, to: number): Uint8Array => {
  if (to - from === 1) return frames[from]!
  let length = 0
  for (let i = from; i < to; i++) length += frames[i]!.length
  const out = new Uint8Array(length)
  let offset = 0
  for (let i = from; i < to; i++) {
    out.set(frames[i]!, offset)
    offset += frames[i]!.length
  }
  return out
}

/**
 * One step of the feed: its frames, and their bytes joined once for all the clients that take the whole step, so
 * a client's write is a reference to shared bytes rather than a copy.
 */
class Step {
  private joinedBytes: Uint8Array | undefined = undefined

  constructor(
    readonly frames: ReadonlyArray<Uint8Array>,
    /** The frames' event seqs; `undefined` for comments. */
    readonly seqs: ReadonlyArray<number> | undefined,
  ) {}

  get joined(): Uint8Array {
    if (this.joinedBytes === undefined) this.joinedBytes = concat(this.frames, 0, this.frames.length)
    return this.joinedBytes
  }
}

/** One connected client: its queue of shared bytes, where it is, and the fiber waiting to write. */
class Client {
  private chunks: Array<Uint8Array>
  /** Frames in each queued chunk: the bound counts frames. */
  private counts: Array<number> = [1]
  private head = 0
  private framesQueued = 1
  private waiter: (() => void) | undefined = undefined
  /** Set once the stream is to end after the queue (shutdown, registry closed or failed), or at once (cut). */
  done = false
  /** The next seq to read from the registry while catching up; `undefined` once on the feed. */
  next: number | undefined
  /** Events below this seq are skipped: a client that asked for a seq the feed has not reached yet. */
  skipBelow = 0

  constructor(
    next: number | undefined,
    readonly cut: () => void,
    open: Uint8Array,
  ) {
    this.next = next
    this.chunks = [open]
  }

  get queued(): number {
    return this.framesQueued
  }

  /** Queues a step; false if it does not fit in `max` frames, and then nothing is queued. */
  offer(step: Step, max: number): boolean {
    let start = 0
    if (step.seqs !== undefined && this.skipBelow > 0) {
      while (start < step.seqs.length && step.seqs[start]! < this.skipBelow) start++
      if (start === step.seqs.length) return true
      this.skipBelow = 0
    }
    const count = step.frames.length - start
    if (this.framesQueued + count > max) return false
    this.append(start === 0 ? step.joined : concat(step.frames, start, step.frames.length), count)
    return true
  }

  /** Queues a last frame beyond the bound: the stream ends after it. */
  append(bytes: Uint8Array, count = 1): void {
    this.chunks.push(bytes)
    this.counts.push(count)
    this.framesQueued += count
    this.wake()
  }

  end(): void {
    this.done = true
    this.wake()
  }

  drop(): void {
    this.chunks = []
    this.counts = []
    this.head = 0
    this.framesQueued = 0
    this.end()
  }

  /** The queued bytes as one write, up to `pullBytesMax` (at least one chunk). */
  take(): Uint8Array {
    let to = this.head
    let bytes = 0
    while (to < this.chunks.length && (to === this.head || bytes + this.chunks[to]!.length <= pullBytesMax)) {
      bytes += this.chunks[to]!.length
      this.framesQueued -= this.counts[to]!
      to++
    }
    const out = concat(this.chunks, this.head, to)
    if (to === this.chunks.length) {
      this.chunks = []
      this.counts = []
      this.head = 0
    } else this.head = to
    return out
  }

  readonly waitForFrames: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.framesQueued > 0 || this.done) resume(Effect.void)
    else this.waiter = () => resume(Effect.void)
  })

  private wake(): void {
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.()
  }

  forget(): void {
    this.waiter = undefined
  }
}

const end = Effect.fail(Option.none())

type SubscribeError = Stream.Stream.Error<ReturnType<ModelRegistry["subscribe"]>>

export const make = (
  registry: Pick<ModelRegistry, "subscribe" | "stats">,
  options: EventFanoutOptions,
): Effect.Effect<EventFanout, InvalidInput, Scope.Scope> =>
  Effect.gen(function* () {
    const max = options.bufferFramesMax
    if (!Number.isInteger(max) || max < 1 || max > bufferFramesMaxLimit)
      return yield* Effect.fail(
        new InvalidInput({
          field: "eventBufferFramesMax",
          message: `eventBufferFramesMax: must be an integer from 1 to ${bufferFramesMaxLimit}`,
        }),
      )
    const encode = options.encodeEvent ?? encodeEventDefault
    const flushIntervalMs = options.flushIntervalMs ?? defaultFlushIntervalMs
    const pace = flushIntervalMs > 0 ? Effect.sleep(flushIntervalMs) : Effect.void
    const clients = new Set<Client>()
    /** The last seq handed to the clients on the feed. */
    let position = (yield* registry.stats).lastSeq
    /** Set when the feed is over; `ending` is the frame every later client gets before its stream ends. */
    let over = false
    let ending: Uint8Array | undefined

    /** A compaction that overtook a reader, told as such: the seq it wanted and where it may start over. */
    const explained = (error: SubscribeError, from: number): Effect.Effect<unknown> =>
      error._tag === "StorageFailed" && error.reason === "Compacted"
        ? Effect.map(registry.stats, ({ firstSeq }) => new PositionCompacted({ from, firstSeq }))
        : Effect.succeed(error)

    const cutOff = (client: Client) => {
      clients.delete(client)
      client.drop()
      client.cut()
    }

    const backlogFramesMax = () => {
      let most = 0
      for (const client of clients) most = Math.max(most, client.queued)
      return most
    }

    const distribute = (events: ReadonlyArray<RegistryEvent>): number => {
      position = events[events.length - 1]!.seq
      if (clients.size === 0) return 0
      const step = new Step(
        events.map(encode),
        events.map((event) => event.seq),
      )
      let cuts = 0
      for (const client of clients)
        if (!client.offer(step, max)) {
          cutOff(client)
          cuts++
        }
      return cuts
    }

    const finish = (frame: Uint8Array | undefined) =>
      Effect.sync(() => {
        if (over) return
        over = true
        ending = frame
        for (const client of clients) {
          if (frame !== undefined) client.append(frame)
          client.end()
        }
        clients.clear()
      })

    yield* registry.subscribe({ from: position + 1 }).pipe(
      Stream.runForEachChunk((chunk) =>
        Effect.suspend(() => {
          const events = Chunk.toReadonlyArray(chunk)
          const cuts = distribute(events)
          if (clients.size === 0 && cuts === 0) return Effect.void
          // Meanwhile the registry's cursor holds what is committed, and the next step takes all of it at once.
          return Effect.all(
            [
              Metric.incrementBy(encodedCounter, events.length),
              Metric.set(backlogGauge, backlogFramesMax()),
              cuts === 0 ? Effect.void : Metric.incrementBy(cutCounter, cuts),
              pace,
            ],
            { discard: true },
          )
        }),
      ),
      Effect.matchEffect({
        onSuccess: () => finish(undefined),
        onFailure: (error) =>
          Effect.flatMap(explained(error, position + 1), (told) => finish(encoder.encode(streamErrorFrame(told)))),
      }),
      Effect.forkScoped,
    )

    const keepAliveStep = new Step([keepAliveBytes], undefined)
    const keepAlive = Effect.sync(() => {
      for (const client of clients) if (!client.offer(keepAliveStep, max)) cutOff(client)
    })
    yield* Effect.repeat(keepAlive, Schedule.spaced(options.keepAliveMs)).pipe(
      Effect.delay(options.keepAliveMs),
      Effect.forkScoped,
    )

    // At shutdown a client with nothing queued ends cleanly; one with frames queued may be reading nothing, and
    // its stream could only end after its socket drained, so it is cut and catches up when it reconnects.
    yield* Deferred.await(options.stopping).pipe(
      Effect.zipRight(
        Effect.sync(() => {
          for (const client of clients) if (client.queued > 0) cutOff(client)
        }),
      ),
      Effect.zipRight(finish(undefined)),
      Effect.forkScoped,
    )

    const join = (client: Client, from: number) => {
      client.next = undefined
      if (over) {
        if (ending !== undefined) client.append(ending)
        client.end()
        return
      }
      if (from > position + 1) client.skipBelow = from
      clients.add(client)
    }

    const catchUp = (client: Client, next: number): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<never>> => {
      const upTo = position
      if (next > upTo || over) {
        join(client, next)
        return pull(client)
      }
      return registry.subscribe({ from: next }).pipe(
        Stream.take(Math.min(upTo - next + 1, catchUpEventsMax)),
        Stream.runCollect,
        Effect.matchEffect({
          onSuccess: (events) => {
            const frames = Chunk.toReadonlyArray(events).map(encode)
            client.next = next + frames.length
            return Effect.succeed(Chunk.of(concat(frames, 0, frames.length)))
          },
          onFailure: (error) => {
            client.next = undefined
            client.end()
            return Effect.map(explained(error, next), (told) => Chunk.of(encoder.encode(streamErrorFrame(told))))
          },
        }),
      )
    }

    const pull = (client: Client): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<never>> =>
      Effect.suspend(() => {
        if (client.queued > 0) return Effect.succeed(Chunk.of(client.take()))
        if (client.done) return end
        if (client.next !== undefined) return catchUp(client, client.next)
        return Effect.zipRight(client.waitForFrames, pull(client))
      })

    const frames = (from: number | undefined, cut: () => void): Stream.Stream<Uint8Array> =>
      Stream.suspend(() => {
        const first = from ?? position + 1
        const client = new Client(from, cut, encoder.encode(openFrame(first)))
        if (from === undefined) join(client, first)
        return Stream.repeatEffectChunkOption(pull(client)).pipe(
          Stream.ensuring(
            Effect.zipRight(
              Effect.sync(() => {
                clients.delete(client)
                client.forget()
              }),
              Metric.incrementBy(clientsGauge, -1),
            ),
          ),
          Stream.onStart(Metric.incrementBy(clientsGauge, 1)),
        )
      })

    return {
      frames,
      backlog: Effect.sync(() => ({ clients: clients.size, framesMax: backlogFramesMax() })),
    }
  })
