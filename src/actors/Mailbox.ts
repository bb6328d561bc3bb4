/**
 * The registry actor's mailbox: commands queued for the next batches, and the callers blocked on a full mailbox.
 * Both are bounded (`mailboxCommandsMax`, `blockedCommandsMax`), so a stalled disk turns into `Overloaded` answers
 * instead of unbounded memory.
 *
 * A plain array rather than Effect's Queue or Mailbox: with a Deferred + Queue + fiber per request the register path
 * cost several times more CPU (bench/results), and the batch loop is the only consumer anyway.
 */
import type { RegistryLimits } from "../storage/Limits.ts"

export type MailboxLimits = Pick<RegistryLimits, "mailboxCommandsMax" | "blockedCommandsMax" | "batchCommandsMax">

/** Where `offer` put an item: in the queue, among the blocked callers, or nowhere (the caller gets `Overloaded`). */
export type Offered = "queued" | "blocked" | "refused"

export class Mailbox<T> {
  private queue: Array<T> = []
  private readonly blocked: Array<T> = []

  constructor(private readonly limits: MailboxLimits) {}

  /** Queues `item`; when the queue is full, blocks it if `wait` and the blocked callers are below their bound. */
  offer(item: T, wait: boolean): Offered {
    if (this.queue.length < this.limits.mailboxCommandsMax) {
      this.queue.push(item)
      return "queued"
    }
    if (wait && this.blocked.length < this.limits.blockedCommandsMax) {
      this.blocked.push(item)
      return "blocked"
    }
    return "refused"
  }

  /** The next batch (at most `batchCommandsMax`), in arrival order; blocked callers move up into the room it frees. */
  take(): Array<T> {
    let batch: Array<T>
    if (this.queue.length <= this.limits.batchCommandsMax) {
      // Swapping arrays instead of splicing: the common case takes the whole mailbox.
      batch = this.queue
      this.queue = []
    } else batch = this.queue.splice(0, this.limits.batchCommandsMax)
    if (this.blocked.length > 0)
      this.queue.push(...this.blocked.splice(0, this.limits.mailboxCommandsMax - this.queue.length))
    return batch
  }

  /** Empties the mailbox, queued and blocked items alike, in arrival order. */
  drain(): Array<T> {
    const all = this.queue.splice(0)
    for (const item of this.blocked.splice(0)) all.push(item)
    return all
  }

  get isEmpty(): boolean {
    return this.queue.length === 0
  }

  /** Items waiting, queued or blocked. */
  get size(): number {
    return this.queue.length + this.blocked.length
  }
}
