/**
 * Hand-written, one-pass validators in front of the Schema decoders, for the three places that check every
 * version: `register` input, the events replayed from the log, and the versions a snapshot restores.
 *
 * Why they exist: the Schema decode of a `register` input costs more CPU than the rest of a `register` together
 * (bench/ measures both), and Schema-checking every stored version made up most of opening a large registry.
 * Schema interprets its AST and builds a parse result per node; none of that is needed to say "valid".
 *
 * Why it is safe: each field rule has one statement, a predicate beside its Schema (`isModelName`, `isCommonSemVer`,
 * `isUuid`, `isIsoTimestamp`, `tagsViolation`), and the Schema is declared over it; this module only adds the
 * walk over the record and a fast upper bound of the metrics' encoded size. It only ever answers "definitely
 * valid": for anything it does not recognise as valid (every invalid input, and any valid but unusual one: class
 * instances, a forbidden key, a polluted prototype, ...) it calls the Schema decoder itself, so errors
 * (`InvalidInput { field, message }`) are the Schema path's by construction. test/domain/fastDecode.test.ts
 * proves the equivalence with fast-check: for generated valid, mutated-invalid and arbitrary junk inputs, the
 * result deep-equals `decoder(RegisterInput)`'s, and the fast path never accepts an input the Schema rejects.
 *
 * Known limit (shared in spirit with the Schema path): values are read through their getters/proxies; an
 * impure getter inside `metrics` (returning different values on different reads) may be judged differently,
 * because the Schema path reads each metrics value twice (rule walk, then `JSON.stringify`) and this one once.
 */
import { Either } from "effect"
import { isActorText, unknownActor } from "./Actor.ts"
import { decoder } from "./decode.ts"
import type { InvalidInput } from "./errors.ts"
import { forbiddenKeys, jsonDepthMax } from "./Json.ts"
import { lifecycleStates } from "./Lifecycle.ts"
import {
  isIsoTimestamp,
  isIsoTimestampAt,
  isRunId,
  isSourceUri,
  isUuid,
  type ModelMetadata,
  metricsBytesMax,
  RegisterInput,
  runIdLengthMax,
  sourceLengthMax,
  sourceUriPattern,
  tagsViolation,
} from "./ModelMetadata.ts"
import { isModelName } from "./ModelName.ts"
import type { ModelVersion } from "./ModelVersion.ts"
import type { RegistryEvent } from "./RegistryEvent.ts"
import { isCommonSemVer } from "./SemVer.ts"

export type RegisterInputDecoded = typeof RegisterInput.Type

const slow = decoder(RegisterInput)
const utf8 = new TextEncoder()

/** Longest `String(number)` for a finite double is 25 characters (e.g. "-0.0000012345678901234567"). */
const numberJsonBytesMax = 32
/** A UTF-16 code unit encodes to at most 6 bytes in JSON (`\u001f`, an escaped lone surrogate; else ≤ 3). */
const jsonBytesPerCodeUnitMax = 6

const objectPrototype = Object.prototype
const arrayPrototype = Array.prototype

/**
 * An upper bound of the UTF-8 length of `JSON.stringify(value)` if `value` is acceptable per `jsonViolation`
 * (Json.ts) at `depth`, or -1 if it is not, or might not be, or `JSON.stringify` might not see what this sees.
 */
const jsonBound = (value: unknown, depth: number): number => {
  if (depth > jsonDepthMax) return -1
  switch (typeof value) {
    case "string":
      return value.length * jsonBytesPerCodeUnitMax + 2
    case "number":
      return Number.isFinite(value) ? numberJsonBytesMax : -1
    case "boolean":
      return 5
    case "object": {
      if (value === null) return 4
      if (Array.isArray(value)) {
        // A subclass or an own `toJSON` would make `JSON.stringify` write something else than what was walked.
        if (Object.getPrototypeOf(value) !== arrayPrototype || (value as { toJSON?: unknown }).toJSON !== undefined)
          return -1
        let total = 2
        for (let i = 0; i < value.length; i++) {
          const item = jsonBound(value[i], depth + 1)
          if (item < 0) return -1
          total += item + 1
        }
        return total
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== objectPrototype && proto !== null) return -1
      const record = value as Record<string, unknown>
      const keys = Object.keys(record)
      let total = 2
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!
        if (forbiddenKeys.has(key)) return -1
        const item = jsonBound(record[key], depth + 1)
        if (item < 0) return -1
        total += key.length * jsonBytesPerCodeUnitMax + 4 + item
      }
      return total
    }
    default:
      return -1
  }
}

const isValidMetrics = (value: unknown): boolean => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false
  // A polluted Object.prototype.toJSON would change what `JSON.stringify` writes: let the slow path judge.
  if ((objectPrototype as { toJSON?: unknown }).toJSON !== undefined) return false
  const bound = jsonBound(value, 0)
  if (bound < 0) return false
  return bound <= metricsBytesMax || utf8.encode(JSON.stringify(value)).length <= metricsBytesMax
}

const isValidTimestamp = (value: unknown): value is string => typeof value === "string" && isIsoTimestamp(value)

/**
 * Which shape is checked: a register input (name and version required), stored metadata (every field), or a
 * stored version (metadata plus `state`, as a snapshot holds it).
 */
type Shape = "register-input" | "metadata" | "stored-version"
const nameBit = 1
const versionBit = 2
const metricsBit = 4
const tagsBit = 8
const idBit = 16
const createdAtBit = 32
const stateBit = 64
const sourceBit = 128
const runIdBit = 256
const metadataBits = 63
const states: ReadonlySet<unknown> = new Set(lifecycleStates)
const noAliases: ReadonlyArray<string> = Object.freeze([])

const fastPath = (input: unknown, shape: Shape): Record<string, unknown> | undefined => {
  if (typeof input !== "object" || input === null) return undefined
  const proto = Object.getPrototypeOf(input)
  if (proto !== objectPrototype && proto !== null) return undefined
  const record = input as Record<string, unknown>
  // Reflect.ownKeys, as Schema's excess-property check: symbols and non-enumerable keys count too.
  const keys = Reflect.ownKeys(record)
  let name: unknown
  let version: unknown
  let metrics: unknown
  let tags: unknown
  let id: unknown
  let createdAt: unknown
  let state: unknown
  let source: unknown
  let runId: unknown
  let seen = 0
  for (let i = 0; i < keys.length; i++) {
    switch (keys[i]) {
      case "name":
        name = record.name
        seen |= nameBit
        break
      case "version":
        version = record.version
        seen |= versionBit
        break
      case "metrics":
        metrics = record.metrics
        seen |= metricsBit
        break
      case "tags":
        tags = record.tags
        seen |= tagsBit
        break
      case "id":
        id = record.id
        seen |= idBit
        break
      case "createdAt":
        createdAt = record.createdAt
        seen |= createdAtBit
        break
      case "source":
        source = record.source
        seen |= sourceBit
        break
      case "runId":
        runId = record.runId
        seen |= runIdBit
        break
      case "state":
        if (shape !== "stored-version") return undefined
        state = record.state
        seen |= stateBit
        break
      case "aliases":
        // Versions without aliases, nearly all of them, only: the Schema decodes the rest.
        if (shape !== "stored-version" || !Array.isArray(record.aliases) || record.aliases.length !== 0)
          return undefined
        break
      default:
        return undefined
    }
  }
  const required =
    shape === "register-input" ? nameBit | versionBit : shape === "metadata" ? metadataBits : metadataBits | stateBit
  if ((seen & required) !== required || !isModelName(name) || !isCommonSemVer(version)) return undefined
  if (seen & metricsBit && !isValidMetrics(metrics)) return undefined
  if (seen & tagsBit && tagsViolation(tags) !== undefined) return undefined
  if (seen & idBit && !isUuid(id)) return undefined
  if (seen & createdAtBit && !isValidTimestamp(createdAt)) return undefined
  if (seen & (sourceBit | runIdBit)) {
    if ((seen & sourceBit && !isSourceUri(source)) || (seen & runIdBit && !isRunId(runId))) return undefined
    return withProvenance(
      shape === "register-input"
        ? withGiven(seen, { name, version }, metrics, tags, id, createdAt)
        : { id, name, version, createdAt, metrics, tags },
      seen,
      source,
      runId,
      shape === "stored-version" ? state : undefined,
    )
  }
  if (shape === "stored-version") {
    if (!states.has(state)) return undefined
    return { id, name, version, createdAt, metrics, tags, state, aliases: noAliases }
  }
  // Same keys, same order as Schema's Struct output (metrics and tags pass through: Schema.declare keeps them).
  if (shape === "metadata") return { id, name, version, createdAt, metrics, tags }
  // Every field given, the common case: one literal, not an object grown key by key past its in-object slots.
  if (seen === metadataBits) return { name, version, metrics, tags, id, createdAt }
  return withGiven(seen, { name, version }, metrics, tags, id, createdAt)
}

/** A register input's optional fields that were given, in Schema's order. */
const withGiven = (
  seen: number,
  out: Record<string, unknown>,
  metrics: unknown,
  tags: unknown,
  id: unknown,
  createdAt: unknown,
): Record<string, unknown> => {
  if (seen & metricsBit) out.metrics = metrics
  if (seen & tagsBit) out.tags = tags
  if (seen & idBit) out.id = id
  if (seen & createdAtBit) out.createdAt = createdAt
  return out
}

/**
 * The rarer shape with an artifact location or a run: those keys after the rest, as Schema's Struct writes them, and a
 * stored version's state and aliases last.
 */
const withProvenance = (
  out: Record<string, unknown>,
  seen: number,
  source: unknown,
  runId: unknown,
  state: unknown,
): Record<string, unknown> | undefined => {
  if (seen & sourceBit) out.source = source
  if (seen & runIdBit) out.runId = runId
  if (seen & stateBit) {
    if (!states.has(state)) return undefined
    out.state = state
    out.aliases = noAliases
  }
  return out
}

/**
 * The decoded input if it is definitely valid, otherwise `undefined` (which does NOT mean invalid: the caller
 * must then ask the Schema decoder). Exported for the equivalence tests.
 */
export const decodeRegisterInputFastPath = (input: unknown): RegisterInputDecoded | undefined =>
  fastPath(input, "register-input") as RegisterInputDecoded | undefined

/**
 * Stored metadata (`ModelMetadata`, every field required) if definitely valid, else `undefined`: ask the Schema
 * decoder. Replaying the log and loading snapshots check every stored version; Schema made that the larger part
 * of opening a registry (bench/ recovery profiles).
 */
export const decodeMetadataFastPath = (input: unknown): ModelMetadata | undefined =>
  fastPath(input, "metadata") as ModelMetadata | undefined

/** A snapshot's version (`ModelMetadata` plus `state`) if definitely valid, else `undefined`: ask Schema. */
export const decodeStoredVersionFastPath = (input: unknown): ModelVersion | undefined =>
  fastPath(input, "stored-version") as ModelVersion | undefined

/**
 * Decodes a `register` input with the same result as `decoder(RegisterInput)`: the fast path for inputs it can
 * prove valid, the Schema decoder for everything else (so every error is the Schema path's).
 */
export const decodeRegisterInputFast = (input: unknown): Either.Either<RegisterInputDecoded, InvalidInput> => {
  let decoded: RegisterInputDecoded | undefined
  try {
    decoded = decodeRegisterInputFastPath(input)
  } catch {
    decoded = undefined // A throwing getter or proxy trap: let the Schema path meet it as it always has.
  }
  return decoded === undefined ? slow(input) : Either.right(decoded)
}

/**
 * Whether the body's keys are exactly `expected`, plus `actor` when `withActor` (records written before events
 * named their actor have none).
 */
const eventKeysMatch = (
  body: Record<string, unknown>,
  expected: ReadonlyArray<string>,
  withActor: boolean,
): boolean => {
  const keys = Reflect.ownKeys(body)
  if (keys.length !== expected.length + (withActor ? 1 : 0)) return false
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    if (!(withActor && key === "actor") && !expected.includes(key as string)) return false
  }
  return true
}
const registeredKeys = ["at", "metadata"]
const promotedKeys = ["at", "name", "version", "supersedes"]
const deprecatedKeys = ["at", "name", "version"]

/**
 * An event as the log stores it (its JSON body; the tag and seq come from the record header) if definitely valid,
 * with Schema's keys in Schema's order; otherwise `undefined`: ask the Schema decoder.
 */
export const decodeEventFastPath = (
  tag: RegistryEvent["_tag"],
  seq: number,
  body: unknown,
): RegistryEvent | undefined => {
  if (typeof body !== "object" || body === null || Object.getPrototypeOf(body) !== objectPrototype) return undefined
  if (!Number.isSafeInteger(seq) || seq <= 0) return undefined
  const record = body as Record<string, unknown>
  const at = record.at
  if (!isValidTimestamp(at)) return undefined
  const given = record.actor
  const withActor = given !== undefined
  if (withActor && !isActorText(given)) return undefined
  const actor = withActor ? given : unknownActor
  switch (tag) {
    case "Registered": {
      if (!eventKeysMatch(record, registeredKeys, withActor)) return undefined
      const metadata = decodeMetadataFastPath(record.metadata)
      return metadata === undefined ? undefined : { _tag: tag, seq, at, actor, metadata }
    }
    case "Promoted": {
      const { name, version, supersedes } = record
      if (!eventKeysMatch(record, promotedKeys, withActor) || !isModelName(name) || !isCommonSemVer(version))
        return undefined
      if (supersedes !== null && !isCommonSemVer(supersedes)) return undefined
      return { _tag: tag, seq, at, actor, name, version, supersedes } as RegistryEvent
    }
    case "Deprecated": {
      const { name, version } = record
      if (!eventKeysMatch(record, deprecatedKeys, withActor) || !isModelName(name) || !isCommonSemVer(version))
        return undefined
      return { _tag: tag, seq, at, actor, name, version } as RegistryEvent
    }
    default:
      // The lifecycle and alias events are rare beside registrations: the Schema decodes them.
      return undefined
  }
}

// The body check below: a regular expression V8 compiles to native code, so a million bodies are checked in a
// fraction of what parsing them costs. It accepts only what JSON.parse turns into valid metadata (keys without
// escapes, so no key can spell a forbidden one; numbers whose magnitude stays finite; strings without raw control
// characters); every body it does not accept is parsed and decoded instead.
const forbiddenKeyAhead = '(?!(?:__proto__|constructor|prototype)")'
const plainChars = '[^"\\\\\\x00-\\x1f]'
// Unrolled (runs of plain characters between escapes): an alternation per character was twice as slow.
const jsonEscape = '\\\\(?:["\\\\/bfnrt]|u[0-9a-fA-F]{4})'
const jsonString = `"${plainChars}*(?:${jsonEscape}${plainChars}*)*"`
// At most 200 integer digits and a two-digit exponent: below 1e300, so JSON.parse never makes an Infinity.
const jsonNumber = "-?(?:0|[1-9]\\d{0,199})(?:\\.\\d+)?(?:[eE][+-]?\\d{1,2})?"
const scalar = `(?:${jsonString}|${jsonNumber}|true|false|null)`
const metricsValue = `(?:${scalar}|\\[(?:${scalar}(?:,${scalar})*)?\\])`
const metricsKey = `"${forbiddenKeyAhead}${plainChars}*"`
const metricsPattern = `\\{(?:${metricsKey}:${metricsValue}(?:,${metricsKey}:${metricsValue})*)?\\}`
// A tag value of at most 341 UTF-16 units encodes to at most 1,023 UTF-8 bytes (tagValueBytesMax is 1,024).
const tagPair = `"${forbiddenKeyAhead}${plainChars}{1,128}":"${plainChars}{0,341}"`
const tagsPattern = `\\{(?:${tagPair}(?:,${tagPair}){0,63})?\\}`
const uuidPattern = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
// A source is an absolute URI of at most sourceLengthMax characters (the lookahead bounds it); a run id, plain
// characters (no escapes) without DEL, at most runIdLengthMax of them.
const sourceValue = `(?=[^"]{1,${sourceLengthMax}}")${sourceUriPattern}`
const runIdValue = `[^"\\\\\\x00-\\x1f\\x7f]{1,${runIdLengthMax}}`
const provenancePattern = `(?:,"source":"${sourceValue}")?(?:,"runId":"${runIdValue}")?`
const storedBodyPattern = new RegExp(
  `\\{"id":"${uuidPattern}","createdAt":"([0-9T:.Z-]{20,24})","metrics":${metricsPattern},"tags":${tagsPattern}${provenancePattern}\\}`,
  "y",
)
/** Where a body's `createdAt` value starts: after `{"id":"`, the 36-character id and `","createdAt":"`. */
const createdAtOffset = 58
/**
 * The longest body the check accepts. `JSON.stringify` of parsed metrics writes at most 25 bytes per character
 * of their text (a number such as `1e20` grows most), so 2,500 characters bound them below `metricsBytesMax`.
 */
export const storedBodyLengthMax = 2500

/**
 * Whether `text.slice(start, end)`, a version's body as a snapshot stores it (`{"id","createdAt","metrics","tags"}`
 * in that order, as `JSON.stringify` writes it), definitely parses into valid metadata for any valid name and
 * version: `false` does NOT mean invalid, only that the caller must parse and decode it. Nothing is allocated.
 * test/domain/fastDecode.test.ts proves it never accepts a body that Schema rejects.
 */
export const isStoredBodyFastPath = (text: string, start: number, end: number): boolean => {
  if (end - start > storedBodyLengthMax) return false
  storedBodyPattern.lastIndex = start
  if (!storedBodyPattern.test(text) || storedBodyPattern.lastIndex !== end) return false
  const from = start + createdAtOffset
  return isIsoTimestampAt(text, from, text.indexOf('"', from))
}
