/**
 * The simulator's oracle: what the registry is allowed to hold and say, computed without trusting it.
 *
 * It keeps the history the registry has shown (events it published, outcomes it acknowledged), checks every new
 * event against a plain reference model (a Map and the lifecycle rules, written out by hand) and against the
 * commands actually submitted, and after every reopen checks the recovered registry against that history.
 * What it verifies: no acknowledged or published event lost; no phantom (every event matches a submitted command
 * not yet used up); every event a legal step from the state before it; recovered state = the reference state of
 * the recovered prefix (states and aliases); at most one holder per exclusive state and every alias on a state it may
 * name; observer deliveries in order, gap-free within a process, and at-least-once across crashes. It judges events by
 * the lifecycle the run opens with (the default one unless given), read as data. What it does not verify: the order in which concurrent commands were
 * serialized (any order is legal), and rejections (whether a command should have been rejected depends on that order).
 */
import { compiledDefault } from "../../actors/builtinLifecycles.ts"
import { describeLifecycle, type LifecycleDescription } from "../../actors/lifecycleDefinition.ts"
import type { ModelVersion } from "../../domain/ModelVersion.ts"
import type { RegistryEvent } from "../../domain/RegistryEvent.ts"
import { canonical, ReferenceModel, type RefVersion } from "../ReferenceModel.ts"

export { canonical }

/** One broken invariant: which one, and the evidence. */
export interface Violation {
  readonly invariant: string
  readonly detail: string
}

/** A write the built-in clients make (the default lifecycle's commands). */
export type ClientSubmission =
  | { readonly _tag: "register"; readonly name: string; readonly version: string; readonly metrics: object }
  | { readonly _tag: "promote"; readonly name: string; readonly version: string }
  | { readonly _tag: "deprecate"; readonly name: string; readonly version: string }

/** A command a simulated client or a user workload submitted (before its outcome is known). */
export type Submission =
  | ClientSubmission
  | { readonly _tag: "transition"; readonly name: string; readonly version: string; readonly event: string }
  | { readonly _tag: "setAlias"; readonly name: string; readonly alias: string; readonly version: string }
  | { readonly _tag: "removeAlias"; readonly name: string; readonly alias: string }

const submissionKey = (s: Submission): string => {
  switch (s._tag) {
    case "register":
      return `register ${s.name} ${s.version} ${canonical(s.metrics)}`
    case "transition":
      return `event ${s.event} ${s.name} ${s.version}`
    case "setAlias":
      return `alias-set ${s.name} ${s.alias} ${s.version}`
    case "removeAlias":
      return `alias-remove ${s.name} ${s.alias}`
    default:
      return `event ${s._tag} ${s.name} ${s.version}`
  }
}

const eventKey = (e: RegistryEvent): string => {
  switch (e._tag) {
    case "Registered":
      return `register ${e.metadata.name} ${e.metadata.version} ${canonical(e.metadata.metrics)}`
    case "Promoted":
      return `event promote ${e.name} ${e.version}`
    case "Deprecated":
      return `event deprecate ${e.name} ${e.version}`
    case "Transitioned":
      return `event ${e.event} ${e.name} ${e.version}`
    case "AliasSet":
      return `alias-set ${e.name} ${e.alias} ${e.version}`
    case "AliasRemoved":
      return `alias-remove ${e.name} ${e.alias}`
    case "LifecycleChanged":
      return `lifecycle ${e.to.name}`
    case "VersionAnnotated":
      return `annotate ${e.name} ${e.version} ${canonical(e.tags)} ${canonical(e.description ?? null)}`
    case "ModelAnnotated":
      return `annotate-model ${e.name} ${canonical(e.tags)} ${canonical(e.description ?? null)}`
    case "ModelArchived":
      return `archive ${e.name}`
    case "ModelRestored":
      return `restore ${e.name}`
  }
}

export const eventLabel = (e: RegistryEvent): string => {
  switch (e._tag) {
    case "Registered":
      return `#${e.seq} Registered ${e.metadata.name}@${e.metadata.version}`
    case "Promoted":
      return `#${e.seq} Promoted ${e.name}@${e.version}${e.supersedes === null ? "" : ` over ${e.supersedes}`}`
    case "LifecycleChanged":
      return `#${e.seq} LifecycleChanged ${e.from.name} → ${e.to.name}`
    case "Transitioned":
      return `#${e.seq} ${e.event} ${e.name}@${e.version} ${e.from} → ${e.to}${e.displaced.map((d) => `, ${d.version} → ${d.to}`).join("")}`
    case "AliasSet":
      return `#${e.seq} AliasSet ${e.name} ${e.alias} → ${e.version}`
    case "AliasRemoved":
      return `#${e.seq} AliasRemoved ${e.name} ${e.alias}`
    case "ModelAnnotated":
    case "ModelArchived":
    case "ModelRestored":
      return `#${e.seq} ${e._tag} ${e.name}`
    default:
      return `#${e.seq} ${e._tag} ${e.name}@${e.version}`
  }
}

/** One observer's deliveries, per process lifetime ("epoch"). */
interface ObserverLog {
  readonly epochs: Array<Array<RegistryEvent>>
}

const defaultDescription = describeLifecycle(compiledDefault)

export class Oracle {
  /** The verified history: `history[s - 1]` is the event with seq s. */
  history: Array<RegistryEvent> = []
  private reference: ReferenceModel
  private readonly submitted = new Map<string, number>()
  private used = new Map<string, number>()
  /** seq → canonical event, for every acknowledged write that changed something. */
  readonly acks = new Map<number, string>()
  /** `name@version` of acknowledged no-op writes: the version existed, so it must exist after every recovery. */
  readonly existing = new Set<string>()
  private readonly observers = new Map<string, ObserverLog>()
  readonly violations: Array<Violation> = []
  invariantsChecked = 0
  ackedWritesChecked = 0

  /** `lifecycle`: the one the registry runs (default: the default lifecycle). */
  constructor(readonly lifecycle: LifecycleDescription = defaultDescription) {
    this.reference = new ReferenceModel(lifecycle)
  }

  private fail(invariant: string, detail: string) {
    this.violations.push({ invariant, detail })
  }

  private check(ok: boolean, invariant: string, detail: () => string) {
    this.invariantsChecked++
    if (!ok) this.fail(invariant, detail())
  }

  /** A deep copy, to check several crash variants of one moment independently. */
  clone(): Oracle {
    const copy = new Oracle(this.lifecycle)
    copy.history = [...this.history]
    copy.rebuild()
    for (const [k, v] of this.submitted) copy.submitted.set(k, v)
    for (const [k, v] of this.acks) copy.acks.set(k, v)
    for (const k of this.existing) copy.existing.add(k)
    for (const [name, log] of this.observers)
      copy.observers.set(name, { ...log, epochs: log.epochs.map((epoch) => [...epoch]) })
    copy.violations.push(...this.violations)
    copy.invariantsChecked = this.invariantsChecked
    copy.ackedWritesChecked = this.ackedWritesChecked
    return copy
  }

  submit(s: Submission): void {
    const key = submissionKey(s)
    this.submitted.set(key, (this.submitted.get(key) ?? 0) + 1)
  }

  /** A write succeeded: `event` is what the registry says it recorded (`null`: nothing changed). */
  acknowledged(s: Submission, event: RegistryEvent | null): void {
    if (event === null) {
      if ("version" in s) this.existing.add(`${s.name}@${s.version}`)
      return
    }
    this.check(eventKey(event) === submissionKey(s), "acknowledged event matches its command", () => {
      return `${submissionKey(s)} was acknowledged with ${eventLabel(event)}`
    })
    this.acks.set(event.seq, canonical(event))
  }

  /** Appends an event the registry made visible (published, or found on disk at recovery). */
  append(event: RegistryEvent, source: string): void {
    this.check(event.seq === this.history.length + 1, "events are gap-free", () => {
      return `${source} gave ${eventLabel(event)} after seq ${this.history.length}`
    })
    if (event.seq !== this.history.length + 1) return
    const key = eventKey(event)
    // The registry writes a lifecycle change itself, at open: the reference judges whether it was due.
    const submitted = event._tag === "LifecycleChanged" ? Number.POSITIVE_INFINITY : (this.submitted.get(key) ?? 0)
    this.check((this.used.get(key) ?? 0) < submitted, "no phantom", () => {
      return `${source} gave ${eventLabel(event)}, which matches no submitted command left (${key})`
    })
    const illegal = this.reference.applyEvent(event)
    this.check(
      illegal === undefined,
      "every event is a legal step",
      () => `${source} gave ${eventLabel(event)}: ${illegal}`,
    )
    this.used.set(key, (this.used.get(key) ?? 0) + 1)
    this.history.push(event)
  }

  private rebuild() {
    this.reference = new ReferenceModel(this.lifecycle)
    this.used = new Map()
    for (const event of this.history) {
      this.reference.applyEvent(event)
      const key = eventKey(event)
      this.used.set(key, (this.used.get(key) ?? 0) + 1)
    }
  }

  /**
   * After a reopen: the recovered log ends at `lastSeq`, and `extras` are the events it holds beyond the known
   * history (read back from the log). Everything published or acknowledged before must still be there.
   */
  recovered(lastSeq: number, extras: ReadonlyArray<RegistryEvent>): void {
    const known = this.history.length
    for (let seq = lastSeq + 1; seq <= known; seq++) {
      const acked = this.acks.has(seq)
      this.check(false, acked ? "no acknowledged write lost" : "no published event lost", () => {
        return `${eventLabel(this.history[seq - 1]!)} was ${acked ? "acknowledged" : "published to observers"}, but the recovered log ends at seq ${lastSeq}`
      })
    }
    if (lastSeq < known) {
      this.history.length = lastSeq
      this.rebuild()
    }
    for (const event of extras) this.append(event, "recovery")
    this.check(this.history.length === lastSeq, "recovered log is readable to its end", () => {
      return `the registry reports last seq ${lastSeq}, but the log yielded events up to seq ${this.history.length}`
    })
    for (const [seq, event] of this.acks) {
      this.ackedWritesChecked++
      this.check(
        seq <= this.history.length && canonical(this.history[seq - 1]) === event,
        "no acknowledged write lost",
        () => {
          return seq > this.history.length
            ? `acknowledged seq ${seq} is beyond the recovered log (last seq ${lastSeq})`
            : `acknowledged seq ${seq} was ${event}, recovered ${canonical(this.history[seq - 1])}`
        },
      )
    }
  }

  /** Compares everything readers can see (every version of every model, with its aliases) with the reference state. */
  compareState(versionsByModel: ReadonlyMap<string, ReadonlyArray<ModelVersion>>): void {
    const expectedNames = [...this.reference.models.keys()].sort()
    const actualNames = [...versionsByModel.keys()].sort()
    this.check(canonical(expectedNames) === canonical(actualNames), "recovered state = the state of the prefix", () => {
      return `models: expected ${canonical(expectedNames)}, registry has ${canonical(actualNames)}`
    })
    for (const [name, actual] of versionsByModel) {
      this.checkLifecycleRules(name, actual)
      const expected = this.reference.models.get(name) ?? new Map<string, RefVersion>()
      const aliases = this.reference.aliasesOf(name)
      for (const version of actual) {
        const ref = expected.get(version.version)
        const { state, aliases: actualAliases, ...metadata } = version
        const refAliases = [...aliases].filter(([, v]) => v === version.version).map(([alias]) => alias)
        this.check(
          ref !== undefined &&
            ref.state === state &&
            ref.metadata === canonical(metadata) &&
            canonical([...actualAliases].sort()) === canonical(refAliases.sort()),
          "recovered state = the state of the prefix",
          () => {
            return ref === undefined
              ? `${name}@${version.version} is in the registry but not in the recovered history`
              : `${name}@${version.version}: expected ${ref.state} ${canonical(refAliases)} ${ref.metadata}, registry has ${state} ${canonical(actualAliases)} ${canonical(metadata)}`
          },
        )
      }
      this.check(actual.length === expected.size, "recovered state = the state of the prefix", () => {
        return `${name}: expected ${expected.size} versions, registry lists ${actual.length}`
      })
    }
    for (const key of this.existing) {
      const at = key.lastIndexOf("@")
      this.check(
        this.reference.models.get(key.slice(0, at))?.has(key.slice(at + 1)) === true,
        "no acknowledged write lost",
        () => {
          return `${key} was acknowledged as existing, but the recovered state does not have it`
        },
      )
    }
  }

  /** The lifecycle's own rules over what a reader sees: one holder per exclusive state, aliases on allowed states. */
  checkLifecycleRules(name: string, versions: ReadonlyArray<ModelVersion>): void {
    for (const state of Object.keys(this.lifecycle.exclusive)) {
      const holders = versions.filter((v) => v.state === state)
      this.check(holders.length <= 1, `at most one ${state} version per model`, () => {
        return `${name} has ${holders.map((v) => v.version).join(", ")} in ${state}`
      })
    }
    for (const version of versions)
      for (const alias of version.aliases)
        this.check(
          // An alias the lifecycle does not declare is unconstrained.
          this.lifecycle.aliases[alias]?.includes(version.state) ?? true,
          "an alias names a version in a state it allows",
          () => `${name}: alias ${alias} names ${version.version}, which is ${version.state}`,
        )
  }

  /** The observer `name` starts a new process lifetime. */
  observerStarted(name: string): void {
    const log = this.observers.get(name) ?? { epochs: [] }
    log.epochs.push([])
    this.observers.set(name, log)
  }

  delivered(name: string, event: RegistryEvent): void {
    this.observers.get(name)?.epochs.at(-1)?.push(event)
  }

  /**
   * Deliveries so far: each one an event of the history (never one that was later lost), in order and gap-free
   * (a redelivery from an earlier seq is at-least-once, not a gap), and each process starting no later than one
   * past what the previous ones delivered.
   */
  checkDeliveries(): void {
    for (const [name, log] of this.observers) {
      let highest = 0
      log.epochs.forEach((epoch, index) => {
        const first = epoch[0]
        if (first !== undefined)
          this.check(first.seq <= highest + 1, "observer deliveries are at-least-once across crashes", () => {
            return `observer ${name}: process ${index + 1} started at seq ${first.seq}, but seq ${highest} was the highest delivered before`
          })
        epoch.forEach((event, i) => {
          // Next in order, or a redelivery from an earlier seq: a supervised observer that lost its log read or
          // cursor write resumes from its durable cursor (at-least-once). Never a gap past what it has seen.
          if (i > 0)
            this.check(
              event.seq === epoch[i - 1]!.seq + 1 || event.seq <= epoch[i - 1]!.seq,
              "observer deliveries are in order and gap-free",
              () => `observer ${name}: seq ${event.seq} delivered after seq ${epoch[i - 1]!.seq}`,
            )
          this.check(event.seq <= highest + 1, "observer deliveries are in order and gap-free", () => {
            return `observer ${name}: seq ${event.seq} delivered with seq ${highest + 1} never delivered`
          })
          const known = this.history[event.seq - 1]
          this.check(
            known !== undefined && canonical(known) === canonical(event),
            "observers only see durable events",
            () => {
              return known === undefined
                ? `observer ${name} was given ${eventLabel(event)}, which the recovered log does not hold`
                : `observer ${name} was given ${canonical(event)}, the log holds ${canonical(known)}`
            },
          )
          highest = Math.max(highest, event.seq)
        })
      })
    }
  }

  /** The highest seq observer `name` was given, in any process. */
  highestDelivered(name: string): number {
    let highest = 0
    for (const epoch of this.observers.get(name)?.epochs ?? [])
      for (const e of epoch) highest = Math.max(highest, e.seq)
    return highest
  }

  observerNames(): ReadonlyArray<string> {
    return [...this.observers.keys()]
  }

  /** Records a violation found outside the oracle (a hung call, an untyped failure, a failed reopen). */
  report(invariant: string, detail: string): void {
    this.fail(invariant, detail)
  }

  /** Counts a check made outside the oracle. */
  count(ok: boolean, invariant: string, detail: () => string): void {
    this.check(ok, invariant, detail)
  }
}
