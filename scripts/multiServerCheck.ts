/**
 * The checks of the multi-server fault test (scripts/multi-server.ts), pure so that a unit test can show each one
 * catches what it is for (test/scripts/multiServerCheck.test.ts): the servers' logs agree and have no gap, every
 * acknowledged write is where its answer said, nothing was written that no request explains, and the log never
 * held two versions of a model in an exclusive state, nor a decision taken on a state that was not the head's.
 *
 * Every client writes with its own token, so each event's `actor` names the client that sent it; a client has one
 * request in flight at a time. That is what lets a write whose outcome is unknown be judged: its client's events
 * with its key are either the acknowledged ones, or at most one per unknown attempt.
 */

/** An event as `/events` and a write's answer carry it (src/http/Api.ts `EventWire`), loosely typed. */
export interface LogEvent {
  readonly _tag: string
  readonly seq: number
  readonly actor: string
  readonly name?: string
  readonly version?: string
  readonly supersedes?: string | null
  readonly event?: string
  readonly from?: string
  readonly to?: string
  readonly displaced?: ReadonlyArray<{ readonly version: string; readonly from: string; readonly to: string }>
  readonly aliasesCleared?: ReadonlyArray<{ readonly alias: string; readonly version: string; readonly name?: string }>
  readonly alias?: string
  readonly previous?: string | null
  readonly state?: string
  readonly metadata?: {
    readonly id: string
    readonly name: string
    readonly version: string
    readonly [field: string]: unknown
  }
  readonly changes?: ReadonlyArray<{ readonly name: string; readonly version: string; readonly to: string }>
  readonly [field: string]: unknown
}

/** How one HTTP request of a client ended. */
export type Outcome =
  /** 2xx naming the event it wrote: that seq must hold exactly that event. */
  | { readonly kind: "acked"; readonly event: LogEvent }
  /** A registration's 201, or 200 for an identical repeat: the answer has no seq, so its id must be logged once. */
  | { readonly kind: "registered" }
  /** 2xx with `event: null`: the state already was the one asked for, nothing written. */
  | { readonly kind: "unchanged" }
  /** A 4xx other than 429: refused after a decision, so nothing may have been written for it. */
  | { readonly kind: "rejected"; readonly status: number; readonly tag: string }
  /**
   * A failure that promises nothing was written although it came from the storage, the queue or the network: 429
   * `Overloaded` (never queued), 503 `StorageFailed` with reason `Unavailable`, which a server answers only once it
   * found its batch's commit did not happen, or a refused connection (status 0), which never carried the request.
   */
  | { readonly kind: "failed"; readonly status: number; readonly tag: string }
  /** A connection error, a timeout, or any other 5xx: written or not, but never twice. */
  | { readonly kind: "unknown"; readonly reason: string }

export interface Attempt {
  /** The client's token name: the actor of every event it writes. */
  readonly client: string
  /** What the request asks for, in `keyOf`'s terms. */
  readonly key: string
  readonly server: number
  readonly outcome: Outcome
}

/** The keys a request and the event it writes share. */
export const keys = {
  register: (id: string) => `register ${id}`,
  /** A lifecycle command: `promote`, `deprecate`, or a transition's event, which the default lifecycle spells alike. */
  change: (name: string, version: string, event: string) => `${name}@${version} ${event}`,
  setAlias: (name: string, alias: string, version: string) => `${name} alias ${alias}=${version}`,
  removeAlias: (name: string, alias: string) => `${name} unalias ${alias}`,
}

export const keyOf = (event: LogEvent): string => {
  switch (event._tag) {
    case "Registered":
      return keys.register(event.metadata?.id ?? "?")
    case "Promoted":
      return keys.change(event.name ?? "?", event.version ?? "?", "promote")
    case "Deprecated":
      return keys.change(event.name ?? "?", event.version ?? "?", "deprecate")
    case "Transitioned":
      return keys.change(event.name ?? "?", event.version ?? "?", event.event ?? "?")
    case "AliasSet":
      return keys.setAlias(event.name ?? "?", event.alias ?? "?", event.version ?? "?")
    case "AliasRemoved":
      return keys.removeAlias(event.name ?? "?", event.alias ?? "?")
    default:
      return `${event._tag} ${event.name ?? ""}`
  }
}

/** Key order made canonical, so that an event read back compares equal to the one an answer carried. */
export const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  )

export interface CheckResult {
  /** The reference log's length (the first stream's). */
  readonly seqs: number
  readonly streamsIdentical: boolean
  /** Writes answered 2xx that wrote an event (or registered a version). */
  readonly acknowledged: number
  /** Writes answered 2xx with `event: null`: nothing to find in the log. */
  readonly unchanged: number
  /** Acknowledged writes found where their answer said. */
  readonly checked: number
  readonly lost: ReadonlyArray<string>
  /** Events no request explains: a write logged twice, or one nobody sent. */
  readonly duplicates: ReadonlyArray<string>
  /** Writes answered as definitely failed (`failed`) that are in the log all the same. */
  readonly failedPresent: ReadonlyArray<string>
  readonly gaps: ReadonlyArray<string>
  readonly divergences: ReadonlyArray<string>
  /** Live streams that skipped, repeated or changed an event, or stopped short of the head. */
  readonly liveDivergences: ReadonlyArray<string>
  readonly exclusiveViolations: ReadonlyArray<string>
  /** Events whose recorded `from`, `supersedes` or `previous` is not what the log before them says. */
  readonly staleDecisions: ReadonlyArray<string>
  /** Attempts with an unknown outcome whose write is in the log, and those whose write is not. */
  readonly unknownPresent: number
  readonly unknownAbsent: number
  /** Every problem above, one line each; empty when the run is sound. */
  readonly problems: ReadonlyArray<string>
}

const limit = <A>(items: ReadonlyArray<A>, n = 20): ReadonlyArray<A> => items.slice(0, n)

/** Compares each stream with the reference: the same events at the same seqs, and as many. */
export const compareStreams = (
  reference: ReadonlyArray<LogEvent>,
  streams: ReadonlyArray<ReadonlyArray<LogEvent>>,
  label: (index: number) => string,
  referenceLabel: string,
): ReadonlyArray<string> => {
  const found: Array<string> = []
  streams.forEach((stream, index) => {
    const n = Math.min(stream.length, reference.length)
    for (let i = 0; i < n; i++)
      if (canonical(stream[i]) !== canonical(reference[i])) {
        found.push(
          `${label(index)} differs from ${referenceLabel} at position ${i}: ${canonical(stream[i])} vs ${canonical(reference[i])}`,
        )
        return
      }
    if (stream.length !== reference.length)
      found.push(`${label(index)} holds ${stream.length} events, ${referenceLabel} ${reference.length}`)
  })
  return found
}

/** The seqs must be 1, 2, … N in order: each break is reported once. */
export const findGaps = (events: ReadonlyArray<LogEvent>): ReadonlyArray<string> => {
  const found: Array<string> = []
  let previous = 0
  for (const event of events) {
    if (event.seq !== previous + 1) found.push(`seq ${event.seq} follows seq ${previous}`)
    previous = event.seq
  }
  return found
}

interface ModelState {
  readonly states: Map<string, string>
  readonly aliases: Map<string, string>
}

/**
 * Folds the log as the registry does for the default-style events, checking after every event that no model holds
 * two versions in an exclusive state and that every decision recorded matches the state before it (a server that
 * decided on a stale copy would record a `from`, `supersedes` or `previous` the head no longer had).
 */
export const foldLog = (
  events: ReadonlyArray<LogEvent>,
  exclusive: ReadonlyArray<string>,
  initial = "registered",
): { readonly exclusiveViolations: ReadonlyArray<string>; readonly staleDecisions: ReadonlyArray<string> } => {
  const models = new Map<string, ModelState>()
  const exclusiveViolations: Array<string> = []
  const staleDecisions: Array<string> = []
  const model = (name: string): ModelState => {
    let found = models.get(name)
    if (found === undefined) {
      found = { states: new Map(), aliases: new Map() }
      models.set(name, found)
    }
    return found
  }
  const stale = (event: LogEvent, what: string) => staleDecisions.push(`seq ${event.seq} (${keyOf(event)}): ${what}`)
  const holders = (m: ModelState, state: string) =>
    [...m.states].filter(([, s]) => s === state).map(([version]) => version)
  const expectState = (event: LogEvent, m: ModelState, version: string, expected: string) => {
    const actual = m.states.get(version)
    if (actual !== expected) stale(event, `${version} was ${actual ?? "absent"}, the event says ${expected}`)
  }
  for (const event of events) {
    const name = event.name ?? event.metadata?.name
    const touched: Array<string> = []
    switch (event._tag) {
      case "Registered": {
        const m = model(name!)
        const version = event.metadata!.version
        if (m.states.has(version)) stale(event, `${version} was already registered`)
        m.states.set(version, event.state ?? initial)
        touched.push(name!)
        break
      }
      case "Promoted": {
        const m = model(name!)
        const version = event.version!
        const state = m.states.get(version)
        if (state === undefined || state === "production" || state === "deprecated")
          stale(event, `promoted ${version}, which was ${state ?? "absent"}`)
        const current = holders(m, "production").filter((v) => v !== version)
        const supersedes = event.supersedes ?? null
        if ((current[0] ?? null) !== supersedes || current.length > 1)
          stale(event, `supersedes ${supersedes ?? "nothing"}, but production held ${current.join(",") || "nothing"}`)
        if (supersedes !== null) m.states.set(supersedes, "registered")
        m.states.set(version, "production")
        touched.push(name!)
        break
      }
      case "Deprecated": {
        const m = model(name!)
        const version = event.version!
        const state = m.states.get(version)
        if (state === undefined || state === "deprecated") stale(event, `deprecated ${version}, which was ${state}`)
        m.states.set(version, "deprecated")
        touched.push(name!)
        break
      }
      case "Transitioned": {
        const m = model(name!)
        expectState(event, m, event.version!, event.from!)
        for (const d of event.displaced ?? []) {
          expectState(event, m, d.version, d.from)
          m.states.set(d.version, d.to)
        }
        m.states.set(event.version!, event.to!)
        for (const cleared of event.aliasesCleared ?? []) {
          if (m.aliases.get(cleared.alias) !== cleared.version)
            stale(event, `cleared alias ${cleared.alias} from ${cleared.version}, which it did not name`)
          m.aliases.delete(cleared.alias)
        }
        touched.push(name!)
        break
      }
      case "AliasSet": {
        const m = model(name!)
        const previous = m.aliases.get(event.alias!) ?? null
        if (previous !== (event.previous ?? null))
          stale(event, `alias ${event.alias} was ${previous ?? "unset"}, the event says ${event.previous ?? "unset"}`)
        if (!m.states.has(event.version!)) stale(event, `alias to ${event.version}, which is not registered`)
        m.aliases.set(event.alias!, event.version!)
        break
      }
      case "AliasRemoved": {
        const m = model(name!)
        if (m.aliases.get(event.alias!) !== event.version)
          stale(event, `removed alias ${event.alias} from ${event.version}, which it did not name`)
        m.aliases.delete(event.alias!)
        break
      }
      case "LifecycleChanged": {
        for (const change of event.changes ?? []) {
          model(change.name).states.set(change.version, change.to)
          touched.push(change.name)
        }
        for (const cleared of event.aliasesCleared ?? []) model(cleared.name ?? "").aliases.delete(cleared.alias)
        break
      }
      default:
        break
    }
    for (const touchedName of touched) {
      const m = model(touchedName)
      for (const state of exclusive) {
        const held = holders(m, state)
        if (held.length > 1)
          exclusiveViolations.push(`after seq ${event.seq}, ${touchedName} has ${held.join(", ")} all in ${state}`)
      }
    }
  }
  return { exclusiveViolations, staleDecisions }
}

/** Matches the attempts against the log (the first stream) and runs every check. */
export const check = (input: {
  readonly streams: ReadonlyArray<ReadonlyArray<LogEvent>>
  readonly attempts: ReadonlyArray<Attempt>
  readonly exclusive: ReadonlyArray<string>
  /** What each server's `/events` delivered live during the run, reconnecting after each drop where it stopped. */
  readonly live?: ReadonlyArray<ReadonlyArray<LogEvent>>
}): CheckResult => {
  const reference = input.streams[0] ?? []
  const divergences = compareStreams(reference, input.streams.slice(1), (i) => `stream ${i + 1}`, "stream 0")
  const liveDivergences = compareStreams(reference, input.live ?? [], (i) => `live stream ${i}`, "the log")
  const gaps = findGaps(reference)
  const bySeq = new Map<number, LogEvent>()
  for (const event of reference) bySeq.set(event.seq, event)

  // The log's events by who wrote them and what for; each acknowledged write takes its own out, what remains must
  // be explained by attempts whose outcome is unknown, one each at most.
  const remaining = new Map<string, Array<LogEvent>>()
  const group = (client: string, key: string) => `${client}\u0000${key}`
  for (const event of reference) {
    const g = group(event.actor, keyOf(event))
    const list = remaining.get(g)
    if (list === undefined) remaining.set(g, [event])
    else list.push(event)
  }
  const take = (g: string, predicate: (event: LogEvent) => boolean): LogEvent | undefined => {
    const list = remaining.get(g)
    const index = list?.findIndex(predicate) ?? -1
    if (index < 0) return undefined
    return list!.splice(index, 1)[0]
  }

  const registrations = new Map<string, LogEvent>()
  for (const event of reference) if (event._tag === "Registered") registrations.set(keyOf(event), event)
  const registeredTaken = new Set<string>()
  const lost: Array<string> = []
  let acknowledged = 0
  let unchanged = 0
  let checked = 0
  for (const attempt of input.attempts) {
    const g = group(attempt.client, attempt.key)
    if (attempt.outcome.kind === "acked") {
      acknowledged++
      const expected = attempt.outcome.event
      const found = bySeq.get(expected.seq)
      if (found === undefined || canonical(found) !== canonical(expected))
        lost.push(
          `${attempt.client} ${attempt.key} acknowledged at seq ${expected.seq}, which holds ${found === undefined ? "nothing" : canonical(found)}`,
        )
      else {
        checked++
        take(g, (event) => event.seq === expected.seq)
      }
    } else if (attempt.outcome.kind === "registered") {
      acknowledged++
      const found = registrations.get(attempt.key)
      if (found === undefined) lost.push(`${attempt.client} ${attempt.key} acknowledged, not in the log`)
      else {
        checked++
        // A registration and its identical repeats share one event; the first answer takes it.
        if (!registeredTaken.has(attempt.key)) take(group(found.actor, attempt.key), (event) => event.seq === found.seq)
        registeredTaken.add(attempt.key)
      }
    } else if (attempt.outcome.kind === "unchanged") unchanged++
  }

  let unknownPresent = 0
  let unknownAbsent = 0
  for (const attempt of input.attempts)
    if (attempt.outcome.kind === "unknown") {
      if (take(group(attempt.client, attempt.key), () => true) === undefined) unknownAbsent++
      else unknownPresent++
    }

  // Only once every unknown attempt took what it may have written: a definite failure must not be blamed for an
  // event that an earlier attempt of the same request, whose answer was lost, explains.
  const failedPresent: Array<string> = []
  for (const attempt of input.attempts)
    if (attempt.outcome.kind === "failed") {
      const found = take(group(attempt.client, attempt.key), () => true)
      if (found !== undefined)
        failedPresent.push(
          `${attempt.client} ${attempt.key} answered ${attempt.outcome.status} ${attempt.outcome.tag} by server ${attempt.server}, yet seq ${found.seq} holds it`,
        )
    }

  const duplicates: Array<string> = []
  for (const [g, list] of remaining)
    for (const event of list)
      duplicates.push(
        `seq ${event.seq} by ${g.split("\u0000")[0]} (${keyOf(event)}) matches no acknowledged or unknown request`,
      )

  const { exclusiveViolations, staleDecisions } = foldLog(reference, input.exclusive)
  const problems = [
    ...limit(divergences).map((p) => `divergence: ${p}`),
    ...limit(liveDivergences).map((p) => `live divergence: ${p}`),
    ...limit(gaps).map((p) => `gap: ${p}`),
    ...limit(lost).map((p) => `lost: ${p}`),
    ...limit(duplicates).map((p) => `duplicate: ${p}`),
    ...limit(failedPresent).map((p) => `failed yet written: ${p}`),
    ...limit(exclusiveViolations).map((p) => `exclusive: ${p}`),
    ...limit(staleDecisions).map((p) => `stale: ${p}`),
  ]
  return {
    seqs: reference.length,
    streamsIdentical: divergences.length === 0,
    acknowledged,
    unchanged,
    checked,
    lost,
    duplicates,
    failedPresent,
    gaps,
    divergences,
    liveDivergences,
    exclusiveViolations,
    staleDecisions,
    unknownPresent,
    unknownAbsent,
    problems,
  }
}
