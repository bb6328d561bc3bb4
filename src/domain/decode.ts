/**
 * The one gate between untrusted input and the domain: a Schema decode whose failure becomes `InvalidInput`
 * naming the field and the rule it broke. Unknown fields are rejected, so a typo ("metric") is an error
 * instead of silently dropped data.
 */
import { Either, ParseResult, Schema } from "effect"
import { InvalidInput } from "./errors.ts"
import { ModelName } from "./ModelName.ts"
import { SemVer } from "./SemVer.ts"

const firstIssue = (error: ParseResult.ParseError) => {
  try {
    return ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  } catch {
    // The formatter renders the offending value; a hostile, deeply nested one overflows the stack there.
    return { path: [], message: "is invalid (too deeply nested to describe)" }
  }
}

const toInvalidInput = (error: ParseResult.ParseError, root: string): InvalidInput => {
  const first = firstIssue(error)
  const field = [root, ...(first?.path ?? []).map(String)].filter((part) => part.length > 0).join(".") || "input"
  const rule = first?.message ?? "is invalid"
  return new InvalidInput({ field, message: `${field}: ${rule}` })
}

/** Builds a decoder once (Schema compiles its parser on first use) and reuses it for every input. */
export const decoder = <A, I>(
  schema: Schema.Schema<A, I>,
  root = "",
): ((input: unknown) => Either.Either<A, InvalidInput>) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "first", onExcessProperty: "error" })
  return (input: unknown): Either.Either<A, InvalidInput> =>
    Either.mapLeft(decode(input), (error) => toInvalidInput(error, root))
}

export const decodeModelName: (input: unknown) => Either.Either<ModelName, InvalidInput> = decoder(ModelName, "name")
export const decodeSemVer: (input: unknown) => Either.Either<SemVer, InvalidInput> = decoder(SemVer, "version")
