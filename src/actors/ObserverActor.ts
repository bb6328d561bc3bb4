/**
 * Supervised observers. Each observer is its own fiber reading its own subscription, so a
 * throwing, hanging or slow handler only ever delays itself: the registry's batch loop never waits for it.
 *
 * Delivery is at-least-once and in seq order. The cursor is made durable (through the `CursorStore` port)
 * after each handled chunk (unless the observer keeps it in memory, see `ObserverOptions.cursor`), so a crash
 * redelivers at most the chunk in flight; handlers get the seq to deduplicate. A handler that keeps failing is
 * retried with exponential backoff; after `maxAttempts` the event (or chunk) goes to the observer's dead-letter file
 * and the observer moves on.
 */
import {
  Cause,
  type Chunk,
  Duration,
  Effect,
  Fiber,
  FiberRef,
  Metric,
  MetricLabel,
  Option,
  Schedule,
  type Scope,
  Stream,
} from "effect"
import { decodeModelName } from "../domain/decode.ts"
import { InvalidInput, RegistryClosed, StorageFailed } from "../domain/errors.ts"
import type { RegistryEvent } from "../domain/RegistryEvent.ts"
import type { AppendSink } from "../storage/AppendSink.ts"
import type { CursorStore } from "../storage/CursorStore.ts"
import type { ObserverLease } from "../storage/ObserverLease.ts"
import type { SubscribeError } from "./subscription.ts"

export interface ObserverOptions {
  /** Where a new observer (one with no stored cursor) starts: seq 1 (default) or only events after now. */
  readonly from?: "beginning" | "now"
  /** Attempts per event (or chunk), the first included, before it is dead-lettered; `Infinity` never gives up. */
  readonly maxAttempts?: number
  /** Delay before the first retry; each later retry doubles it, up to `retryDelayMax`. */
  readonly retryDelay?: Duration.DurationInput
  readonly retryDelayMax?: Duration.DurationInput
  /** A handler attempt running longer than this counts as failed, so a hanging handler cannot stall forever. */
  readonly attemptTimeout?: Duration.DurationInput
  /**
   * `"saved"` (default): the cursor is made durable after each handled chunk, and a restart resumes from it.
   * `"memory"`: it is kept in this process only, and every start begins where `from` says. For an observer whose
   * effects live only in the process (the built-in metrics counters), a saved cursor buys nothing and costs an
   * atomic file replace (two fsyncs) per chunk, which at one write in flight is one per write.
   */
  readonly cursor?: "saved" | "memory"
}

/**
 * How events reach the handler: one at a time, or as the chunks the subscription delivers (fewer fsyncs). A
 * `Counter` is a built-in's plain function over each chunk that cannot fail, block or hang (the metrics counters):
 * it runs without the attempt timeout and retries, whose race of two fibers and a timer per chunk cost more than
 * the counting (bench/results/issue-15-server.md).
 */
export type Delivery<E> =
  | { readonly _tag: "Event"; readonly handle: (event: RegistryEvent) => Effect.Effect<void, E> }
  | { readonly _tag: "Chunk"; readonly handle: (events: ReadonlyArray<RegistryEvent>) => Effect.Effect<void, E> }
  | { readonly _tag: "Counter"; readonly count: (events: ReadonlyArray<RegistryEvent>) => Effect.Effect<void> }

export interface ObserverStatus {
  readonly name: string
  /** Highest seq handled (or dead-lettered) and made durable in the cursor. */
  readonly cursor: number
  readonly delivered: number
  readonly retries: number
  readonly deadLettered: number
  /** Set once the observer stopped for good: the registry failed or closed. */
  readonly stopped: Option.Option<StorageFailed | RegistryClosed | SubscribeError>
  /** Times the observer resumed from its cursor after its own storage or log read failed. */
  readonly restarts: number
  /** The failure behind the latest restart. */
  readonly lastError: Option.Option<StorageFailed | RegistryClosed | SubscribeError>
}

export interface ObserverHandle {
  readonly status: Effect.Effect<ObserverStatus>
  /** Waits until the observer's durable cursor reaches `seq` (or the observer stopped). */
  readonly awaitSeq: (seq: number) => Effect.Effect<void>
}

export const deadLetterCounter = Metric.counter("registry_observer_dead_letters_total", {
  description: "events an observer gave up on after maxAttempts",
})
export const observerLag = Metric.gauge("registry_observer_lag", {
  description: "committed seq minus the observer's durable cursor",
})

export const observerPaths = {
  cursor: (name: string) => `observers/${name}.cursor`,
  deadLetters: (name: string) => `observers/${name}.dead.ndjson`,
}

const utf8 = new TextEncoder()
/** Reads of the stored cursor tried before `observe` gives up. */
const startAttemptsMax = 5
const closedReason = new RegistryClosed()

type StopReason = StorageFailed | RegistryClosed | SubscribeError

/** The observer's retry and timeout settings, checked. */
const retryPolicy = (name: string, settings: ObserverOptions) =>
  Effect.gen(function* () {
    if (Option.isNone(Option.getRight(decodeModelName(name))))
      return yield* new InvalidInput({ field: "observer", message: "observer: names follow the model-name rules" })
    const maxAttempts = settings.maxAttempts ?? 5
    if (maxAttempts !== Number.POSITIVE_INFINITY && (!Number.isInteger(maxAttempts) || maxAttempts < 1))
      return yield* new InvalidInput({
        field: "maxAttempts",
        message: "maxAttempts: must be a positive integer or Infinity",
      })
    const retryDelay = Duration.decode(settings.retryDelay ?? "100 millis")
    const retryDelayMax = Duration.decode(settings.retryDelayMax ?? "5 seconds")
    const backoff = Schedule.exponential(retryDelay).pipe(Schedule.either(Schedule.spaced(retryDelayMax)))
    const handlerRetries: Schedule.Schedule<unknown> =
      maxAttempts === Number.POSITIVE_INFINITY
        ? backoff
        : backoff.pipe(Schedule.intersect(Schedule.recurs(maxAttempts - 1)))
    const attemptTimeout = Duration.decode(settings.attemptTimeout ?? "30 seconds")
    return { maxAttempts, backoff, handlerRetries, attemptTimeout }
  })

interface Counts {
  delivered: number
  retries: number
  deadLettered: number
  restarts: number
}

/** Runs a handler attempt until it succeeds or the retries are spent; a throw or a timeout counts as a failure. */
const retrying =
  (attemptTimeout: Duration.Duration, retries: Schedule.Schedule<unknown>, counts: Counts) =>
  <E>(attempt: Effect.Effect<void, E>) =>
    Effect.suspend(() => attempt).pipe(
      Effect.timeoutFail({
        duration: attemptTimeout,
        onTimeout: () => `timed out after ${Duration.format(attemptTimeout)}`,
      }),
      Effect.sandbox,
      Effect.tapError(() => Effect.sync(() => counts.retries++)),
      Effect.retry(retries),
    )

/** Writes events the handler gave up on to the observer's dead-letter file. */
const deadLetterer = (name: string, maxAttempts: number, sink: AppendSink, counts: Counts) => {
  const deadLetters = deadLetterCounter.pipe(Metric.tagged("observer", name))
  return (events: ReadonlyArray<RegistryEvent>, cause: Cause.Cause<unknown>) =>
    Effect.gen(function* () {
      // The handler's own failure, not ours. An interruption (shutdown) is passed on, never dead-lettered.
      if (Cause.isInterruptedOnly(cause)) return yield* Effect.failCause(cause as Cause.Cause<never>)
      counts.retries -= 1
      const error = Cause.pretty(cause).slice(0, 4_096)
      const lines = events.map(
        (event) => `${JSON.stringify({ observer: name, seq: event.seq, attempts: maxAttempts, error, event })}\n`,
      )
      yield* sink.append(observerPaths.deadLetters(name), utf8.encode(lines.join("")))
      yield* Metric.update(deadLetters, events.length)
      counts.deadLettered += events.length
    })
}

const leaseLost = (name: string) =>
  new StorageFailed({
    operation: "observer-lease",
    path: observerPaths.cursor(name),
    reason: "LockLost",
    message: `observer ${name} lost its lease; it resumes once it holds it again`,
  })

/**
 * The stored cursor. A transient read error must not keep the observer from starting: while it is not running it
 * does not hold back compaction, and the history it has not seen yet could be compacted away.
 */
const readCursor = (cursors: CursorStore, name: string) =>
  cursors
    .get(observerPaths.cursor(name))
    .pipe(
      Effect.retry(Schedule.exponential("10 millis").pipe(Schedule.intersect(Schedule.recurs(startAttemptsMax - 1)))),
    )

/**
 * Supervision: a failed log read or cursor/dead-letter write (the observer's own storage, not the registry's)
 * resumes from the durable cursor after a backoff, so nothing is skipped; only a failed or closed registry stops
 * the observer for good. Returns why it stopped (none: the subscription ended because the registry closed).
 */
const supervise = (options: {
  readonly run: () => Effect.Effect<void, StopReason>
  readonly backoff: Schedule.Schedule<unknown>
  readonly registryDown: () => boolean
  readonly restarted: (error: StopReason) => void
}) =>
  Effect.gen(function* () {
    const delays = yield* Schedule.driver(options.backoff)
    while (true) {
      const exit = yield* Effect.exit(options.run())
      if (exit._tag === "Success") return Option.none<StopReason>()
      const error = Cause.failureOption(exit.cause)
      if (Option.isNone(error)) return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
      if (options.registryDown()) return error
      options.restarted(error.value)
      yield* Effect.ignore(delays.next(undefined))
    }
  })

export const startObserver = <E>(options: {
  readonly name: string
  readonly delivery: Delivery<E>
  readonly settings: ObserverOptions
  readonly subscribe: (from: number) => Stream.Stream<RegistryEvent, SubscribeError>
  readonly committedSeq: () => number
  readonly cursors: CursorStore
  readonly sink: AppendSink
  readonly retain: (provider: () => number) => () => void
  /** True once the registry failed or closed: then the observer stops instead of resuming. */
  readonly registryDown: () => boolean
  /** Present when other processes share the store: a saved-cursor observer then runs only while it holds its lease. */
  readonly lease?: ObserverLease
}): Effect.Effect<ObserverHandle, InvalidInput | StorageFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const { name, delivery, settings, cursors, sink } = options
    const { maxAttempts, backoff, handlerRetries, attemptTimeout } = yield* retryPolicy(name, settings)

    const saved = settings.cursor !== "memory"
    const stored = saved ? yield* readCursor(cursors, name) : Option.none<number>()
    let cursor: number = Option.getOrElse(stored, () => (settings.from === "now" ? options.committedSeq() : 0))
    // Compaction keeps every record this observer has not yet made durable in its cursor.
    const release = options.retain(() => cursor + 1)
    yield* Effect.addFinalizer(() => Effect.sync(release))

    const counts = { delivered: 0, retries: 0, deadLettered: 0, restarts: 0 }
    let stopped: Option.Option<StopReason> = Option.none()
    let lastError: Option.Option<StopReason> = Option.none()
    const waiters: Array<{ readonly seq: number; readonly resume: () => void }> = []
    // Made once: a metric finds its series by the identity of the label array, so `Metric.tagged` per chunk built
    // and hashed a new key every time.
    const lagLabels = [...(yield* FiberRef.get(FiberRef.currentMetricLabels)), MetricLabel.make("observer", name)]

    const withRetries = retrying(attemptTimeout, handlerRetries, counts)
    const deadLetter = deadLetterer(name, maxAttempts, sink, counts)

    const handleChunk = (chunk: Chunk.Chunk<RegistryEvent>) =>
      Effect.gen(function* () {
        const events = [...chunk]
        if (delivery._tag === "Counter") {
          yield* delivery.count(events)
          counts.delivered += events.length
        } else if (delivery._tag === "Chunk") {
          yield* withRetries(delivery.handle(events)).pipe(
            Effect.matchCauseEffect({
              onSuccess: () => Effect.sync(() => (counts.delivered += events.length)),
              onFailure: (cause) => deadLetter(events, Cause.flatten(cause)),
            }),
          )
        } else {
          for (const event of events)
            yield* withRetries(delivery.handle(event)).pipe(
              Effect.matchCauseEffect({
                onSuccess: () => Effect.sync(() => counts.delivered++),
                onFailure: (cause) => deadLetter([event], Cause.flatten(cause)),
              }),
            )
        }
        const last = events[events.length - 1]!.seq
        if (saved) yield* cursors.set(observerPaths.cursor(name), last)
        cursor = last
        observerLag.unsafeUpdate(Math.max(0, options.committedSeq() - cursor), lagLabels)
        for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]!.seq <= cursor) waiters.splice(i, 1)[0]!.resume()
      })

    const deliver = () => Stream.runForEachChunk(options.subscribe(cursor + 1), handleChunk)
    const { lease } = options
    // With a lease, the observer delivers only while it holds it, from the cursor the last holder left, and stops
    // (to wait for the lease again) once it is lost: another process may already be delivering.
    const run =
      lease === undefined || !saved
        ? deliver
        : () =>
            Effect.scoped(
              Effect.gen(function* () {
                const lost = yield* lease.hold(name)
                cursor = Option.getOrElse(yield* readCursor(cursors, name), () => cursor)
                return yield* Effect.raceFirst(deliver(), Effect.zipRight(lost, Effect.fail(leaseLost(name))))
              }),
            )
    const supervised = supervise({
      run,
      backoff,
      registryDown: options.registryDown,
      restarted: (error) => {
        lastError = Option.some(error)
        counts.restarts++
      },
    })
    const fiber = yield* Effect.forkDaemon(
      Effect.flatMap(supervised, (reason) =>
        Effect.sync(() => {
          stopped = Option.orElse(reason, () => Option.some(closedReason))
          for (const waiter of waiters.splice(0)) waiter.resume()
        }),
      ),
    )
    yield* Effect.addFinalizer(() => Fiber.interrupt(fiber))

    return {
      status: Effect.sync(() => ({ name, cursor, ...counts, stopped, lastError })),
      awaitSeq: (seq) =>
        Effect.async<void>((resume) => {
          if (cursor >= seq || Option.isSome(stopped)) return resume(Effect.void)
          waiters.push({ seq, resume: () => resume(Effect.void) })
        }),
    } satisfies ObserverHandle
  })
