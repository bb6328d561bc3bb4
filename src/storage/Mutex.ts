/**
 * A lock for the WAL's own steps (appends and rolls; compaction's publishing and deletes). Effect's
 * `Semaphore.withPermits` cost about 12 µs per use here (two uninterruptible masks, `ensuring`, a scheduler task per
 * release), more than the rest of a one-register batch's Effect work, and the WAL takes its lock once per batch,
 * almost always free. This one takes a free lock with a flag and releases it in the same step that ends the locked
 * effect.
 *
 * First come, first served: a release hands the lock to the oldest waiter, so a stream of appends from the batch
 * loop cannot starve a place check or a compaction step queued behind them (a free lock can otherwise be retaken
 * by the running fiber before a woken waiter runs). Interruption is safe at every point: a waiter interrupted
 * before its turn leaves the queue, and one interrupted just after being handed the lock passes it on.
 */
import { type Cause, Effect, Exit } from "effect"

interface Waiter {
  /** Set when a release handed this waiter the lock. */
  granted: boolean
  resume: ((effect: Effect.Effect<void>) => void) | undefined
}

export interface Mutex {
  /** Runs `effect` alone among every effect run through this mutex, after those that asked earlier. */
  readonly withLock: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export const make = (): Mutex => {
  let held = false
  const waiters: Array<Waiter> = []

  const release = (): void => {
    const next = waiters.shift()
    if (next === undefined) {
      held = false
      return
    }
    next.granted = true
    next.resume!(Effect.void)
  }

  // One object for every use; its handlers pass the value or cause through unchanged.
  const releasing = {
    onFailure: (cause: Cause.Cause<unknown>) => {
      release()
      return Exit.failCause(cause)
    },
    onSuccess: (value: unknown) => {
      release()
      return Exit.succeed(value)
    },
  }

  const turn = (waiter: Waiter) =>
    Effect.async<void>((resume) => {
      waiter.resume = resume
      waiters.push(waiter)
      return Effect.sync(() => {
        const at = waiters.indexOf(waiter)
        if (at >= 0) waiters.splice(at, 1)
      })
    })

  // The mask's body runs when the effect runs, each time, so it reads `held` itself: no suspend inside it.
  const withLock = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) => {
      const locked = Effect.matchCauseEffect(restore(effect), releasing) as Effect.Effect<A, E, R>
      if (!held) {
        held = true
        return locked
      }
      const waiter: Waiter = { granted: false, resume: undefined }
      return Effect.matchCauseEffect(restore(turn(waiter)), {
        onFailure: (cause) => {
          if (waiter.granted) release()
          return Exit.failCause(cause)
        },
        onSuccess: () => locked,
      })
    })

  return { withLock }
}
