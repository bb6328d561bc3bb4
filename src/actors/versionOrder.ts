/**
 * SemVer precedence at the speed the index needs: the versions it sorts on insert, and the orders search keeps.
 */
import { compareParsed, type ParsedSemVer, parseSemVer, type SemVer } from "../domain/SemVer.ts"

/**
 * A version with what ordering needs. Plain releases (`1.2.3`, by far the common case) are ordered by their three
 * numbers; anything else is parsed by `semver` on first comparison. Parsing every version with `semver` on insert
 * was a tenth of a register's CPU budget (bench/results).
 */
export class VersionKey {
  /** major.minor.patch of a plain release; `major` is -1 for a version with a pre-release or build part. */
  readonly major: number = -1
  readonly minor: number = 0
  readonly patch: number = 0
  private parsedVersion: ParsedSemVer | undefined = undefined

  constructor(readonly version: string) {
    // The three numbers of `d.d.d` (a version already validated as SemVer), without an array per version: a
    // snapshot's open makes a million of these.
    let major = 0
    let minor = 0
    let patch = 0
    let part = 0
    let digits = 0
    for (let i = 0; i < version.length; i++) {
      const code = version.charCodeAt(i)
      if (code >= 48 && code <= 57) {
        const digit = code - 48
        if (part === 0) major = major * 10 + digit
        else if (part === 1) minor = minor * 10 + digit
        else patch = patch * 10 + digit
        // Beyond 15 digits a part may not be an exact double; leave such versions to `semver`.
        if (++digits > 15) return
      } else if (code === 46 && part < 2 && digits > 0) {
        part++
        digits = 0
      } else return
    }
    if (part !== 2 || digits === 0) return
    this.major = major
    this.minor = minor
    this.patch = patch
  }

  get parsed(): ParsedSemVer {
    this.parsedVersion ??= parseSemVer(this.version as SemVer)
    return this.parsedVersion
  }
}

/** SemVer precedence (build metadata ignored), as `compareParsed`. */
export const compareVersionKeys = (a: VersionKey, b: VersionKey): number => {
  if (a.major >= 0 && b.major >= 0) return a.major - b.major || a.minor - b.minor || a.patch - b.patch
  return compareParsed(a.parsed, b.parsed)
}
