/**
 * Who caused an event. Every event written by this release names its actor: a server token's name, an embedding
 * app's `actor` write option, or one of the reserved actors below. The reserved ones are parenthesized, a form no
 * token name and no `actor` option can take, so an actor read back from the log is never ambiguous: `(unknown)`
 * can only mean a record written before actors were recorded, never a token someone named "unknown".
 */
import { Schema } from "effect"

/** Records written before events carried their actor. */
export const unknownActor = "(unknown)"
/** A write through the embedded API that named no actor, and the lifecycle change the opening process records. */
export const embeddedActor = "(embedded)"
/** A write to a server that has no token configured (a loopback bind), so nobody can be named. */
export const anonymousActor = "(anonymous)"

export const actorLengthMax = 128

/** Whether the text holds a C0 or C1 control or DEL: an actor ends up in log lines and terminals. */
const hasControl = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x20 || (unit >= 0x7f && unit <= 0x9f)) return true
  }
  return false
}

/** Why `text` cannot be an event's actor, or `undefined`; reserved actors pass (the log holds them). */
export const actorTextViolation = (text: string): string | undefined => {
  if (text.length === 0) return "must not be empty"
  if (text.length > actorLengthMax) return `must be at most ${actorLengthMax} characters`
  return hasControl(text) ? "must be printable (no control characters)" : undefined
}

/**
 * Why `text` cannot be given as a write's `actor`, or `undefined`. The parenthesized form is the registry's own:
 * of it only `(embedded)` and `(anonymous)` may be given (a server without tokens names its writes so), never
 * `(unknown)`, which only records older than actors carry and so keeps meaning exactly that.
 */
export const actorOptionViolation = (text: unknown): string | undefined => {
  if (typeof text !== "string") return "must be a string"
  const violation = actorTextViolation(text)
  if (violation !== undefined) return violation
  return text.startsWith("(") && text !== embeddedActor && text !== anonymousActor
    ? "must not start with '(' (reserved for the registry's own actors)"
    : undefined
}

export const isActorText = (value: unknown): value is string =>
  typeof value === "string" && actorTextViolation(value) === undefined

/** An actor as an event stores it. */
export const Actor: Schema.filter<typeof Schema.String> = Schema.String.pipe(
  Schema.filter((text) => actorTextViolation(text) ?? true, {
    identifier: "Actor",
    jsonSchema: { minLength: 1, maxLength: actorLengthMax },
  }),
)
