/**
 * Secondary indexes for search: postings by tag value, state and alias, each order kept sorted, and a query plan
 * that reads the smallest of them rather than every version. Built from the committed index on the first search
 * (a registry nobody searches pays nothing, not even at open), then kept current from the records each commit
 * changed. Sort keys (name, version, `createdAt`, metrics) never change once registered, and versions are never
 * deleted, so a page boundary ("after this key") stays in place whatever is written between pages.
 */
import { Either } from "effect"
import type { InvalidInput } from "../domain/errors.ts"
import type { JsonObject } from "../domain/Json.ts"
import type { ModelVersion } from "../domain/ModelVersion.ts"
import {
  type CursorKey,
  decodeCursor,
  encodeCursor,
  type MetricFilter,
  queryFingerprint,
  type SearchPage,
  type SearchQuery,
  searchLimitDefault,
} from "../domain/Search.ts"
import { partitionPoint } from "./partitionPoint.ts"
import { compareVersionKeys, VersionKey } from "./versionOrder.ts"

/** One version as the indexes hold it: what it is sorted by, and what its postings were built from. */
class Ref extends VersionKey {
  constructor(
    readonly name: string,
    version: string,
    readonly createdAtMs: number,
    readonly metrics: JsonObject,
    /** The record the postings reflect; replaced as commits change the version. */
    public indexed: ModelVersion,
  ) {
    super(version)
  }
}

const refOf = (record: ModelVersion): Ref =>
  new Ref(record.name, record.version, Date.parse(record.createdAt), record.metrics, record)

type Comparator = (a: Ref, b: Ref) => number

const byNameAndVersion = (a: Ref, b: Ref): number =>
  a.name < b.name
    ? -1
    : a.name > b.name
      ? 1
      : compareVersionKeys(a, b) || (a.version < b.version ? -1 : a.version > b.version ? 1 : 0)

const metricValue = (ref: Ref, metric: string): number | undefined => {
  const value = Object.hasOwn(ref.metrics, metric) ? ref.metrics[metric] : undefined
  return typeof value === "number" ? value : undefined
}

/**
 * The total order of `orderBy` in its direction. Ties, and the name and version that break them, go ascending in
 * both directions; versions without the metric come after every version with it, in both directions, as
 * spreadsheets and MLflow place missing values.
 */
const comparatorFor = (orderBy: string, descending: boolean): Comparator => {
  const sign = descending ? -1 : 1
  if (orderBy === "version") return (a, b) => sign * byNameAndVersion(a, b)
  if (orderBy === "createdAt") return (a, b) => sign * (a.createdAtMs - b.createdAtMs) || byNameAndVersion(a, b)
  const metric = orderBy.slice("metric.".length)
  return (a, b) => {
    const x = metricValue(a, metric)
    const y = metricValue(b, metric)
    if (x === undefined || y === undefined) return x === y ? byNameAndVersion(a, b) : x === undefined ? 1 : -1
    return sign * (x - y) || byNameAndVersion(a, b)
  }
}

const sortValue = (ref: Ref, orderBy: string): number | null => {
  if (orderBy === "version") return null
  if (orderBy === "createdAt") return ref.createdAtMs
  return metricValue(ref, orderBy.slice("metric.".length)) ?? null
}

/** A probe standing where a cursor's key stands in the order, for a binary search. */
const probeOf = (key: CursorKey, orderBy: string): Ref => {
  const metrics: Record<string, number> = {}
  if (orderBy.startsWith("metric.") && key.value !== null) metrics[orderBy.slice("metric.".length)] = key.value
  return new Ref(key.name, key.version, orderBy === "createdAt" ? (key.value ?? 0) : 0, metrics, undefined as never)
}

/** Index of the first element of sorted `refs` that `compare` puts after `probe`. */
const firstAfter = (refs: ReadonlyArray<Ref>, probe: Ref, compare: Comparator): number =>
  partitionPoint(refs, (ref) => compare(ref, probe) > 0)

/** Every version in one order; versions added since the last search wait unsorted and are merged in at the next. */
class OrderIndex {
  sorted: Array<Ref> = []
  pending: Array<Ref> = []
  constructor(readonly compare: Comparator) {}

  settle(): ReadonlyArray<Ref> {
    if (this.pending.length === 0) return this.sorted
    const added = this.pending.sort(this.compare)
    this.pending = []
    const merged: Array<Ref> = new Array(this.sorted.length + added.length)
    let i = 0
    let j = 0
    let k = 0
    while (i < this.sorted.length && j < added.length)
      merged[k++] = this.compare(this.sorted[i]!, added[j]!) <= 0 ? this.sorted[i++]! : added[j++]!
    while (i < this.sorted.length) merged[k++] = this.sorted[i++]!
    while (j < added.length) merged[k++] = added[j++]!
    this.sorted = merged
    return merged
  }
}

const holds = (value: number, filter: MetricFilter): boolean => {
  switch (filter.op) {
    case "<":
      return value < filter.value
    case "<=":
      return value <= filter.value
    case ">":
      return value > filter.value
    case ">=":
      return value >= filter.value
    case "=":
      return value === filter.value
    case "!=":
      return value !== filter.value
  }
}

const matches = (record: ModelVersion, ref: Ref, query: SearchQuery): boolean => {
  if (query.namePrefix !== undefined && !record.name.startsWith(query.namePrefix)) return false
  if (query.state !== undefined && record.state !== query.state) return false
  if (query.alias !== undefined && !record.aliases.includes(query.alias)) return false
  if (query.tags !== undefined)
    for (const key in query.tags)
      if (!Object.hasOwn(record.tags, key) || record.tags[key] !== query.tags[key]) return false
  if (query.metrics !== undefined)
    for (const filter of query.metrics) {
      const value = metricValue(ref, filter.metric)
      if (value === undefined || !holds(value, filter)) return false
    }
  return true
}

const tagKey = (key: string, value: string): string => `${key}\u0000${value}`

const addTo = <K>(postings: Map<K, Set<Ref>>, key: K, ref: Ref): void => {
  let set = postings.get(key)
  if (set === undefined) {
    set = new Set()
    postings.set(key, set)
  }
  set.add(ref)
}

const removeFrom = <K>(postings: Map<K, Set<Ref>>, key: K, ref: Ref): void => {
  const set = postings.get(key)
  if (set === undefined) return
  set.delete(ref)
  if (set.size === 0) postings.delete(key)
}

/** What a search did, for tests and the bench to check that an index, not a scan, answered it. */
export interface SearchResult extends SearchPage {
  /** Versions whose record the query tested: the candidates an index gave, or the length of the order scanned. */
  readonly examined: number
}

/** A plan reads candidates from an index when they are fewer than this share of all versions; else it scans. */
const candidateShareMax = 1 / 8

export class SearchIndex {
  private readonly refs = new Map<string, Map<string, Ref>>()
  private readonly tags = new Map<string, Set<Ref>>()
  private readonly states = new Map<string, Set<Ref>>()
  private readonly aliases = new Map<string, Set<Ref>>()
  private readonly orders = new Map<string, OrderIndex>()
  private count = 0

  constructor(
    versions: Iterable<ModelVersion>,
    /** The committed record of a version, as readers get it. */
    private readonly current: (name: string, version: string) => ModelVersion | undefined,
    /** Whether a model is archived: its versions match only a query that includes archived models. */
    private readonly archived: (name: string) => boolean,
  ) {
    for (const record of versions) this.changed(record)
  }

  /** A commit made `record` the committed record of its version (new, or replacing the one indexed). */
  changed(record: ModelVersion): void {
    let model = this.refs.get(record.name)
    if (model === undefined) {
      model = new Map()
      this.refs.set(record.name, model)
    }
    const known = model.get(record.version)
    if (known === undefined) {
      const ref = refOf(record)
      model.set(record.version, ref)
      this.count++
      this.post(ref, record)
      for (const order of this.orders.values()) order.pending.push(ref)
      return
    }
    const before = known.indexed
    if (before === record) return
    this.unpost(known, before)
    known.indexed = record
    this.post(known, record)
  }

  private post(ref: Ref, record: ModelVersion): void {
    for (const key in record.tags) addTo(this.tags, tagKey(key, record.tags[key]!), ref)
    addTo(this.states, record.state, ref)
    for (const alias of record.aliases) addTo(this.aliases, alias, ref)
  }

  private unpost(ref: Ref, record: ModelVersion): void {
    for (const key in record.tags) removeFrom(this.tags, tagKey(key, record.tags[key]!), ref)
    removeFrom(this.states, record.state, ref)
    for (const alias of record.aliases) removeFrom(this.aliases, alias, ref)
  }

  private order(orderBy: string, descending: boolean): OrderIndex {
    const key = `${descending ? "-" : "+"}${orderBy}`
    let order = this.orders.get(key)
    if (order === undefined) {
      order = new OrderIndex(comparatorFor(orderBy, descending))
      for (const model of this.refs.values()) for (const ref of model.values()) order.pending.push(ref)
      this.orders.set(key, order)
    }
    return order
  }

  /**
   * The smallest candidate set an index gives for `query`, or `undefined` when no filter narrows it: a tag's or a
   * state's or an alias's postings, a model-name prefix's versions, or a metric comparison's range.
   */
  private candidates(query: SearchQuery): Iterable<Ref> | undefined {
    let best: { readonly size: number; readonly refs: () => Iterable<Ref> } | undefined
    const consider = (size: number, refs: () => Iterable<Ref>) => {
      if (best === undefined || size < best.size) best = { size, refs }
    }
    const none: ReadonlyArray<Ref> = []
    const posting = (set: Set<Ref> | undefined) => consider(set?.size ?? 0, () => set ?? none)
    if (query.tags !== undefined) for (const key in query.tags) posting(this.tags.get(tagKey(key, query.tags[key]!)))
    if (query.state !== undefined) posting(this.states.get(query.state))
    if (query.alias !== undefined) posting(this.aliases.get(query.alias))
    const prefix = query.namePrefix
    if (prefix !== undefined && prefix.length > 0) {
      const models = [...this.refs.entries()].filter(([name]) => name.startsWith(prefix))
      consider(
        models.reduce((total, [, model]) => total + model.size, 0),
        () => models.flatMap(([, model]) => [...model.values()]),
      )
    }
    for (const filter of query.metrics ?? []) {
      if (filter.op === "!=") continue
      const [sorted, from, to] = this.metricRange(filter)
      consider(to - from, () => sorted.slice(from, to))
    }
    if (best === undefined || best.size > this.count * candidateShareMax) return undefined
    return best.refs()
  }

  /** The versions `filter` holds for: a range of the metric's ascending order. */
  private metricRange(filter: MetricFilter): readonly [ReadonlyArray<Ref>, number, number] {
    const sorted = this.order(`metric.${filter.metric}`, false).settle()
    const metric = filter.metric
    const withMetric = partitionPoint(sorted, (ref) => metricValue(ref, metric) === undefined)
    // Where the values reach `filter.value` (at or past it when `past`), within the versions that have the metric.
    const reach = (past: boolean) =>
      partitionPoint(
        sorted,
        (ref) => {
          const value = metricValue(ref, metric)!
          return past ? value > filter.value : value >= filter.value
        },
        0,
        withMetric,
      )
    switch (filter.op) {
      case "<":
        return [sorted, 0, reach(false)]
      case "<=":
        return [sorted, 0, reach(true)]
      case ">":
        return [sorted, reach(true), withMetric]
      case ">=":
        return [sorted, reach(false), withMetric]
      default:
        return [sorted, reach(false), reach(true)]
    }
  }

  search(query: SearchQuery): Either.Either<SearchResult, InvalidInput> {
    const orderBy = query.orderBy ?? "version"
    const descending = query.descending ?? false
    const limit = query.limit ?? searchLimitDefault
    const fingerprint = queryFingerprint(query)
    let after: Ref | undefined
    if (query.cursor !== undefined) {
      const key = decodeCursor(query.cursor, fingerprint)
      if (Either.isLeft(key)) return Either.left(key.left)
      after = probeOf(key.right, orderBy)
    }
    const order = this.order(orderBy, descending)
    const compare = order.compare
    // Matches in the order's terms; one more than the page says whether a next page exists.
    const hits: Array<{ readonly ref: Ref; readonly record: ModelVersion }> = []
    let examined = 0
    const test = (ref: Ref): void => {
      examined++
      const record = this.current(ref.name, ref.version)
      if (record === undefined || (query.includeArchived !== true && this.archived(ref.name))) return
      if (matches(record, ref, query)) hits.push({ ref, record })
    }
    const candidates = this.candidates(query)
    if (candidates !== undefined) {
      for (const ref of candidates) if (after === undefined || compare(ref, after) > 0) test(ref)
      hits.sort((x, y) => compare(x.ref, y.ref))
    } else {
      const sorted = order.settle()
      for (let i = after === undefined ? 0 : firstAfter(sorted, after, compare); i < sorted.length; i++) {
        test(sorted[i]!)
        if (hits.length > limit) break
      }
    }
    const page = hits.slice(0, limit)
    const last = page[page.length - 1]?.ref
    const nextCursor =
      hits.length > limit && last !== undefined
        ? encodeCursor({ query: fingerprint, value: sortValue(last, orderBy), name: last.name, version: last.version })
        : null
    return Either.right({ versions: page.map((hit) => hit.record), nextCursor, examined })
  }
}
