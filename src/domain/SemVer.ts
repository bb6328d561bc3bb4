/**
 * Semantic versions, parsed once on the way in and ordered by SemVer 2.0.0 precedence (never string order,
 * which sorts "1.10.0" before "1.2.0"). Parsing comes from the `semver` package, which is the reference
 * implementation npm itself uses and imports nothing runtime-specific; the pre-release half of precedence is ours,
 * because `semver` compares numeric identifiers as doubles.
 */
import { Schema } from "effect"
import { SemVer as ParsedSemVer } from "semver"

/** The longest version string accepted: long enough for any real pre-release + build, short enough to bound memory. */
export const semVerLengthMax = 256

/**
 * The official SemVer 2.0.0 regex (semver.org), except that major/minor/patch are limited to 15 digits: the
 * `semver` package rejects parts above Number.MAX_SAFE_INTEGER (16 digits), so longer ones are left to it.
 * Pre-release numeric identifiers of any size are accepted by `semver` (kept as strings), and so here. It only
 * ever answers "valid" for what `semver` accepts too (test/domain/fastDecode.test.ts), and it answers without
 * building a parsed object or a thrown error, which is what the register hot path needs.
 */
const semVerPattern =
  /^(?:0|[1-9]\d{0,14})\.(?:0|[1-9]\d{0,14})\.(?:0|[1-9]\d{0,14})(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$/

const parseStrict = (text: string): ParsedSemVer | undefined => {
  // `semver` tolerates a leading "v"/"=" and surrounding spaces; SemVer 2.0.0 does not, and neither do we.
  if (text.length === 0 || text.length > semVerLengthMax || !/^[0-9]/.test(text) || text.trim() !== text)
    return undefined
  try {
    return new ParsedSemVer(text, { loose: false })
  } catch {
    return undefined
  }
}

/**
 * Whether `value` is a SemVer 2.0.0 version of the common shape (parts of at most 15 digits): the regex alone,
 * no parsed object and no thrown error, which is what the fast decoders (fastDecode.ts) need. A `false` is not
 * "invalid": ask `isSemVer`.
 */
export const isCommonSemVer = (value: unknown): value is string =>
  typeof value === "string" && value.length <= semVerLengthMax && semVerPattern.test(value)

/**
 * Whether `value` is a SemVer 2.0.0 string: the regex for every common version, `semver` itself for the rest.
 * The one statement of the rule; the Schema below is declared over it.
 */
export const isSemVer = (value: unknown): value is string =>
  isCommonSemVer(value) || (typeof value === "string" && parseStrict(value) !== undefined)

/**
 * A SemVer 2.0.0 string, kept exactly as given (build metadata included). Its JSON Schema pattern is semver.org's
 * regex itself: the 15-digit bound of `semVerPattern` is the fast path's, not the rule's.
 */
export const SemVer: Schema.brand<Schema.filter<typeof Schema.String>, "SemVer"> = Schema.String.pipe(
  Schema.filter((text) => isSemVer(text) || "must be a SemVer 2.0.0 version such as 1.2.3 or 1.0.0-rc.1", {
    identifier: "SemVer",
    jsonSchema: { maxLength: semVerLengthMax, pattern: semVerPattern.source.replaceAll("\\d{0,14}", "\\d*") },
  }),
  Schema.brand("SemVer"),
)
export type SemVer = typeof SemVer.Type

/** The parsed form, for ordering. Throws on an invalid string: callers hold a decoded `SemVer`. */
export const parseSemVer = (version: SemVer): ParsedSemVer => parseStrict(version)!

const numericIdentifier = /^[0-9]+$/

/**
 * Pre-release identifiers by SemVer 2.0.0 rule 11. `semver` turns numeric identifiers into doubles to compare
 * them, so two beyond 2^53 can compare equal (or in the wrong order); a strictly parsed numeric identifier has no
 * leading zero, so the longer digit string is the larger number, and equal lengths compare as strings.
 */
const compareIdentifiers = (a: string | number, b: string | number): number => {
  if (typeof a === "number" && typeof b === "number") return a - b
  const [x, y] = [String(a), String(b)]
  const [xNumeric, yNumeric] = [numericIdentifier.test(x), numericIdentifier.test(y)]
  if (xNumeric && yNumeric) return x.length !== y.length ? x.length - y.length : x < y ? -1 : x > y ? 1 : 0
  if (xNumeric !== yNumeric) return xNumeric ? -1 : 1
  return x < y ? -1 : x > y ? 1 : 0
}

const comparePrerelease = (a: ReadonlyArray<string | number>, b: ReadonlyArray<string | number>): number => {
  // A version without pre-release identifiers outranks every pre-release of it.
  if (a.length === 0 || b.length === 0) return b.length - a.length
  const shared = Math.min(a.length, b.length)
  for (let i = 0; i < shared; i++) {
    const order = compareIdentifiers(a[i]!, b[i]!)
    if (order !== 0) return order
  }
  return a.length - b.length
}

/**
 * SemVer precedence: negative, zero or positive. Build metadata is ignored, so 1.0.0+a and 1.0.0+b compare equal.
 * Major, minor and patch are exact as `semver` holds them (it refuses any above Number.MAX_SAFE_INTEGER); the
 * pre-release identifiers are compared here, exactly at any length.
 */
export const compareParsed = (a: ParsedSemVer, b: ParsedSemVer): number =>
  a.compareMain(b) || comparePrerelease(a.prerelease, b.prerelease)

export const compareSemVer = (a: SemVer, b: SemVer): number => compareParsed(parseSemVer(a), parseSemVer(b))

export type { ParsedSemVer }
