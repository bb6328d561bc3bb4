/**
 * The registry's state as snapshot bytes (the storage layer wraps them with its header and checksum).
 *
 * Format (UTF-8 lines): a header `{"lastSeq":N,"versions":COUNT}`, then the versions in index order as JSON arrays
 * of at most `versionsPerLine` each, one array per line. It used to be one JSON document: its string passes V8's
 * maximum string length (2^29 - 24 characters) at about 1.6M versions, where compaction would throw, and a restart
 * could not read it back. Lines of a few thousand versions keep every string small, and parsing an array per line
 * costs what one big document did (per-version lines were slower).
 *
 * Every version is checked on the way back: the fast validator first, the Schema for anything it does not accept
 * (which also words the error). The checksum already proves the bytes are the ones written; this proves they
 * hold what the index may hold, so a bug in an older writer cannot come back as a corrupt registry.
 */
import { Either, Schema } from "effect"
import { decoder } from "../domain/decode.ts"
import { decodeStoredVersionFastPath } from "../domain/fastDecode.ts"
import { lifecycleStates } from "../domain/Lifecycle.ts"
import { ModelMetadata } from "../domain/ModelMetadata.ts"
import type { ModelVersion } from "../domain/ModelVersion.ts"
import type { Lifecycle } from "./lifecycle.ts"
import { type IndexSnapshot, RegistryIndex } from "./RegistryIndex.ts"

/** About 1.3 MB of JSON per line with the bench's ~330-byte versions. */
export const versionsPerLine = 4096
const newline = 10

const StoredVersion = Schema.extend(ModelMetadata, Schema.Struct({ state: Schema.Literal(...lifecycleStates) }))
const decodeStoredVersion = decoder(StoredVersion)
const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder("utf-8", { fatal: true })

/** `perLine` is for tests: readers accept any line size. */
export const encodeSnapshot = (snapshot: IndexSnapshot, perLine = versionsPerLine): Uint8Array => {
  const { versions } = snapshot
  const lines = [JSON.stringify({ lastSeq: snapshot.lastSeq, versions: versions.length })]
  for (let start = 0; start < versions.length; start += perLine)
    lines.push(JSON.stringify(versions.slice(start, start + perLine)))
  // Sized for ASCII, grown when a line needs more: a worst-case bound (3 bytes per UTF-16 unit) would allocate
  // three times the snapshot, about a gigabyte at 1M versions.
  let size = lines.length
  for (const line of lines) size += line.length
  let bytes = new Uint8Array(size)
  let offset = 0
  for (const line of lines) {
    for (;;) {
      const { read, written } = utf8Encoder.encodeInto(line, bytes.subarray(offset))
      if (read === line.length && offset + written < bytes.length) {
        offset += written
        break
      }
      const grown = new Uint8Array(bytes.length * 2 + line.length * 3 + 1)
      grown.set(bytes.subarray(0, offset))
      bytes = grown
    }
    bytes[offset++] = newline
  }
  return offset === bytes.length ? bytes : bytes.slice(0, offset)
}

/** Each line, decoded and parsed; a string says why the bytes are not a snapshot. */
const parseLines = (bytes: Uint8Array): Array<unknown> | string => {
  const parsed: Array<unknown> = []
  let start = 0
  while (start < bytes.length) {
    const end = bytes.indexOf(newline, start)
    if (end < 0) return `line ${parsed.length + 1} has no end (the snapshot ends mid-line)`
    try {
      parsed.push(JSON.parse(utf8Decoder.decode(bytes.subarray(start, end))))
    } catch (error) {
      return `line ${parsed.length + 1} is not UTF-8 JSON: ${String(error)}`
    }
    start = end + 1
  }
  return parsed
}

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0

export const decodeSnapshot = (bytes: Uint8Array): Either.Either<IndexSnapshot, string> => {
  const lines = parseLines(bytes)
  if (typeof lines === "string") return Either.left(lines)
  const header = lines[0] as { lastSeq?: unknown; versions?: unknown } | undefined
  if (
    typeof header !== "object" ||
    header === null ||
    Object.keys(header).length !== 2 ||
    !isCount(header.lastSeq) ||
    !isCount(header.versions)
  )
    return Either.left('the first line is not {"lastSeq": <count>, "versions": <count>}')
  const count = header.versions
  const versions: Array<ModelVersion> = new Array(count)
  let filled = 0
  for (let line = 1; line < lines.length; line++) {
    const chunk = lines[line]
    if (!Array.isArray(chunk) || chunk.length === 0 || filled + chunk.length > count)
      return Either.left(`line ${line + 1} is not an array of at most the ${count - filled} versions still expected`)
    for (let i = 0; i < chunk.length; i++) {
      let version = decodeStoredVersionFastPath(chunk[i])
      if (version === undefined) {
        const decoded = decodeStoredVersion(chunk[i])
        if (Either.isLeft(decoded)) return Either.left(`version ${filled + 1}: ${decoded.left.message}`)
        version = decoded.right
      }
      versions[filled++] = version
    }
  }
  if (filled !== count) return Either.left(`the header announces ${count} versions, the lines hold ${filled}`)
  return Either.right({ lastSeq: header.lastSeq, versions })
}

/** The index a snapshot's bytes describe, or why they describe none (bad bytes, or a broken invariant). */
export const restoreIndex = (bytes: Uint8Array, rules?: Lifecycle): Either.Either<RegistryIndex, string> =>
  Either.flatMap(decodeSnapshot(bytes), (snapshot) => {
    const index = RegistryIndex.fromSnapshot(snapshot, rules)
    return typeof index === "string" ? Either.left(index) : Either.right(index)
  })
