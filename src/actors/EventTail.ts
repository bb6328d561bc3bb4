/**
 * The newest committed events, kept in memory (a bounded ring) so that live and slightly lagging subscribers
 * are served without reading the log, plus the signal that wakes them on each commit. Older events are
 * read back from the WAL: a slow subscriber is moved to the log, never skipped ahead.
 */
import { Deferred, Exit, FiberId } from "effect"
import type { RegistryEvent } from "../domain/RegistryEvent.ts"

export class EventTail {
  private readonly ring: Array<RegistryEvent | undefined>
  /** Seq of the oldest event still in the ring; the ring holds [firstSeq, lastSeq]. */
  private firstSeq = 1
  private lastSeq = 0
  /**
   * Made when someone asks for it, not per commit: a Deferred costs several microseconds and kilobytes to make
   * (it copies Effect's prototype into every instance), which with one producer is paid per register, and most
   * commits have no one waiting.
   */
  private signal: Deferred.Deferred<void> | undefined = undefined

  constructor(
    private readonly capacity: number,
    startSeq: number,
  ) {
    this.ring = new Array(capacity)
    this.firstSeq = startSeq + 1
    this.lastSeq = startSeq
  }

  get committedSeq(): number {
    return this.lastSeq
  }

  /** The oldest seq the ring holds (`committedSeq + 1` while it holds none). */
  get oldestSeq(): number {
    return this.firstSeq
  }

  covers(seq: number): boolean {
    return seq >= this.firstSeq && seq <= this.lastSeq
  }

  /** Up to `max` events from `fromSeq`, which must be covered. */
  slice(fromSeq: number, max: number): Array<RegistryEvent> {
    const out: Array<RegistryEvent> = []
    for (let seq = fromSeq; seq <= this.lastSeq && out.length < max; seq++) out.push(this.ring[seq % this.capacity]!)
    return out
  }

  /** Records committed events (consecutive seqs) and wakes everyone waiting for news. */
  push(events: ReadonlyArray<RegistryEvent>): void {
    for (const event of events) {
      if (event.seq !== this.lastSeq + 1) throw new Error(`tail expected seq ${this.lastSeq + 1}, got ${event.seq}`)
      this.ring[event.seq % this.capacity] = event
      this.lastSeq = event.seq
      if (this.lastSeq - this.firstSeq + 1 > this.capacity) this.firstSeq = this.lastSeq - this.capacity + 1
    }
    this.wake()
  }

  /** Wakes every waiter (a commit, or the registry closing or failing). */
  wake(): void {
    const previous = this.signal
    if (previous === undefined) return
    this.signal = undefined
    Deferred.unsafeDone(previous, Exit.void)
  }

  /** The signal to await for the next wake-up. Take it *before* checking for news, then await it. */
  get nextWake(): Deferred.Deferred<void> {
    this.signal ??= Deferred.unsafeMake(FiberId.none)
    return this.signal
  }
}
