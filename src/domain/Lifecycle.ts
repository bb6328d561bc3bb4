/**
 * The names a lifecycle is made of (its own name, its states, its events, and the aliases a model's versions may
 * carry), and the binding the log records: which lifecycle a data directory is written under.
 *
 * These names appear in URL paths (`/transitions/{event}`, `/aliases/{alias}`), log lines and Mermaid diagrams, so
 * they share one closed alphabet: a letter, then letters, digits, `_` and `-`. An alias can then never be read as
 * a version (a version starts with a digit).
 */
import { Schema } from "effect"

/** A state of a lifecycle. The default lifecycle's are `registered`, `production` and `deprecated`. */
export type LifecycleState = string

/** The default lifecycle's states, which every directory written before lifecycles could be chosen holds. */
export const lifecycleStates: ReadonlyArray<LifecycleState> = ["registered", "production", "deprecated"]

export const lifecycleNameLengthMax = 64
const lifecycleNamePattern = /^[A-Za-z][A-Za-z0-9_-]*$/

/** Why `text` cannot name a lifecycle, a state, an event or an alias, or `undefined`. */
export const lifecycleNameViolation = (text: string): string | undefined => {
  if (text.length === 0) return "must not be empty"
  if (text.length > lifecycleNameLengthMax) return `must be at most ${lifecycleNameLengthMax} characters`
  return lifecycleNamePattern.test(text)
    ? undefined
    : "must start with a letter and contain only letters, digits, '_' and '-'"
}

const lifecycleName = (identifier: string): Schema.filter<typeof Schema.String> =>
  Schema.String.pipe(
    Schema.filter((text) => lifecycleNameViolation(text) ?? true, {
      identifier,
      jsonSchema: { minLength: 1, maxLength: lifecycleNameLengthMax, pattern: lifecycleNamePattern.source },
    }),
  )

/** A model's alias: a movable name (`champion`, `staging`) for one of its versions. */
export const AliasName: Schema.brand<Schema.filter<typeof Schema.String>, "AliasName"> = lifecycleName(
  "AliasName",
).pipe(Schema.brand("AliasName"))
export type AliasName = typeof AliasName.Type

/** A lifecycle event's name (`promote`, `archive`), as a transition command gives it. */
export const LifecycleEventName: Schema.filter<typeof Schema.String> = lifecycleName("LifecycleEventName")

/** A lifecycle state's name. */
export const LifecycleStateName: Schema.filter<typeof Schema.String> = lifecycleName("LifecycleStateName")

/**
 * Which lifecycle a log is written under: its name, a fingerprint of its definition (states, transitions and
 * whether each is guarded, exclusive states, alias constraints), and its exclusive states, which the index needs to
 * restore a snapshot without the definition at hand.
 */
export const LifecycleBinding: Schema.Struct<{
  name: Schema.filter<typeof Schema.String>
  fingerprint: typeof Schema.String
  exclusive: Schema.Array$<Schema.filter<typeof Schema.String>>
}> = Schema.Struct({
  name: lifecycleName("LifecycleName"),
  fingerprint: Schema.String,
  exclusive: Schema.Array(LifecycleStateName),
})
export type LifecycleBinding = typeof LifecycleBinding.Type
