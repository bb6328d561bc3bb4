/**
 * The port that keeps a durable observer running in one process at a time when several processes share the
 * registry's store (PostgreSQL). Each process that starts the observer asks for its lease; only the holder
 * delivers and moves the shared cursor, and another takes over, from that cursor, once the holder is gone.
 */
import { Context, type Effect, type Scope } from "effect"

export interface ObserverLease {
  /**
   * Holds the named lease for the current scope: waits, for as long as it takes, until no other process holds it,
   * then succeeds with an effect that completes once the lease is lost (its holder's connection died). Closing the
   * scope releases it.
   */
  readonly hold: (name: string) => Effect.Effect<Effect.Effect<void>, never, Scope.Scope>
}

export const ObserverLease: Context.Tag<ObserverLease, ObserverLease> = Context.GenericTag<ObserverLease>(
  "@visutility/model-registry/ObserverLease",
)
