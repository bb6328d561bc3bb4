/**
 * What a registered version records, and the input a caller gives to register one. Every input passes
 * through these schemas once, at the edge; inside the registry the types are trusted.
 */
import { Schema } from "effect"
import { forbiddenKeys, type JsonObject, jsonViolation } from "./Json.ts"
import { ModelName } from "./ModelName.ts"
import { SemVer } from "./SemVer.ts"

export const metricsBytesMax = 64 * 1024
export const tagsCountMax = 64
export const tagKeyLengthMax = 128
export const tagValueBytesMax = 1024
export const sourceLengthMax = 2048
export const runIdLengthMax = 256

const utf8 = new TextEncoder()

/** The number written by `count` ASCII digits of `text` from `start`, or -1 if any is not a digit. */
const digitsAt = (text: string, start: number, count: number): number => {
  let value = 0
  for (let i = start; i < start + count; i++) {
    const digit = text.charCodeAt(i) - 48
    if (digit < 0 || digit > 9) return -1
    value = value * 10 + digit
  }
  return value
}

const isLeapYear = (year: number): boolean => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
const daysInMonth = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * Whether `text` is an instant as `Date.prototype.toISOString` writes it (`YYYY-MM-DDTHH:MM:SS`, then `.` and 1–3
 * digits optionally, then `Z`) that names a real calendar time: `Date.parse` alone rolls 2026-02-31 over to March
 * 3rd and 24:00 to the next day. By hand: this runs for every register and for two timestamps of every version
 * a restart reads, and a regex + `Date.parse` + `toISOString` round trip would be the largest single cost of
 * opening a registry after JSON.parse (bench/, recovery profile). test/domain/ModelMetadata.test.ts checks it
 * against that round trip.
 */
export const isIsoTimestamp = (text: string): boolean => isIsoTimestampAt(text, 0, text.length)

/**
 * `isIsoTimestamp` of `text.slice(start, end)` without making that string: a snapshot's open checks a million
 * timestamps inside its bodies' text.
 */
export const isIsoTimestampAt = (text: string, start: number, end: number): boolean => {
  const length = end - start
  if (length !== 20 && (length < 22 || length > 24)) return false
  if (
    text.charCodeAt(start + 4) !== 45 || // -
    text.charCodeAt(start + 7) !== 45 ||
    text.charCodeAt(start + 10) !== 84 || // T
    text.charCodeAt(start + 13) !== 58 || // :
    text.charCodeAt(start + 16) !== 58 ||
    text.charCodeAt(end - 1) !== 90 // Z
  )
    return false
  if (length > 20 && (text.charCodeAt(start + 19) !== 46 || digitsAt(text, start + 20, length - 21) < 0)) return false
  const year = digitsAt(text, start, 4)
  const month = digitsAt(text, start + 5, 2)
  const day = digitsAt(text, start + 8, 2)
  const hour = digitsAt(text, start + 11, 2)
  const minute = digitsAt(text, start + 14, 2)
  const second = digitsAt(text, start + 17, 2)
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23) return false
  if (minute < 0 || minute > 59 || second < 0 || second > 59) return false
  return day <= (month === 2 && isLeapYear(year) ? 29 : daysInMonth[month]!)
}

/** An ISO-8601 instant in UTC, as `Date.prototype.toISOString` writes it (milliseconds optional). */
export const IsoTimestamp: Schema.filter<typeof Schema.String> = Schema.String.pipe(
  Schema.filter(
    (text) => isIsoTimestamp(text) || "must be an ISO-8601 UTC timestamp such as 2026-01-31T12:00:00.000Z",
    { identifier: "IsoTimestamp", jsonSchema: { format: "date-time" } },
  ),
)

const uuidPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

/** Whether `value` is a UUID string (any version), as `Schema.UUID` accepts it. */
export const isUuid = (value: unknown): value is string => typeof value === "string" && uuidPattern.test(value)

/**
 * A version's id. Declared over `isUuid` rather than as `Schema.UUID`, so that the Schema and the fast decoders
 * share one rule; the annotations keep `Schema.UUID`'s error message and JSON Schema.
 */
export const Uuid: Schema.refine<string, Schema.Schema<unknown, string>> = Schema.String.pipe(
  Schema.filter(isUuid, {
    identifier: "UUID",
    description: "a Universally Unique Identifier",
    jsonSchema: { format: "uuid", pattern: uuidPattern.source },
  }),
)

/**
 * An absolute URI as RFC 3986 writes one: a scheme, `:`, then only the characters a URI may hold, each `%` starting
 * a percent-encoded octet. No whitespace, no quote, no backslash, so it is written to JSON as it is. The pattern's
 * text is shared with the snapshot's body check (fastDecode.ts), so the two accept the same sources.
 */
export const sourceUriPattern = "[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9._~:/?#\\[\\]@!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+"
const sourceUri = new RegExp(`^${sourceUriPattern}$`)

/** Whether `value` is a model's artifact location: an absolute URI (`s3://…`, `file:///…`) of at most 2,048 characters. */
export const isSourceUri = (value: unknown): value is string =>
  typeof value === "string" && value.length <= sourceLengthMax && sourceUri.test(value)

export const SourceUri: Schema.filter<typeof Schema.String> = Schema.String.pipe(
  Schema.filter(
    (text) =>
      isSourceUri(text) ||
      `must be an absolute URI of at most ${sourceLengthMax} characters, such as s3://bucket/model or file:///models/m`,
    { identifier: "SourceUri", jsonSchema: { format: "uri", maxLength: sourceLengthMax } },
  ),
)

/** Whether `value` names a training run: 1–256 characters, none of them a control character. */
export const isRunId = (value: unknown): value is string => {
  if (typeof value !== "string" || value.length === 0 || value.length > runIdLengthMax) return false
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code < 0x20 || code === 0x7f) return false
  }
  return true
}

export const RunId: Schema.filter<typeof Schema.String> = Schema.String.pipe(
  Schema.filter((text) => isRunId(text) || `must be 1–${runIdLengthMax} characters without control characters`, {
    identifier: "RunId",
    jsonSchema: { minLength: 1, maxLength: runIdLengthMax },
  }),
)

/**
 * `target` with the artifact location and run `from` has, each only if given: a version without them has no such
 * keys at all (docs/architecture.md, "Data model"), so the common case returns `target` itself.
 */
export const addProvenance = <A extends object>(
  target: A,
  from: { readonly source?: string | undefined; readonly runId?: string | undefined },
): A & { readonly source?: string; readonly runId?: string } =>
  from.source === undefined && from.runId === undefined
    ? target
    : {
        ...target,
        ...(from.source === undefined ? {} : { source: from.source }),
        ...(from.runId === undefined ? {} : { runId: from.runId }),
      }

/** Metrics: a JSON object of finite numbers, strings, booleans, null, arrays and nested objects, at most 64 KiB encoded. */
const metricsViolation = (value: unknown): string | undefined => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "must be a JSON object"
  const found = jsonViolation(value, "")
  if (found) return `${found.path.replace(/^\./, "") || "value"} ${found.rule}`
  const bytes = utf8.encode(JSON.stringify(value)).length
  return bytes <= metricsBytesMax ? undefined : `must encode to at most ${metricsBytesMax} bytes (got ${bytes})`
}

// A declaration rather than a filter: Effect's error formatter would otherwise render the offending value,
// recursing through a hostile, deeply nested one until the stack overflows.
export const Metrics: Schema.declare<JsonObject> = Schema.declare(
  (value: unknown): value is JsonObject => metricsViolation(value) === undefined,
  {
    identifier: "Metrics",
    message: (issue) => metricsViolation(issue.actual) ?? "must be a JSON object",
  },
)

/**
 * Why `value` is not acceptable tags, or `undefined`. Checked on the input as given, not after `Schema.Record`,
 * which silently dropped an own `__proto__` key (JSON.parse makes one) instead of refusing it.
 */
export const tagsViolation = (value: unknown): string | undefined => tagEntriesViolation(value, false)

/**
 * Why `value` is not tags, or, `removable`, a change of tags (a value `null` removes its tag), or `undefined`: one
 * rule for the tags a registration gives and the changes an annotation makes (Annotation.ts).
 */
export const tagEntriesViolation = (value: unknown, removable: boolean): string | undefined => {
  const values = removable ? "string values (null removes a tag)" : "string values"
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `must be an object of ${values}`
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return `must be a plain object of ${values}`
  if (Object.getOwnPropertySymbols(value).length > 0) return "keys must be strings"
  const tags = value as Record<string, unknown>
  const keys = Object.keys(tags)
  if (keys.length > tagsCountMax) return `must have at most ${tagsCountMax} tags (got ${keys.length})`
  for (const key of keys) {
    if (key.length === 0 || key.length > tagKeyLengthMax)
      return `key "${key.slice(0, 32)}" must be 1–${tagKeyLengthMax} characters`
    if (forbiddenKeys.has(key)) return `key "${key}" is reserved`
    const tag = tags[key]
    if (removable && tag === null) continue
    if (typeof tag !== "string") return `tag "${key.slice(0, 32)}" must be a string${removable ? ", or null" : ""}`
    if (tag.length * 3 > tagValueBytesMax && utf8.encode(tag).length > tagValueBytesMax)
      return `tag "${key.slice(0, 32)}" must be at most ${tagValueBytesMax} bytes`
  }
  return undefined
}

/** Tags: at most 64 string labels; keys 1–128 characters, values at most 1 KiB. A declaration, like Metrics. */
export const Tags: Schema.declare<{ readonly [key: string]: string }> = Schema.declare(
  (value: unknown): value is { readonly [key: string]: string } => tagsViolation(value) === undefined,
  { identifier: "Tags", message: (issue) => tagsViolation(issue.actual) ?? "must be an object of string values" },
)
export type Tags = typeof Tags.Type

export const ModelMetadata: Schema.Struct<{
  id: typeof Uuid
  name: typeof ModelName
  version: typeof SemVer
  createdAt: typeof IsoTimestamp
  metrics: typeof Metrics
  tags: typeof Tags
  source: Schema.optionalWith<typeof SourceUri, { exact: true }>
  runId: Schema.optionalWith<typeof RunId, { exact: true }>
}> = Schema.Struct({
  id: Uuid,
  name: ModelName,
  version: SemVer,
  createdAt: IsoTimestamp,
  metrics: Metrics,
  tags: Tags,
  /** Where the model's artifacts live; fixed at registration, like everything here. */
  source: Schema.optionalWith(SourceUri, { exact: true }),
  /** The training run that produced it. */
  runId: Schema.optionalWith(RunId, { exact: true }),
})
export type ModelMetadata = typeof ModelMetadata.Type

/** What a caller sends to register a version. A missing id or createdAt is filled by the injected services. */
export const RegisterInput: Schema.Struct<{
  name: typeof ModelName
  version: typeof SemVer
  metrics: Schema.optionalWith<typeof Metrics, { exact: true }>
  tags: Schema.optionalWith<typeof Tags, { exact: true }>
  id: Schema.optionalWith<typeof Uuid, { exact: true }>
  createdAt: Schema.optionalWith<typeof IsoTimestamp, { exact: true }>
  source: Schema.optionalWith<typeof SourceUri, { exact: true }>
  runId: Schema.optionalWith<typeof RunId, { exact: true }>
}> = Schema.Struct({
  name: ModelName,
  version: SemVer,
  metrics: Schema.optionalWith(Metrics, { exact: true }),
  tags: Schema.optionalWith(Tags, { exact: true }),
  id: Schema.optionalWith(Uuid, { exact: true }),
  createdAt: Schema.optionalWith(IsoTimestamp, { exact: true }),
  source: Schema.optionalWith(SourceUri, { exact: true }),
  runId: Schema.optionalWith(RunId, { exact: true }),
})
export type RegisterInput = typeof RegisterInput.Encoded
