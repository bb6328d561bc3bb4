/**
 * The registry's state as snapshot bytes (the storage layer wraps them with its header and checksum).
 *
 * Format (UTF-8 lines): a header `{"lastSeq":N,"versions":COUNT,"lifecycle":BINDING}` (snapshots written before
 * lifecycles could be chosen have no `lifecycle`: the default one), then the versions in index order as JSON arrays
 * of at most `versionsPerLine` each, one array per line, not one JSON document: that string would pass V8's
 * maximum string length (2^29 - 24 characters) at about 1.6M versions, where compaction would throw, and a restart
 * could not read it back. Lines of a few thousand versions keep every string small, and parsing an array per line
 * costs what one big document did (per-version lines were slower).
 *
 * Every version is checked on the way back: the fast validator first, the Schema for anything it does not accept
 * (which also words the error). The checksum already proves the bytes are the ones written; this proves they
 * hold what the index may hold, so a bug in an older writer cannot come back as a corrupt registry.
 */
import { Duration, Effect, Either, Schema } from "effect"
import { decoder } from "../domain/decode.ts"
import { decodeStoredVersionFastPath } from "../domain/fastDecode.ts"
import { AliasName, LifecycleBinding, LifecycleStateName } from "../domain/Lifecycle.ts"
import { ModelMetadata } from "../domain/ModelMetadata.ts"
import type { ModelVersion } from "../domain/ModelVersion.ts"
import { compiledDefault } from "./builtinLifecycles.ts"
import { type IndexSnapshot, RegistryIndex } from "./RegistryIndex.ts"

/**
 * Versions per line: enough to amortize a line's parse, few enough that a line stays far below V8's string limit and
 * the encoder can yield between lines without holding up the batch loop.
 */
export const versionsPerLine = 4096
const newline = 10

/** A version as a snapshot stores it; `aliases` is absent from snapshots written before aliases existed. */
export const StoredVersion = Schema.Struct({
  ...ModelMetadata.fields,
  state: LifecycleStateName,
  aliases: Schema.optionalWith(Schema.Array(AliasName), { exact: true, default: () => [] }),
})
const decodeStoredVersion = decoder(StoredVersion)
const decodeBinding = decoder(LifecycleBinding)
const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder("utf-8", { fatal: true })

/** The snapshot's lines, without their newlines. `perLine` is for tests: readers accept any line size. */
function* snapshotLines(snapshot: IndexSnapshot, perLine: number): Generator<string> {
  const { versions } = snapshot
  yield JSON.stringify({ lastSeq: snapshot.lastSeq, versions: versions.length, lifecycle: snapshot.lifecycle })
  for (let start = 0; start < versions.length; start += perLine)
    yield JSON.stringify(versions.slice(start, start + perLine))
}

/**
 * UTF-8 lines into one buffer, sized for ASCII and grown when a line needs more: a worst-case bound (3 bytes per
 * UTF-16 unit) would allocate three times the snapshot, about a gigabyte at 1M versions.
 */
class LineBuffer {
  private bytes = new Uint8Array(1 << 16)
  private length = 0

  add(line: string): void {
    for (;;) {
      const { read, written } = utf8Encoder.encodeInto(line, this.bytes.subarray(this.length))
      if (read === line.length && this.length + written < this.bytes.length) {
        this.length += written
        this.bytes[this.length++] = newline
        return
      }
      const grown = new Uint8Array(this.bytes.length * 2 + line.length * 3 + 1)
      grown.set(this.bytes.subarray(0, this.length))
      this.bytes = grown
    }
  }

  contents(): Uint8Array {
    return this.bytes.slice(0, this.length)
  }
}

export const encodeIndexState = (snapshot: IndexSnapshot, perLine = versionsPerLine): Uint8Array => {
  const buffer = new LineBuffer()
  for (const line of snapshotLines(snapshot, perLine)) buffer.add(line)
  return buffer.contents()
}

/**
 * The same bytes, giving way to everything else after every line, so that a large snapshot does not hold up the
 * registry's writers (bench/results). `Effect.yieldNow` is not enough: Effect's scheduler resumes a yielding fiber
 * in a microtask, so I/O callbacks (the log's fdatasync) would wait for the whole encoding. A zero sleep goes through the Clock: a macrotask in a
 * real runtime, a virtual timer under the simulator.
 */
export const encodeIndexStateCooperatively = (snapshot: IndexSnapshot): Effect.Effect<Uint8Array> =>
  Effect.gen(function* () {
    const buffer = new LineBuffer()
    for (const line of snapshotLines(snapshot, versionsPerLine)) {
      buffer.add(line)
      yield* Effect.sleep(Duration.zero)
    }
    return buffer.contents()
  })

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

export const decodeIndexState = (bytes: Uint8Array): Either.Either<IndexSnapshot, string> => {
  const lines = parseLines(bytes)
  if (typeof lines === "string") return Either.left(lines)
  const header = lines[0] as { lastSeq?: unknown; versions?: unknown; lifecycle?: unknown } | undefined
  if (
    typeof header !== "object" ||
    header === null ||
    Object.keys(header).length !== ("lifecycle" in header ? 3 : 2) ||
    !isCount(header.lastSeq) ||
    !isCount(header.versions)
  )
    return Either.left('the first line is not {"lastSeq": <count>, "versions": <count>, "lifecycle": <binding>}')
  const binding = "lifecycle" in header ? decodeBinding(header.lifecycle) : Either.right(compiledDefault.binding)
  if (Either.isLeft(binding)) return Either.left(`the header's lifecycle: ${binding.left.message}`)
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
        version = decoded.right as ModelVersion
      }
      versions[filled++] = version
    }
  }
  if (filled !== count) return Either.left(`the header announces ${count} versions, the lines hold ${filled}`)
  return Either.right({ lastSeq: header.lastSeq, lifecycle: binding.right, versions })
}

/** The index a snapshot's bytes describe, or why they describe none (bad bytes, or a broken invariant). */
export const restoreIndex = (bytes: Uint8Array): Either.Either<RegistryIndex, string> =>
  Either.flatMap(decodeIndexState(bytes), (snapshot) => RegistryIndex.fromSnapshot(snapshot))
