/**
 * Judging a lock's holder: "dead" only with proof (same kernel and PID namespace, and the pid gone or reused by a
 * process with another start time), "alive" only for the very process, "unknown" for everything else: another
 * namespace, another kernel, facts that could not be read.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { make, type PidState, type ProcessIdentity } from "../../src/storage/ProcessInfo.ts"

const self: ProcessIdentity = {
  host: "app-1",
  bootId: "2474e11d-cc5b-4c82-94b2-cf617efe6b89",
  pidNamespace: "pid:[4026531836]",
  pid: 100,
  startTicks: 5000,
  token: "self",
}
const holder: ProcessIdentity = { ...self, pid: 200, startTicks: 7000, token: "holder" }

/** Our namespace as the probe sees it: pid → its start time (undefined: unreadable); absent pids are gone. */
const judgeWith = (running: ReadonlyMap<number, number | undefined>) => (other: ProcessIdentity) =>
  make(self, (pid) => Effect.succeed<PidState>(running.has(pid) ? { startTicks: running.get(pid) } : "gone")).judge(
    other,
  )

describe("judging a lock holder", () => {
  it.effect("same kernel and namespace, the pid with the holder's start time running: alive", () =>
    Effect.gen(function* () {
      expect(yield* judgeWith(new Map([[200, 7000]]))(holder)).toBe("alive")
    }),
  )

  it.effect("same kernel and namespace, no such pid: dead", () =>
    Effect.gen(function* () {
      expect(yield* judgeWith(new Map())(holder)).toBe("dead")
    }),
  )

  it.effect("the pid reused by another process (another start time): dead", () =>
    Effect.gen(function* () {
      expect(yield* judgeWith(new Map([[200, 9999]]))(holder)).toBe("dead")
    }),
  )

  it.effect("our own pid in a lock we did not write (a previous process with our pid): dead", () =>
    Effect.gen(function* () {
      expect(yield* judgeWith(new Map([[100, 5000]]))({ ...holder, pid: 100, startTicks: 10 })).toBe("dead")
    }),
  )

  it.effect("another PID namespace: unknown, though the pid is gone or alive in ours", () =>
    Effect.gen(function* () {
      const elsewhere = { ...holder, pid: 1, pidNamespace: "pid:[4026532174]" }
      expect(yield* judgeWith(new Map())(elsewhere)).toBe("unknown")
      expect(yield* judgeWith(new Map([[1, 7000]]))(elsewhere)).toBe("unknown")
    }),
  )

  it.effect("another boot id: unknown, even under the same host name (host names repeat across machines)", () =>
    Effect.gen(function* () {
      const rebootedOrElsewhere = { ...holder, bootId: "00000000-0000-4000-8000-000000000000" }
      expect(yield* judgeWith(new Map())(rebootedOrElsewhere)).toBe("unknown")
    }),
  )

  it.effect("facts missing on either side (not Linux, /proc unreadable): unknown, never dead", () =>
    Effect.gen(function* () {
      const { bootId: _b, pidNamespace: _n, startTicks: _s, ...bare } = holder
      expect(yield* judgeWith(new Map())(bare)).toBe("unknown")
      const { startTicks: _t, ...noStart } = holder
      expect(yield* judgeWith(new Map([[200, 7000]]))(noStart)).toBe("unknown")
      expect(yield* judgeWith(new Map([[200, undefined]]))(holder)).toBe("unknown")
      const blind = make({ host: "h", pid: 100, token: "self" }, () => Effect.succeed<PidState>("gone"))
      expect(yield* blind.judge({ host: "h", pid: 200, token: "holder" })).toBe("unknown")
    }),
  )

  it.effect("our own token: alive (this very process holds it)", () =>
    Effect.gen(function* () {
      expect(yield* judgeWith(new Map())({ ...holder, token: "self" })).toBe("alive")
    }),
  )

  it("a lease must leave room for two renewals and stay bounded", () => {
    const probe = () => Effect.succeed<PidState>("gone")
    expect(() => make(self, probe, { leaseMillis: 2999, renewIntervalMillis: 1000 })).toThrow(RangeError)
    expect(() => make(self, probe, { leaseMillis: 600_001, renewIntervalMillis: 1000 })).toThrow(RangeError)
    expect(() => make(self, probe, { leaseMillis: 3000, renewIntervalMillis: 0 })).toThrow(RangeError)
    expect(make(self, probe, { leaseMillis: 3000, renewIntervalMillis: 1000 }).lease).toEqual({
      leaseMillis: 3000,
      renewIntervalMillis: 1000,
    })
  })
})
