/**
 * Semantic versions, parsed once on the way in and ordered by SemVer 2.0.0 precedence (never string order:
 * the seed sorted "1.10.0" before "1.2.0"). Parsing and precedence come from the `semver` package, which is
 * the reference implementation npm itself uses and imports nothing runtime-specific.
 */
import { Schema } from "effect"
import { SemVer as ParsedSemVer } from "semver"

/** The longest version string accepted: long enough for any real pre-release + build, short enough to bound memory. */
export const semVerLengthMax = 256

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

/** A SemVer 2.0.0 string, kept exactly as given (build metadata included). */
export const SemVer = Schema.String.pipe(
  Schema.filter(
    (text) => parseStrict(text) !== undefined || "must be a SemVer 2.0.0 version such as 1.2.3 or 1.0.0-rc.1",
    {
      identifier: "SemVer",
    },
  ),
  Schema.brand("SemVer"),
)
export type SemVer = typeof SemVer.Type

/** The parsed form, for ordering. Throws on an invalid string: callers hold a decoded `SemVer`. */
export const parseSemVer = (version: SemVer): ParsedSemVer => parseStrict(version)!

/** SemVer precedence: negative, zero or positive. Build metadata is ignored, so 1.0.0+a and 1.0.0+b compare equal. */
export const compareParsed = (a: ParsedSemVer, b: ParsedSemVer): number => a.compare(b)

export const compareSemVer = (a: SemVer, b: SemVer): number => compareParsed(parseSemVer(a), parseSemVer(b))

export type { ParsedSemVer }
