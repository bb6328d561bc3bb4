/**
 * A deterministic runtime for Effect programs: a scheduler that runs fiber tasks in a seeded order, and a virtual
 * clock whose timers fire only when no task is runnable. Under it a whole registry (actor, observers, clients) runs
 * to completion synchronously, with no real timer and no microtask, so a seed replays the same interleaving on every
 * run and every runtime, and a sleep of an hour costs nothing. A program that waits for something that can never
 * happen (no task runnable, no timer pending) is reported as deadlocked instead of hanging the test.
 *
 * It does not model real asynchrony: code under it must not wait on real IO, real timers or promises it did not
 * create inside Effect. The simulated disk and the registry satisfy that.
 *
 * Tasks run in FIFO order by default. Effect's fiber runtime assumes a FIFO executor (every JS runtime is one):
 * running its tasks in a random order deadlocks a failing parallel layer build in about one seed in four (found
 * while building this), so the simulator varies interleavings at the client level instead (seeded delays and
 * yields before each concurrent call). `interleave: true` remains for experiments.
 */
import { Clock, Duration, Effect, type Exit, Scheduler } from "effect"
import type { Prng } from "../Prng.ts"

/** What running a program to quiescence gave: its exit, or the fact that it can never finish. */
export type RunResult<A, E> =
  | { readonly _tag: "Done"; readonly exit: Exit.Exit<A, E> }
  | { readonly _tag: "Deadlock"; readonly now: number }
  | { readonly _tag: "TaskLimit"; readonly now: number }

interface Timer {
  readonly at: number
  readonly order: number
  readonly fire: () => void
  cancelled: boolean
}

export interface SimulatedRuntime {
  /** Virtual milliseconds since the start. */
  readonly now: () => number
  /** Runs `effect` (and everything it forks) until it completes, deadlocks, or `tasksMax` tasks ran. */
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => RunResult<A, E>
  /** Tasks run and timers fired since the runtime was made (a cost measure). */
  readonly stats: () => { readonly tasks: number; readonly timers: number }
}

/** Fiber tasks run per `run` before it gives up: far above any simulated run, low enough to stop a livelock. */
export const tasksMaxDefault = 5_000_000

/**
 * Makes a runtime (FIFO task order, or drawn from `prng` with `interleave: true`). Time starts at
 * `startMs` and moves only when every fiber is blocked and a timer is due.
 */
export const makeSimulatedRuntime = (
  prng: Prng,
  options: { readonly interleave?: boolean; readonly startMs?: number; readonly tasksMax?: number } = {},
): SimulatedRuntime => {
  const interleave = options.interleave ?? false
  const tasksMax = options.tasksMax ?? tasksMaxDefault
  let now = options.startMs ?? 0
  let order = 0
  let tasksRun = 0
  let timersFired = 0
  const tasks: Array<Scheduler.Task> = []
  // Kept sorted by (at, order): timers due at the same instant fire in the order they were set.
  const timers: Array<Timer> = []

  const scheduler = Scheduler.make((task) => {
    tasks.push(task)
  }, Scheduler.defaultShouldYield)

  const addTimer = (timer: Timer) => {
    let i = timers.length
    while (i > 0 && timers[i - 1]!.at > timer.at) i--
    timers.splice(i, 0, timer)
  }

  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis: Effect.sync(() => now),
    unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
    sleep: (duration) =>
      Effect.async<void>((resume) => {
        const millis = Math.max(0, Math.ceil(Duration.toMillis(duration)))
        const timer: Timer = { at: now + millis, order: order++, fire: () => resume(Effect.void), cancelled: false }
        addTimer(timer)
        return Effect.sync(() => {
          timer.cancelled = true
        })
      }),
  }

  const takeTask = (): Scheduler.Task => {
    if (!interleave || tasks.length === 1) return tasks.shift()!
    const i = prng.int(tasks.length)
    const task = tasks[i]!
    tasks[i] = tasks[tasks.length - 1]!
    tasks.pop()
    return task
  }

  const run = <A, E>(effect: Effect.Effect<A, E>): RunResult<A, E> => {
    const fiber = Effect.runFork(Effect.withClock(effect, clock), { scheduler })
    let budget = tasksMax
    for (;;) {
      while (tasks.length > 0) {
        if (budget-- <= 0) return { _tag: "TaskLimit", now }
        tasksRun++
        takeTask()()
      }
      const exit = fiber.unsafePoll()
      if (exit !== null) return { _tag: "Done", exit }
      let timer = timers.shift()
      while (timer?.cancelled) timer = timers.shift()
      if (timer === undefined) return { _tag: "Deadlock", now }
      now = Math.max(now, timer.at)
      timersFired++
      timer.fire()
    }
  }

  return { now: () => now, run, stats: () => ({ tasks: tasksRun, timers: timersFired }) }
}
