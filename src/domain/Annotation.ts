/**
 * What may be recorded about a version or a model after it exists: tags set or removed, and a description. Each
 * annotation is an event that names what each changed field held before and after, so the history shows the change
 * itself and a version's tags at any past seq follow from its current ones.
 */
import { Schema } from "effect"
import { tagEntriesViolation } from "./ModelMetadata.ts"

/** A description: free text, tab and line breaks allowed, at most 64 Ki characters (as metrics are at most 64 KiB). */
export const descriptionLengthMax = 65_536

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

/** Why `value` is not a tag change (`{key: value}` sets, `{key: null}` removes), or `undefined`. */
export const tagChangesViolation = (value: unknown): string | undefined => tagEntriesViolation(value, true)

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
