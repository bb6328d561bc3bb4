/**
 * What a search asks and what a page of its answer is: the filters (name prefix, tag equality, state, alias, metric
 * comparisons), the order, the page size and the cursor, validated once at the edge like every other input. The
 * text forms the HTTP query string and the CLI take (`accuracy>=0.9`, `team=vision`) parse here too, so both
 * interfaces accept exactly the same language.
 */
import { Either, Encoding, Schema } from "effect"
import { decoder } from "./decode.ts"
import { InvalidInput } from "./errors.ts"
import { forbiddenKeys } from "./Json.ts"
import { AliasName, LifecycleStateName } from "./Lifecycle.ts"
import { tagKeyLengthMax, tagsCountMax, tagValueBytesMax } from "./ModelMetadata.ts"
import { modelNameLengthMax } from "./ModelName.ts"
import type { ModelSummary, ModelVersion } from "./ModelVersion.ts"

/** A page holds this many versions unless the query asks for fewer or more. */
export const searchLimitDefault = 100
/** The most a page may hold: a page is built and sent whole. */
export const searchLimitMax = 1000
/** Metric comparisons per query; each one is a range scan or a check per candidate. */
export const metricFiltersMax = 16

export const comparisonOperators = ["<", "<=", ">", ">=", "=", "!="] as const
export type ComparisonOperator = (typeof comparisonOperators)[number]

const metricNameViolation = (name: string): string | undefined =>
  name.length > 0 && name.length <= tagKeyLengthMax && !forbiddenKeys.has(name)
    ? undefined
    : `must be 1–${tagKeyLengthMax} characters and not a reserved key`

const MetricName = Schema.String.pipe(Schema.filter((name) => metricNameViolation(name) ?? true))

export interface MetricFilter {
  readonly metric: string
  readonly op: ComparisonOperator
  readonly value: number
}

export const MetricFilter: Schema.Schema<MetricFilter> = Schema.Struct({
  metric: MetricName,
  op: Schema.Literal(...comparisonOperators),
  value: Schema.Number.pipe(Schema.filter((value) => Number.isFinite(value) || "must be a finite number")),
})

/** `version` is model name, then SemVer precedence; `createdAt` the instant; `metric.<name>` a numeric metric. */
export const SearchOrder: Schema.filter<typeof Schema.String> = Schema.String.pipe(
  Schema.filter(
    (order) =>
      order === "version" ||
      order === "createdAt" ||
      (order.startsWith("metric.") && order.length > 7 && order.length <= 7 + tagKeyLengthMax) ||
      'must be "version", "createdAt" or "metric.<name>"',
  ),
)

const SearchTags = Schema.Record({
  key: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(tagKeyLengthMax)),
  value: Schema.String.pipe(Schema.maxLength(tagValueBytesMax)),
}).pipe(Schema.filter((tags) => Object.keys(tags).length <= tagsCountMax || `at most ${tagsCountMax} tags`))

const Limit = Schema.Number.pipe(Schema.int(), Schema.between(1, searchLimitMax))

const NamePrefix = Schema.optionalWith(Schema.String.pipe(Schema.maxLength(modelNameLengthMax)), { exact: true })

const pageFields = {
  limit: Schema.optionalWith(Limit, { exact: true }),
  /** `nextCursor` of the previous page of the same query. */
  cursor: Schema.optionalWith(Schema.String.pipe(Schema.maxLength(4096)), { exact: true }),
}

/** A search's filters, order and page; `Alias` is the alias name as given (`string`) or as decoded. */
interface SearchFields<Alias> {
  readonly namePrefix?: string
  readonly tags?: { readonly [key: string]: string }
  readonly state?: string
  readonly alias?: Alias
  readonly metrics?: ReadonlyArray<MetricFilter>
  readonly orderBy?: string
  readonly descending?: boolean
  readonly limit?: number
  readonly cursor?: string
  /** Versions of archived models too (default: left out). */
  readonly includeArchived?: boolean
}
export interface SearchQuery extends SearchFields<AliasName> {}
/** A search as a caller writes it, before `decodeSearchQuery`. */
export interface SearchQueryInput extends SearchFields<string> {}

export const SearchQuery: Schema.Schema<SearchQuery, SearchQueryInput> = Schema.Struct({
  /** Versions of models whose name starts with this (a model name's characters; empty matches every model). */
  namePrefix: NamePrefix,
  /** Every tag given must be set to exactly this value. */
  tags: Schema.optionalWith(SearchTags, { exact: true }),
  state: Schema.optionalWith(LifecycleStateName, { exact: true }),
  /** Versions an alias of their model names. */
  alias: Schema.optionalWith(AliasName, { exact: true }),
  /** Every comparison must hold; a version whose metric is absent or not a number matches none. */
  metrics: Schema.optionalWith(Schema.Array(MetricFilter).pipe(Schema.maxItems(metricFiltersMax)), { exact: true }),
  orderBy: Schema.optionalWith(SearchOrder, { exact: true }),
  descending: Schema.optionalWith(Schema.Boolean, { exact: true }),
  ...pageFields,
  includeArchived: Schema.optionalWith(Schema.Boolean, { exact: true }),
})

export const decodeSearchQuery: (input: unknown) => Either.Either<SearchQuery, InvalidInput> = decoder(SearchQuery)

export interface SearchPage {
  readonly versions: ReadonlyArray<ModelVersion>
  /** Pass it as `cursor` with the same query for the next page; `null` on the last page. */
  readonly nextCursor: string | null
}

export interface ModelsQuery {
  readonly namePrefix?: string
  readonly limit?: number
  readonly cursor?: string
  /** Archived models too (default: left out). */
  readonly includeArchived?: boolean
}

export const ModelsQuery: Schema.Schema<ModelsQuery> = Schema.Struct({
  namePrefix: NamePrefix,
  ...pageFields,
  includeArchived: Schema.optionalWith(Schema.Boolean, { exact: true }),
})

export const decodeModelsQuery: (input: unknown) => Either.Either<ModelsQuery, InvalidInput> = decoder(ModelsQuery)

export interface ModelsPage {
  readonly models: ReadonlyArray<ModelSummary>
  readonly nextCursor: string | null
}

const invalid = (field: string, rule: string) => new InvalidInput({ field, message: `${field}: ${rule}` })

const comparisonPattern = /^\s*(?:metric\.)?([^<>=!\s]+)\s*(<=|>=|!=|<|>|=)\s*(\S+)\s*$/

/** `accuracy>=0.9` or `metric.accuracy >= 0.9`, as the HTTP `metric` parameter and the CLI's `--metric` take it. */
export const parseMetricFilter = (text: string): Either.Either<MetricFilter, InvalidInput> => {
  const field = "metric"
  const match = comparisonPattern.exec(text)
  const rule = `"${text.slice(0, 64)}" must be <metric><op><number> with op one of ${comparisonOperators.join(" ")}, e.g. accuracy>=0.9`
  if (match === null) return Either.left(invalid(field, rule))
  const value = Number(match[3])
  if (!Number.isFinite(value)) return Either.left(invalid(field, rule))
  const metric = match[1]!
  const violation = metricNameViolation(metric)
  if (violation !== undefined) return Either.left(invalid(field, `metric name "${metric.slice(0, 64)}" ${violation}`))
  return Either.right({ metric, op: match[2] as ComparisonOperator, value })
}

/** `key=value` (the value may contain `=`), as the HTTP `tag` parameter and the CLI's `--tag` take it. */
export const parseTagFilter = (text: string): Either.Either<readonly [string, string], InvalidInput> => {
  const field = "tag"
  const at = text.indexOf("=")
  if (at <= 0) return Either.left(invalid(field, `"${text.slice(0, 64)}" must be key=value`))
  return Either.right([text.slice(0, at), text.slice(at + 1)] as const)
}

/**
 * Where the previous page ended, in the query's order: the last version's sort value (its `createdAt` in ms or its
 * metric, `null` for `version` order or a version without the metric) and its name and version. Versions are never
 * deleted and their sort values never change, so "after this key" names the same place whatever is written between
 * pages. `query` ties the cursor to the query it came from.
 */
export interface CursorKey {
  readonly query: string
  readonly value: number | null
  readonly name: string
  readonly version: string
}

/** The parts of a query that decide which versions it matches and their order: a cursor is valid for these only. */
export const queryFingerprint = (query: SearchQuery | ModelsQuery): string => {
  const { cursor: _cursor, limit: _limit, ...rest } = query
  const canonical = JSON.stringify(rest, (_key, value) =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  )
  // FNV-1a: the fingerprint only has to tell queries apart, not resist anyone; a cursor grants nothing.
  let hash = 0x811c9dc5
  for (let i = 0; i < canonical.length; i++) hash = Math.imul(hash ^ canonical.charCodeAt(i), 0x01000193) >>> 0
  return hash.toString(36)
}

export const encodeCursor = (key: CursorKey): string =>
  Encoding.encodeBase64Url(JSON.stringify([1, key.query, key.value, key.name, key.version]))

export const decodeCursor = (cursor: string, query: string): Either.Either<CursorKey, InvalidInput> => {
  const refused = Either.left(invalid("cursor", "is not a cursor this query returned"))
  const text = Encoding.decodeBase64UrlString(cursor)
  if (Either.isLeft(text)) return refused
  let parts: unknown
  try {
    parts = JSON.parse(text.right)
  } catch {
    return refused
  }
  if (!Array.isArray(parts) || parts.length !== 5 || parts[0] !== 1) return refused
  const [, fingerprint, value, name, version] = parts as [unknown, unknown, unknown, unknown, unknown]
  if (fingerprint !== query) return Either.left(invalid("cursor", "belongs to a different query"))
  if ((value !== null && typeof value !== "number") || typeof name !== "string" || typeof version !== "string")
    return refused
  return Either.right({ query, value, name, version })
}

/** A search as text, the way a query string and a command line give it: repeatable `tag` and `metric`. */
export interface SearchText {
  readonly namePrefix?: string | undefined
  readonly tag?: ReadonlyArray<string> | undefined
  readonly state?: string | undefined
  readonly alias?: string | undefined
  readonly metric?: ReadonlyArray<string> | undefined
  readonly orderBy?: string | undefined
  readonly order?: string | undefined
  readonly limit?: string | undefined
  readonly cursor?: string | undefined
  readonly includeArchived?: string | undefined
}

/** The names `searchFromText` reads, for an interface that refuses any other. */
export const searchTextKeys: ReadonlyArray<keyof SearchText> = [
  "namePrefix",
  "tag",
  "state",
  "alias",
  "metric",
  "orderBy",
  "order",
  "limit",
  "cursor",
  "includeArchived",
]

/** A whole number as text, or `NaN`, which the query's schema then refuses as a limit. */
const integerText = (text: string): number => (/^\d{1,9}$/.test(text) ? Number(text) : Number.NaN)

/** `"true"` or `"false"`, as a query string gives a flag; anything else is refused by the query's schema. */
const booleanText = (text: string): boolean | string => (text === "true" ? true : text === "false" ? false : text)

/** The query a search's text forms make: each part checked here or by `decodeSearchQuery`, which runs next. */
export const searchFromText = (text: SearchText): Either.Either<SearchQuery, InvalidInput> => {
  const tags: Record<string, string> = {}
  for (const given of text.tag ?? []) {
    const parsed = parseTagFilter(given)
    if (Either.isLeft(parsed)) return Either.left(parsed.left)
    const [key, value] = parsed.right
    if (Object.hasOwn(tags, key) && tags[key] !== value)
      return Either.left(invalid("tag", `"${key}" is given two values; a version has one`))
    tags[key] = value
  }
  const metrics: Array<MetricFilter> = []
  for (const given of text.metric ?? []) {
    const parsed = parseMetricFilter(given)
    if (Either.isLeft(parsed)) return Either.left(parsed.left)
    metrics.push(parsed.right)
  }
  if (text.order !== undefined && text.order !== "asc" && text.order !== "desc")
    return Either.left(invalid("order", 'must be "asc" or "desc"'))
  return decodeSearchQuery({
    ...(text.namePrefix === undefined ? {} : { namePrefix: text.namePrefix }),
    ...(Object.keys(tags).length === 0 ? {} : { tags }),
    ...(text.state === undefined ? {} : { state: text.state }),
    ...(text.alias === undefined ? {} : { alias: text.alias }),
    ...(metrics.length === 0 ? {} : { metrics }),
    ...(text.orderBy === undefined ? {} : { orderBy: text.orderBy }),
    ...(text.order === undefined ? {} : { descending: text.order === "desc" }),
    ...(text.limit === undefined ? {} : { limit: integerText(text.limit) }),
    ...(text.cursor === undefined ? {} : { cursor: text.cursor }),
    ...(text.includeArchived === undefined ? {} : { includeArchived: booleanText(text.includeArchived) }),
  })
}

/** A models listing as text; without `limit`, every model after the cursor. */
export const modelsFromText = (text: {
  readonly namePrefix?: string | undefined
  readonly limit?: string | undefined
  readonly cursor?: string | undefined
  readonly includeArchived?: string | undefined
}): Either.Either<ModelsQuery, InvalidInput> =>
  decodeModelsQuery({
    ...(text.namePrefix === undefined ? {} : { namePrefix: text.namePrefix }),
    ...(text.limit === undefined ? {} : { limit: integerText(text.limit) }),
    ...(text.cursor === undefined ? {} : { cursor: text.cursor }),
    ...(text.includeArchived === undefined ? {} : { includeArchived: booleanText(text.includeArchived) }),
  })
