/**
 * What may be recorded about a version or a model after it exists: tags set or removed, and a description. Each
 * annotation is an event that names what each changed field held before and after, so the history shows the change
 * itself and a version's tags at any past seq follow from its current ones.
 */
import { Schema } from "effect"
import { forbiddenKeys } from "./Json.ts"
import { tagKeyLengthMax, tagsCountMax, tagValueBytesMax } from "./ModelMetadata.ts"

/** A description: free text, tab and line breaks allowed, at most 64 Ki characters (as metrics are at most 64 KiB). */
export const descriptionLengthMax = 65_536

const utf8 = new TextEncoder()

/** Whether the text holds a control character other than tab, line feed and carriage return. */
const hasControl = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if ((unit < 0x20 && unit !== 0x09 && unit !== 0x0a && unit !== 0x0d) || unit === 0x7f) return true
  }
  return false
}

export const descriptionViolation = (value: unknown): string | undefined => {
  if (typeof value !== "string") return "must be a string, or null to remove it"
  if (value.length === 0) return "must not be empty (null removes it)"
  if (value.length > descriptionLengthMax) return `must be at most ${descriptionLengthMax} characters`
  return hasControl(value) ? "must not hold control characters other than tab and line breaks" : undefined
}

export const Description: Schema.declare<string> = Schema.declare(
  (value: unknown): value is string => descriptionViolation(value) === undefined,
  { identifier: "Description", message: (issue) => descriptionViolation(issue.actual) ?? "must be a string" },
)

/**
 * Why `value` is not a tag change (`{key: value}` sets, `{key: null}` removes), or `undefined`. The limits are the
 * registration tags' own, and the tags a change leaves are checked against the count when it is decided.
 */
export const tagChangesViolation = (value: unknown): string | undefined => {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return "must be an object of string values (null removes a tag)"
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return "must be a plain object"
  if (Object.getOwnPropertySymbols(value).length > 0) return "keys must be strings"
  const changes = value as Record<string, unknown>
  const keys = Object.keys(changes)
  if (keys.length > tagsCountMax) return `must change at most ${tagsCountMax} tags (got ${keys.length})`
  for (const key of keys) {
    if (key.length === 0 || key.length > tagKeyLengthMax)
      return `key "${key.slice(0, 32)}" must be 1–${tagKeyLengthMax} characters`
    if (forbiddenKeys.has(key)) return `key "${key}" is reserved`
    const tag = changes[key]
    if (tag === null) continue
    if (typeof tag !== "string") return `tag "${key.slice(0, 32)}" must be a string, or null to remove it`
    if (tag.length * 3 > tagValueBytesMax && utf8.encode(tag).length > tagValueBytesMax)
      return `tag "${key.slice(0, 32)}" must be at most ${tagValueBytesMax} bytes`
  }
  return undefined
}

export const TagChanges: Schema.declare<{ readonly [key: string]: string | null }> = Schema.declare(
  (value: unknown): value is { readonly [key: string]: string | null } => tagChangesViolation(value) === undefined,
  { identifier: "TagChanges", message: (issue) => tagChangesViolation(issue.actual) ?? "must be an object" },
)

/** An annotation as a caller gives it: tags to set (`null` removes one) and a description (`null` removes it). */
export interface Annotation {
  readonly tags?: { readonly [key: string]: string | null }
  readonly description?: string | null
}

export const Annotation: Schema.Schema<Annotation> = Schema.Struct({
  tags: Schema.optionalWith(TagChanges, { exact: true }),
  description: Schema.optionalWith(Schema.NullOr(Description), { exact: true }),
}).pipe(
  Schema.filter(
    (annotation) =>
      annotation.tags !== undefined || annotation.description !== undefined || "must give tags or a description",
  ),
)

/** One field's change, as an annotation event records it: what it held before and after (`null`: absent). */
export const FieldChange: Schema.Struct<{
  from: Schema.NullOr<typeof Schema.String>
  to: Schema.NullOr<typeof Schema.String>
}> = Schema.Struct({ from: Schema.NullOr(Schema.String), to: Schema.NullOr(Schema.String) })
export type FieldChange = typeof FieldChange.Type

/** The tags an event changed, by key. */
export const TagsChanged: Schema.Record$<typeof Schema.String, typeof FieldChange> = Schema.Record({
  key: Schema.String,
  value: FieldChange,
})
export type TagsChanged = typeof TagsChanged.Type

/** A model's own record: what is annotated on it, and whether it is archived. */
export interface ModelInfo {
  readonly name: string
  readonly description?: string
  readonly tags: { readonly [key: string]: string }
  readonly archived: boolean
}
