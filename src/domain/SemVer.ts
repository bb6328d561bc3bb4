/**
 * Semantic versions, parsed once on the way in and ordered by SemVer 2.0.0 precedence (never string order,
 * which sorts "1.10.0" before "1.2.0"). Parsing and precedence come from the `semver` package, which is
 * the reference implementation npm itself uses and imports nothing runtime-specific.
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

/** A SemVer 2.0.0 string, kept exactly as given (build metadata included). */
export const SemVer = Schema.String.pipe(
  Schema.filter((text) => isSemVer(text) || "must be a SemVer 2.0.0 version such as 1.2.3 or 1.0.0-rc.1", {
    identifier: "SemVer",
  }),
  Schema.brand("SemVer"),
)
export type SemVer = typeof SemVer.Type

/** The parsed form, for ordering. Throws on an invalid string: callers hold a decoded `SemVer`. */
export const parseSemVer = (version: SemVer): ParsedSemVer => parseStrict(version)!

/** SemVer precedence: negative, zero or positive. Build metadata is ignored, so 1.0.0+a and 1.0.0+b compare equal. */
export const compareParsed = (a: ParsedSemVer, b: ParsedSemVer): number => a.compare(b)

export const compareSemVer = (a: SemVer, b: SemVer): number => compareParsed(parseSemVer(a), parseSemVer(b))

export type { ParsedSemVer }
