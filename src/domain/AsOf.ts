/**
 * A past moment to read the registry at: a seq (the state right after that event was committed) or a time (the
 * state after every event committed at or before it). Reads that take one answer exactly what the registry held
 * then, from the history every version and model keeps (actors/History.ts).
 */
import { Either } from "effect"
import { InvalidInput } from "./errors.ts"
import { isIsoTimestamp } from "./ModelMetadata.ts"

export type AsOf =
  | { readonly _tag: "Seq"; readonly seq: number }
  | { readonly _tag: "Time"; readonly ms: number; readonly text: string }

/**
 * How a caller gives one: a seq as a number or as `"seq:1234"`, or a time as an ISO-8601 timestamp with its zone
 * (`"2026-11-20T10:00:00Z"`) or a `Date`.
 */
export type AsOfInput = number | string | Date

const refuse = (rule: string) => Either.left(new InvalidInput({ field: "asOf", message: `asOf: ${rule}` }))
const rule = 'must be a seq (a whole number, or "seq:N") or an ISO-8601 timestamp such as 2026-11-20T10:00:00Z'

const seqOf = (seq: number): Either.Either<AsOf, InvalidInput> =>
  Number.isSafeInteger(seq) && seq >= 0 ? Either.right({ _tag: "Seq", seq }) : refuse(rule)

export const decodeAsOf = (input: unknown): Either.Either<AsOf, InvalidInput> => {
  if (typeof input === "number") return seqOf(input)
  if (input instanceof Date) {
    const ms = input.getTime()
    return Number.isNaN(ms)
      ? refuse("is an invalid Date")
      : Either.right({ _tag: "Time", ms, text: input.toISOString() })
  }
  if (typeof input !== "string") return refuse(rule)
  const seq = /^seq:(\d{1,16})$/.exec(input)
  if (seq !== null) return seqOf(Number(seq[1]))
  if (!isIsoTimestamp(input)) return refuse(rule)
  return Either.right({ _tag: "Time", ms: Date.parse(input), text: input })
}

/** The moment as the text form `decodeAsOf` reads back. */
export const formatAsOf = (asOf: AsOf): string => (asOf._tag === "Seq" ? `seq:${asOf.seq}` : asOf.text)

/** The options of a read that can look at the past. */
export interface ReadOptions {
  readonly asOf?: AsOfInput
}

/**
 * A moment as a query string or a command line gives it: `seq:N` or a timestamp, as `decodeAsOf` reads them, and a
 * bare whole number, which text cannot tell from a seq otherwise. What stays refused is refused by the read.
 */
export const asOfFromText = (text: string): AsOfInput => (/^\d+$/.test(text) ? Number(text) : text)
