/**
 * Who this Deno process is and how it judges another lock holder, from what Deno itself can read: `Deno.pid`,
 * `Deno.hostname()` and Linux's `/proc`. Deno has no `kill(pid, 0)` (its `Deno.kill` needs a real signal), so
 * another pid of our namespace is judged by its `/proc/<pid>` entry: missing proves it gone, present gives its
 * start time. Where `/proc` is not ours (another OS, or a PID namespace without its own `/proc`) every holder is
 * "unknown" and the lock's lease settles it, as ProcessInfo.ts requires: never "dead" without proof.
 */
import { Effect, Layer } from "effect"
import * as ProcessInfo from "../storage/ProcessInfo.ts"
import { deno } from "./denoTypes.ts"

const attempt = <A>(read: () => A): A | undefined => {
  try {
    return read()
  } catch {
    return undefined
  }
}

const statOf = (pid: number | "self") => ProcessInfo.parseProcStat(deno().readTextFileSync(`/proc/${pid}/stat`))

/** The same facts, with the same checks, as the Node composition writes into a lock file. */
const identity = (): ProcessInfo.ProcessIdentity => {
  const runtime = deno()
  const bootId = attempt(() => runtime.readTextFileSync("/proc/sys/kernel/random/boot_id").trim())
  const pidNamespace = attempt(() => runtime.readLinkSync("/proc/self/ns/pid"))
  const startTicks = attempt(() => statOf("self").startTicks)
  return {
    // `Deno.hostname()` needs `--allow-sys=hostname`; the host name only ever labels messages.
    host: attempt(() => runtime.hostname()) ?? "unknown",
    ...(bootId !== undefined && /^[0-9a-f-]{36}$/.test(bootId) ? { bootId } : {}),
    ...(pidNamespace !== undefined && /^pid:\[\d+\]$/.test(pidNamespace) ? { pidNamespace } : {}),
    pid: runtime.pid,
    ...(startTicks !== undefined && Number.isSafeInteger(startTicks) ? { startTicks } : {}),
    token: crypto.randomUUID(),
  }
}

/** Only a missing `/proc/<pid>` proves a pid gone; any other failure to read it leaves it running, start unknown. */
const probe =
  (ownProc: boolean) =>
  (pid: number): Effect.Effect<ProcessInfo.PidState> =>
    Effect.sync((): ProcessInfo.PidState => {
      if (!ownProc) return { startTicks: undefined }
      try {
        const { startTicks } = statOf(pid)
        return { startTicks: Number.isSafeInteger(startTicks) ? startTicks : undefined }
      } catch (error) {
        return error instanceof deno().errors.NotFound ? "gone" : { startTicks: undefined }
      }
    })

export const makeLayer = (
  lease: ProcessInfo.LockLease = ProcessInfo.defaultLockLease,
): Layer.Layer<ProcessInfo.ProcessInfo> =>
  Layer.sync(ProcessInfo.ProcessInfo, () =>
    ProcessInfo.make(identity(), probe(attempt(() => statOf("self").pid) === deno().pid), lease),
  )

export const layer: Layer.Layer<ProcessInfo.ProcessInfo> = makeLayer()
