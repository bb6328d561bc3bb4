/**
 * What the directory lock needs to know about processes: our own pid (written into the lock file) and whether the
 * pid found in an existing lock file is still alive (a dead holder's lock is stale and may be taken over).
 * Storage imports no runtime globals, so the runtime composition provides this service.
 */
import { Context, type Effect } from "effect"

export interface ProcessInfo {
  /** The pid written into lock files this process creates. */
  readonly pid: number
  /** Whether a process with this pid exists now. Must answer `true` when unsure: a live lock is never broken. */
  readonly isAlive: (pid: number) => Effect.Effect<boolean>
}

export const ProcessInfo = Context.GenericTag<ProcessInfo>("@visutility/model-registry/ProcessInfo")
