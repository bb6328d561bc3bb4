/**
 * The multi-server fault test's checker (scripts/multiServerCheck.ts): it passes a sound run, and catches a lost
 * write, a gap, two production versions, diverging servers, a write logged twice and a decision on a stale state.
 */
import { describe, expect, it } from "@effect/vitest"
import { type Attempt, check, keyOf, keys, type LogEvent } from "../../scripts/multiServerCheck.ts"

const at = "2026-12-04T18:00:00.000Z"
const registered = (seq: number, version: string, actor = "c0"): LogEvent => ({
  _tag: "Registered",
  seq,
  at,
  actor,
  metadata: { id: `id-${version}`, name: "m0", version, createdAt: at, metrics: {}, tags: {} },
})
const promoted = (seq: number, version: string, supersedes: string | null, actor = "c1"): LogEvent => ({
  _tag: "Promoted",
  seq,
  at,
  actor,
  name: "m0",
  version,
  supersedes,
})

/** A sound run: two registrations, two promotions from two clients, an alias, each acknowledged. */
const log: ReadonlyArray<LogEvent> = [
  registered(1, "1.0.0"),
  registered(2, "1.0.1"),
  promoted(3, "1.0.0", null),
  promoted(4, "1.0.1", "1.0.0", "c2"),
  { _tag: "AliasSet", seq: 5, at, actor: "c1", name: "m0", alias: "best", version: "1.0.0", previous: null },
]
const acked = (client: string, event: LogEvent): Attempt => ({
  client,
  key: keyOf(event),
  server: 0,
  outcome: { kind: "acked", event },
})
const attempts: ReadonlyArray<Attempt> = [
  { client: "c0", key: keys.register("id-1.0.0"), server: 0, outcome: { kind: "registered" } },
  { client: "c0", key: keys.register("id-1.0.1"), server: 1, outcome: { kind: "registered" } },
  acked("c1", log[2]!),
  acked("c2", log[3]!),
  acked("c1", log[4]!),
]
const exclusive = ["production"]

describe("check", () => {
  it("passes a sound run and counts every acknowledged write as checked", () => {
    const result = check({ streams: [log, log, log], attempts, exclusive })
    expect(result.problems).toEqual([])
    expect(result).toMatchObject({ seqs: 5, acknowledged: 5, checked: 5, streamsIdentical: true })
  })

  it("catches an acknowledged write missing from the log, and one whose seq holds another event", () => {
    const withoutAlias = log.slice(0, 4)
    const missing = check({ streams: [withoutAlias], attempts, exclusive })
    expect(missing.lost).toHaveLength(1)
    expect(missing.lost[0]).toContain("acknowledged at seq 5, which holds nothing")
    expect(missing.checked).toBe(4)

    const withoutRegistration = [log[0]!, { ...log[1]!, metadata: { ...log[1]!.metadata!, id: "id-other" } }]
    const replaced = check({ streams: [withoutRegistration], attempts: attempts.slice(0, 2), exclusive })
    expect(replaced.lost).toEqual(["c0 register id-1.0.1 acknowledged, not in the log"])
  })

  it("catches a gap in the seqs", () => {
    const gapped = [log[0]!, log[1]!, log[3]!, log[4]!]
    const result = check({ streams: [gapped], attempts: [], exclusive })
    expect(result.gaps).toEqual(["seq 4 follows seq 2"])
    expect(result.problems.some((p) => p.startsWith("gap:"))).toBe(true)
  })

  it("catches two versions in production, as a server deciding on a stale copy would write", () => {
    // The second promotion was decided without seeing the first: it supersedes nothing.
    const stale = [...log.slice(0, 3), promoted(4, "1.0.1", null, "c2")]
    const result = check({ streams: [stale], attempts: [], exclusive })
    expect(result.exclusiveViolations).toEqual(["after seq 4, m0 has 1.0.0, 1.0.1 all in production"])
    expect(result.staleDecisions).toEqual(["seq 4 (m0@1.0.1 promote): supersedes nothing, but production held 1.0.0"])
  })

  it("catches servers whose logs differ, in content or in length", () => {
    const other = [...log.slice(0, 4), { ...log[4]!, version: "1.0.1" }]
    const result = check({ streams: [log, log.slice(0, 4), other], attempts, exclusive })
    expect(result.streamsIdentical).toBe(false)
    expect(result.divergences).toHaveLength(2)
    expect(result.divergences[0]).toBe("stream 1 holds 4 events, stream 0 5")
    expect(result.divergences[1]).toContain("stream 2 differs from stream 0 at position 4")
  })

  it("catches a live stream that skipped or repeated an event across a reconnection", () => {
    const skipped = [log[0]!, log[1]!, log[3]!, log[4]!]
    const repeated = [log[0]!, log[1]!, log[2]!, log[2]!, log[3]!, log[4]!]
    const result = check({ streams: [log], live: [log, skipped, repeated], attempts, exclusive })
    expect(result.divergences).toEqual([])
    expect(result.liveDivergences).toHaveLength(2)
    expect(result.liveDivergences[0]).toContain("live stream 1 differs from the log at position 2")
    expect(result.liveDivergences[1]).toContain("live stream 2 differs from the log at position 3")
    expect(result.problems.filter((p) => p.startsWith("live divergence:"))).toHaveLength(2)
  })

  it("lets a write of unknown outcome be present once or absent, and calls a second copy a duplicate", () => {
    const unknown: Attempt = {
      client: "c1",
      key: keyOf(log[4]!),
      server: 2,
      outcome: { kind: "unknown", reason: "socket hang up" },
    }
    const present = check({ streams: [log], attempts: [...attempts.slice(0, 4), unknown], exclusive })
    expect(present.problems).toEqual([])
    expect([present.unknownPresent, present.unknownAbsent]).toEqual([1, 0])
    const absent = check({ streams: [log.slice(0, 4)], attempts: [...attempts.slice(0, 4), unknown], exclusive })
    expect(absent.problems).toEqual([])
    expect([absent.unknownPresent, absent.unknownAbsent]).toEqual([0, 1])

    // The alias set again by the same client at seq 6: one request, two events.
    const twice = [...log, { ...log[4]!, seq: 6, previous: "1.0.0" }]
    const duplicated = check({ streams: [twice], attempts: [...attempts.slice(0, 4), unknown], exclusive })
    expect(duplicated.duplicates).toEqual([
      "seq 6 by c1 (m0 alias best=1.0.0) matches no acknowledged or unknown request",
    ])
  })

  it("calls a write refused with a 4xx but present in the log a duplicate", () => {
    const refused: Attempt = {
      client: "c1",
      key: keyOf(log[4]!),
      server: 0,
      outcome: { kind: "rejected", status: 409, tag: "AliasNotAllowed" },
    }
    const result = check({ streams: [log], attempts: [...attempts.slice(0, 4), refused], exclusive })
    expect(result.duplicates).toHaveLength(1)
  })

  it("catches a write answered 503 Unavailable that was committed, unless a lost answer of its request explains it", () => {
    const failed: Attempt = {
      client: "c1",
      key: keyOf(log[4]!),
      server: 1,
      outcome: { kind: "failed", status: 503, tag: "StorageFailed/Unavailable" },
    }
    const result = check({ streams: [log], attempts: [...attempts.slice(0, 4), failed], exclusive })
    expect(result.failedPresent).toEqual([
      "c1 m0 alias best=1.0.0 answered 503 StorageFailed/Unavailable by server 1, yet seq 5 holds it",
    ])
    expect(result.duplicates).toEqual([])
    const lostAnswer: Attempt = { ...failed, server: 0, outcome: { kind: "unknown", reason: "fetch failed" } }
    const explained = check({ streams: [log], attempts: [...attempts.slice(0, 4), lostAnswer, failed], exclusive })
    expect(explained.problems).toEqual([])
    expect(
      check({ streams: [log.slice(0, 4)], attempts: [...attempts.slice(0, 4), failed], exclusive }).problems,
    ).toEqual([])
  })

  it("follows transitions and their displaced versions, and catches a displaced version's wrong state", () => {
    const transitioned: LogEvent = {
      _tag: "Transitioned",
      seq: 6,
      at,
      actor: "c1",
      name: "m0",
      version: "1.0.0",
      event: "promote",
      from: "registered",
      to: "production",
      displaced: [{ version: "1.0.1", from: "production", to: "registered" }],
      aliasesCleared: [],
    }
    expect(check({ streams: [[...log, transitioned]], attempts: [], exclusive }).staleDecisions).toEqual([])
    const wrong = { ...transitioned, displaced: [{ version: "1.0.1", from: "registered", to: "registered" }] }
    expect(check({ streams: [[...log, wrong]], attempts: [], exclusive }).staleDecisions).toEqual([
      "seq 6 (m0@1.0.0 promote): 1.0.1 was production, the event says registered",
    ])
  })
})
