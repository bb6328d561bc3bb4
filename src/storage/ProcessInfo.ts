/**
 * What the directory lock needs to know about processes: our own pid (written into the lock file) and whether the
 * pid found in an existing lock file is still alive (a dead holder's lock is stale and may be taken over).
 * Storage imports no runtime globals, so the runtime composition provides this service.
 */
import { Context, Effect, Layer } from "effect"

export interface ProcessInfo {
  /** The pid written into lock files this process creates. */
  readonly pid: number
  /** Whether a process with this pid exists now. Must answer `true` when unsure: a live lock is never broken. */
  readonly isAlive: (pid: number) => Effect.Effect<boolean>
}

export const ProcessInfo = Context.GenericTag<ProcessInfo>("@visutility/model-registry/ProcessInfo")

export const make = (info: ProcessInfo): ProcessInfo => info

/**
 * For runtimes with no process model (edge, browsers): pid 0, and every holder counts as alive, so a stale lock
 * is reported as `DirectoryLocked` and must be removed by an operator rather than guessed away.
 */
export const layerConservative: Layer.Layer<ProcessInfo> = Layer.succeed(ProcessInfo, {
  pid: 0,
  isAlive: () => Effect.succeed(true),
})
