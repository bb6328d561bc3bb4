/**
 * A runtime's next event-loop turn, after the I/O callbacks already due have run: the batch loop waits for it before
 * it takes a batch, so that every command already arriving (the rest of the requests read from the sockets in the
 * same poll, the producers woken by the previous batch) joins that batch instead of waiting a whole write and sync
 * for the next. Taken at once, the first command woke the loop in a microtask, before the runtime read the other
 * sockets: at 64 HTTP connections about 40 % of the batches held one record (bench/results/issue-15-server.md).
 * The bench's reference writer does the same (`setImmediate`). Optional: without it (tests, the simulator, runtimes
 * with no such primitive) the loop takes the batch at once, as before.
 */
import { Context, type Effect } from "effect"

export interface EventLoopTurn {
  /** Waits for the next turn. */
  readonly next: Effect.Effect<void>
  /**
   * Calls `run` on the next turn. The idle loop is woken through it, so that its wait for work and its wait for
   * the turn are one wait: with one producer each fiber resume is a scheduler task on the register's path.
   */
  readonly schedule: (run: () => void) => void
}

export const EventLoopTurn: Context.Tag<EventLoopTurn, EventLoopTurn> = Context.GenericTag<EventLoopTurn>(
  "@visutility/model-registry/EventLoopTurn",
)
