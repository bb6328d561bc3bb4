/**
 * What the directory lock needs to know about processes: who we are (written into the lock file), whether the
 * holder named in an existing lock file is provably dead, provably alive, or beyond our knowledge, and how we
 * prove our own liveness to contenders that cannot judge us. Storage imports no runtime globals, so the runtime
 * composition provides this service; `make` derives the judgment from the little a runtime can observe.
 *
 * A pid means something only on the host and in the PID namespace that issued it: two containers sharing a volume
 * see each other's pids as dead (or as their own pid 1). So a holder is judged by pid only when it ran under the
 * same kernel (its boot id is ours) and in our PID namespace; a live pid counts as the holder only if its start
 * time is the holder's, so a pid reused by another process does not keep a dead holder's lock. Everything else is
 * "unknown", which the lock settles with a lease (see Lock.ts).
 */
import { Context, Effect } from "effect"

/** The facts that name a process. The optional ones are absent where the runtime cannot read them. */
export interface ProcessIdentity {
  /** For operators' messages; never proof of anything (host names repeat across machines and containers). */
  readonly host: string
  /** The kernel's random id for this boot (`/proc/sys/kernel/random/boot_id`): equal ids mean one kernel. */
  readonly bootId?: string
  /** The PID namespace (`readlink /proc/self/ns/pid`, e.g. `pid:[4026531836]`). */
  readonly pidNamespace?: string
  readonly pid: number
  /** Start time in clock ticks since boot (field 22 of `/proc/<pid>/stat`): tells a reused pid apart. */
  readonly startTicks?: number
  /** Random per process: two processes never share it, even where every other fact is missing or alike. */
  readonly token: string
}

/**
 * How a holder that may be judged "unknown" proves it is alive: it renews its lock every `renewIntervalMillis`,
 * and a contender takes the lock over only after seeing it unrenewed for `leaseMillis` of its own clock.
 */
export interface LockLease {
  readonly leaseMillis: number
  readonly renewIntervalMillis: number
}

/**
 * A holder renews its lock every second and a contender that cannot judge it by pid (another host or PID
 * namespace) waits five: a rolling deploy's new process starts at most that much later than a dead one allows.
 * Every runtime's composition uses this lease, so Node and Deno processes sharing a directory judge each other alike.
 */
export const defaultLockLease: LockLease = { leaseMillis: 5000, renewIntervalMillis: 1000 }

/**
 * The pid and field 22 (start time in ticks since boot) of a `/proc/<pid>/stat` text; the command name before them
 * may hold spaces and parentheses, so the fields are counted from the last `)`.
 */
export const parseProcStat = (stat: string): { readonly pid: number; readonly startTicks: number } => {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return { pid: Number.parseInt(stat, 10), startTicks: Number(fields[19]) }
}

/** The bounds a lease is held to, here and when read from another holder's lock file. */
export const leaseMillisMax = 600_000

/**
 * "dead": provably gone (same kernel and PID namespace, and no such pid or one with another start time).
 * "alive": provably running (same kernel and namespace, same pid and start time). "unknown": anything else.
 */
export type Judgment = "alive" | "dead" | "unknown"

/** What a runtime found about a pid of its own namespace: gone, or running (with its start time if readable). */
export type PidState = "gone" | { readonly startTicks: number | undefined }

export interface ProcessInfo {
  /** This process, as written into the lock files it creates. */
  readonly self: ProcessIdentity
  /** Judges the holder of a lock file. Never "dead" without proof: a live lock must never be broken. */
  readonly judge: (holder: ProcessIdentity) => Effect.Effect<Judgment>
  /**
   * Whether a pid of our own namespace exists: the only rule a lock file of release 0.1.0 (a bare pid) allows.
   * Answers `true` when unsure.
   */
  readonly isAlive: (pid: number) => Effect.Effect<boolean>
  /** Our lease, or none where every contender can judge every holder (one simulated host): no renewals then. */
  readonly lease: LockLease | undefined
}

export const ProcessInfo: Context.Tag<ProcessInfo, ProcessInfo> = Context.GenericTag<ProcessInfo>(
  "@visutility/model-registry/ProcessInfo",
)

/**
 * A boot id alone proves one kernel; another boot id proves nothing (a host name shared by two machines would
 * make it look like a reboot), so that case waits out the lease instead of being judged dead.
 */
export const judgeHolder = (
  self: ProcessIdentity,
  holder: ProcessIdentity,
  probe: (pid: number) => Effect.Effect<PidState>,
): Effect.Effect<Judgment> => {
  if (holder.token === self.token) return Effect.succeed("alive")
  const sameKernel = self.bootId !== undefined && holder.bootId === self.bootId
  const sameNamespace = self.pidNamespace !== undefined && holder.pidNamespace === self.pidNamespace
  if (!sameKernel || !sameNamespace) return Effect.succeed("unknown")
  return Effect.map(probe(holder.pid), (state): Judgment => {
    if (state === "gone") return "dead"
    if (state.startTicks === undefined || holder.startTicks === undefined) return "unknown"
    return state.startTicks === holder.startTicks ? "alive" : "dead"
  })
}

/** Derives the service from what a runtime can observe. Throws on a lease outside its bounds (a wiring defect). */
export const make = (
  self: ProcessIdentity,
  probe: (pid: number) => Effect.Effect<PidState>,
  lease?: LockLease,
): ProcessInfo => {
  if (lease !== undefined) checkLease(lease)
  return {
    self,
    judge: (holder) => judgeHolder(self, holder, probe),
    isAlive: (pid) => Effect.map(probe(pid), (state) => state !== "gone"),
    lease,
  }
}

/**
 * A holder writes only while its last renewal is younger than the lease minus one interval (that interval is the
 * margin for an append in flight and for the two clocks' rates), so the lease must leave room for two renewals.
 */
const checkLease = ({ leaseMillis, renewIntervalMillis }: LockLease) => {
  if (!Number.isSafeInteger(renewIntervalMillis) || renewIntervalMillis < 1)
    throw new RangeError(`renewIntervalMillis must be a positive integer, got ${renewIntervalMillis}`)
  if (!Number.isSafeInteger(leaseMillis) || leaseMillis < 3 * renewIntervalMillis || leaseMillis > leaseMillisMax)
    throw new RangeError(
      `leaseMillis must be an integer from 3 × renewIntervalMillis to ${leaseMillisMax}, got ${leaseMillis}`,
    )
}

/**
 * A world where every process shares one kernel and PID namespace and `isAlive` is the whole truth (the
 * simulator, tests): each pid is its own start time, so judgments are by pid alone.
 */
export const makeSingleNamespace = (pid: number, isAlive: (pid: number) => boolean, lease?: LockLease) =>
  make(
    {
      host: "single-namespace",
      bootId: "single-boot",
      pidNamespace: "single-namespace",
      pid,
      startTicks: pid,
      token: `pid-${pid}`,
    },
    (other) => Effect.sync(() => (other === pid || isAlive(other) ? { startTicks: other } : "gone")),
    lease,
  )
