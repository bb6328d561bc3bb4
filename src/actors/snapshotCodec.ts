/**
 * The registry's state as snapshot bytes (the storage layer wraps them with its header and checksum).
 *
 * Format (UTF-8 lines): a header `{"format":2,"lastSeq":N,"versions":COUNT,"lifecycle":BINDING}`, then the versions
 * in index order in blocks of at most `versionsPerLine`, two lines each: the block's columns (names, versions,
 * states, aliases, body lengths) and its bodies (each version's `id`, `createdAt`, `metrics` and `tags` as JSON),
 * described at `restoreColumnar`. Opening keeps each body as a slice of its block's text and parses it on first
 * read: parsing and validating every record was most of the time to open a large registry (issue 15). Lines, not
 * one document: that string would pass V8's maximum string length (2^29 - 24 characters) at about 1.6M versions.
 *
 * Earlier releases wrote JSON lines, still read unchanged: a header without `format` (and, before lifecycles could
 * be chosen, without `lifecycle`: the default one), then arrays of whole versions, each parsed and checked (the
 * fast validator first, the Schema for anything it does not accept, which also words the error).
 *
 * The checksum proves the bytes are the ones written; the checks here prove they hold what the index may hold, so
 * a bug in a writer cannot come back as a corrupt registry.
 */
import { Duration, Effect, Either, Schema } from "effect"
import { actorTextViolation } from "../domain/Actor.ts"
import { Description } from "../domain/Annotation.ts"
import { decoder } from "../domain/decode.ts"
import { decodeStoredVersionFastPath, isStoredBodyFastPath } from "../domain/fastDecode.ts"
import { AliasName, LifecycleBinding, LifecycleStateName } from "../domain/Lifecycle.ts"
import { isIsoTimestamp, ModelMetadata } from "../domain/ModelMetadata.ts"
import { isModelName } from "../domain/ModelName.ts"
import type { ModelVersion } from "../domain/ModelVersion.ts"
import { isSemVer, type SemVer } from "../domain/SemVer.ts"
import { concatBytes } from "../storage/ByteParts.ts"
import { compiledDefault } from "./builtinLifecycles.ts"
import { decodeEventObject } from "./eventCodec.ts"
import type { Change, Registration } from "./History.ts"
import { type IndexSnapshot, type IndexState, PendingBodies, RegistryIndex } from "./RegistryIndex.ts"

/**
 * Versions per line: enough to amortize a line's parse, few enough that a line stays far below V8's string limit and
 * the encoder can yield between lines without holding up the batch loop.
 */
export const versionsPerLine = 4096
/**
 * The `format` of the columnar state with its history; 2 is the columnar state without it, and the JSON-lines state
 * of earlier releases has no `format` in its header.
 */
export const columnarFormat = 3
const columnarFormatWithoutHistory = 2
/** A block ends early once its bodies reach this many UTF-16 units, so no line nears V8's string limit. */
const blockCharsMax = 1 << 24
const newline = 10

/** A version as a snapshot stores it; `aliases` is absent from snapshots written before aliases existed. */
export const StoredVersion = Schema.Struct({
  ...ModelMetadata.fields,
  description: Schema.optionalWith(Description, { exact: true }),
  state: LifecycleStateName,
  aliases: Schema.optionalWith(Schema.Array(AliasName), { exact: true, default: () => [] }),
})
const decodeStoredVersion = decoder(StoredVersion)
const decodeBinding = decoder(LifecycleBinding)
const decodeStateName = decoder(LifecycleStateName)
const decodeAliasName = decoder(AliasName)
const utf8Encoder = new TextEncoder()
const noAliases: ReadonlyArray<string> = Object.freeze([])
const utf8Decoder = new TextDecoder("utf-8", { fatal: true })

/** The snapshot's lines, without their newlines. `perLine` is for tests: readers accept any block size. */
function* snapshotLines(snapshot: IndexSnapshot, perLine: number): Generator<string> {
  const { versions, registrations, history } = snapshot
  yield JSON.stringify({
    format: columnarFormat,
    lastSeq: snapshot.lastSeq,
    versions: versions.length,
    lifecycle: snapshot.lifecycle,
    history: {
      since: history.since,
      lastAt: history.lastAt,
      firstAtAfterSince: history.firstAtAfterSince ?? null,
      changes: history.changes.length,
    },
  })
  let start = 0
  while (start < versions.length) {
    const runs: Array<[string, number]> = []
    const versionColumn: Array<string> = []
    const states: Array<string> = []
    const stateOf: Array<number> = []
    const aliases: Array<[number, ReadonlyArray<string>]> = []
    const lengths: Array<number> = []
    const registered: Array<number> = []
    const ats: Array<[string, number]> = []
    const actors: Array<string> = []
    const actorOf: Array<number> = []
    const initialOf: Array<number> = []
    let bodies = ""
    let end = start
    for (; end < versions.length && end - start < perLine && bodies.length < blockCharsMax; end++) {
      const version = versions[end]!
      const run = runs[runs.length - 1]
      if (run !== undefined && run[0] === version.name) run[1]++
      else runs.push([version.name, 1])
      versionColumn.push(version.version)
      let state = states.indexOf(version.state)
      if (state < 0) state = states.push(version.state) - 1
      stateOf.push(state)
      if (version.aliases.length > 0) aliases.push([end - start, version.aliases])
      const registration = registrations[end]!
      registered.push(registration.seq)
      const atRun = ats[ats.length - 1]
      if (atRun !== undefined && atRun[0] === registration.at) atRun[1]++
      else ats.push([registration.at, 1])
      let actor = actors.indexOf(registration.actor)
      if (actor < 0) actor = actors.push(registration.actor) - 1
      actorOf.push(actor)
      let initial = states.indexOf(registration.state)
      if (initial < 0) initial = states.push(registration.state) - 1
      initialOf.push(initial)
      const { id, createdAt, metrics, tags, source, runId, description } = version
      // JSON.stringify leaves out an undefined field, so a version without them writes the body it always did.
      const body = JSON.stringify({ id, createdAt, metrics, tags, source, runId, description })
      lengths.push(body.length)
      bodies += body
    }
    yield JSON.stringify({
      models: runs,
      versions: versionColumn,
      states,
      stateOf,
      aliases,
      lengths,
      registered,
      ats,
      actors,
      actorOf,
      initialOf,
    })
    yield bodies
    start = end
  }
  for (let from = 0; from < history.changes.length; from += perLine)
    yield JSON.stringify(history.changes.slice(from, from + perLine))
}

/**
 * A line as UTF-8 with its newline, at its exact size. A snapshot is written as its lines, never joined: one
 * buffer grown by doubling copied the state twice more, and any buffer the size of the state costs page faults
 * comparable to encoding it (bench/results/issue-15-server.md); a worst-case bound (3 bytes per UTF-16 unit) would
 * allocate three times the snapshot.
 */
const encodedLine = (line: string): Uint8Array => utf8Encoder.encode(`${line}\n`)

export const encodeIndexState = (snapshot: IndexSnapshot, perLine = versionsPerLine): Uint8Array =>
  concatBytes(Array.from(snapshotLines(snapshot, perLine), encodedLine))

/**
 * The same lines, as the parts of the snapshot to write, giving way to everything else after every line, so that a
 * large snapshot does not hold up the registry's writers (bench/results). `Effect.yieldNow` is not enough:
 * Effect's scheduler resumes a yielding fiber in a microtask, so I/O callbacks (the log's fdatasync) would wait
 * for the whole encoding. A zero sleep goes through the Clock: a macrotask in a real runtime, a virtual timer under
 * the simulator.
 */
export const encodeIndexStateCooperatively = (snapshot: IndexSnapshot): Effect.Effect<Array<Uint8Array>> =>
  Effect.gen(function* () {
    const lines: Array<Uint8Array> = []
    for (const line of snapshotLines(snapshot, versionsPerLine)) {
      lines.push(encodedLine(line))
      yield* Effect.sleep(Duration.zero)
    }
    return lines
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

interface HistoryHeader {
  readonly since: number
  readonly lastAt: string
  readonly firstAtAfterSince: string | undefined
  readonly changes: number
}

interface Header {
  readonly lastSeq: number
  readonly versions: number
  readonly lifecycle: LifecycleBinding
  readonly columnar: boolean
  /** Format 3's; a state without it is an earlier release's, whose history starts at its seq. */
  readonly history: HistoryHeader | undefined
}

const isTimeOrEmpty = (value: unknown): value is string =>
  value === "" || (typeof value === "string" && isIsoTimestamp(value))

const decodeHistoryHeader = (value: unknown, lastSeq: number): HistoryHeader | string => {
  const shape = 'the header\'s history is not {"since", "lastAt", "firstAtAfterSince", "changes"}'
  if (typeof value !== "object" || value === null || Object.keys(value).length !== 4) return shape
  const { since, lastAt, firstAtAfterSince, changes } = value as Record<string, unknown>
  if (!isCount(since) || since > lastSeq || !isCount(changes) || !isTimeOrEmpty(lastAt)) return shape
  if (firstAtAfterSince !== null && !isTimeOrEmpty(firstAtAfterSince)) return shape
  return { since, lastAt, firstAtAfterSince: firstAtAfterSince ?? undefined, changes }
}

const headerShape = 'the first line is not {"lastSeq": <count>, "versions": <count>, "lifecycle": <binding>}'

/** The header line (already parsed); earlier releases wrote no `format` (JSON lines) and at first no `lifecycle`. */
const decodeHeader = (line: unknown): Header | string => {
  const header = line as
    | { format?: unknown; lastSeq?: unknown; versions?: unknown; lifecycle?: unknown; history?: unknown }
    | undefined
  if (typeof header !== "object" || header === null) return headerShape
  const columnar = "format" in header
  const withHistory = header.format === columnarFormat
  if (columnar && !withHistory && header.format !== columnarFormatWithoutHistory)
    return `unsupported snapshot state format ${String(header.format)}`
  const keys = (columnar ? 1 : 0) + ("lifecycle" in header ? 3 : 2) + (withHistory ? 1 : 0)
  if (Object.keys(header).length !== keys || !isCount(header.lastSeq) || !isCount(header.versions)) return headerShape
  if (columnar && !("lifecycle" in header)) return headerShape
  const binding = "lifecycle" in header ? decodeBinding(header.lifecycle) : Either.right(compiledDefault.binding)
  if (Either.isLeft(binding)) return `the header's lifecycle: ${binding.left.message}`
  const history = withHistory ? decodeHistoryHeader(header.history, header.lastSeq) : undefined
  if (typeof history === "string") return history
  return { lastSeq: header.lastSeq, versions: header.versions, lifecycle: binding.right, columnar, history }
}

/** The JSON-lines state (every release before the columnar one): every version parsed and checked. */
const decodeJsonLines = (lines: Array<unknown>, header: Header): Either.Either<IndexState, string> => {
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
  return Either.right({ lastSeq: header.lastSeq, lifecycle: header.lifecycle, versions })
}

/** The header line and where the next line starts, or why there is none. */
const readHeader = (bytes: Uint8Array): { readonly header: Header; readonly next: number } | string => {
  const end = bytes.indexOf(newline)
  if (end < 0) return bytes.length === 0 ? headerShape : "line 1 has no end (the snapshot ends mid-line)"
  let line: unknown
  try {
    line = JSON.parse(utf8Decoder.decode(bytes.subarray(0, end)))
  } catch (error) {
    return `line 1 is not UTF-8 JSON: ${String(error)}`
  }
  const header = decodeHeader(line)
  return typeof header === "string" ? header : { header, next: end + 1 }
}

/** The index a snapshot's bytes describe, or why they describe none (bad bytes, or a broken invariant). */
export const restoreIndex = (bytes: Uint8Array): Either.Either<RegistryIndex, string> => {
  const read = readHeader(bytes)
  if (typeof read === "string") return Either.left(read)
  if (read.header.columnar) return restoreColumnar(bytes, read.header, read.next)
  const lines = parseLines(bytes)
  if (typeof lines === "string") return Either.left(lines)
  return Either.flatMap(decodeJsonLines(lines, read.header), (state) => RegistryIndex.fromState(state))
}

/** The state a snapshot's bytes describe, every record parsed (tests and tools; the registry uses `restoreIndex`). */
export const decodeIndexState = (bytes: Uint8Array): Either.Either<IndexSnapshot, string> => {
  const read = readHeader(bytes)
  if (typeof read === "string") return Either.left(read)
  if (read.header.columnar) return Either.map(restoreColumnar(bytes, read.header, read.next), (i) => i.toSnapshot())
  const lines = parseLines(bytes)
  if (typeof lines === "string") return Either.left(lines)
  return Either.map(
    Either.flatMap(decodeJsonLines(lines, read.header), (state) => RegistryIndex.fromState(state)),
    (index) => index.toSnapshot(),
  )
}

/**
 * The columnar state: after the header, blocks of two lines each. The first is the block's columns, JSON:
 * `{"models":[[name, count]...],"versions":[...],"states":[name...],"stateOf":[i...],"aliases":[[i,[alias...]]...],
 * "lengths":[n...]}`, one run per model in index order, each version's state as an index into `states`, aliases only
 * for the versions that have some, each body's length in UTF-16 units. The second is the bodies, concatenated:
 * `{"id","createdAt","metrics","tags"}` per version, as `JSON.stringify` writes them.
 *
 * What is checked at open, and why that is enough: the columns carry everything the index is built from (names,
 * versions, states, aliases) and are checked as the JSON-lines state checked them, with every invariant
 * `ModelEntry.restore` enforces. Each body is checked against `isStoredBodyFastPath`, a compiled regular expression
 * that accepts only bodies JSON.parse turns into valid metadata, without parsing them; a body it does not accept is
 * parsed and decoded by the Schema now, and becomes a record at once. So every body left as text is proven to make
 * a valid record when a read parses it: a snapshot whose content is invalid is refused here, never found at a read.
 * The checksum proves the bytes are those written; these checks prove a wrong writer cannot have written them.
 */
const restoreColumnar = (bytes: Uint8Array, header: Header, from: number): Either.Either<RegistryIndex, string> => {
  const index = RegistryIndex.restoring(header.lastSeq, header.lifecycle)
  const { history } = header
  let at = from
  let block = 0
  // A state with its history has its changes after the blocks; one without ends with them.
  while (at < bytes.length && (history === undefined || index.versionCount < header.versions)) {
    block++
    const columnsEnd = bytes.indexOf(newline, at)
    const bodiesEnd = columnsEnd < 0 ? -1 : bytes.indexOf(newline, columnsEnd + 1)
    if (bodiesEnd < 0) return Either.left(`block ${block} has no end (the snapshot ends mid-line)`)
    let columns: unknown
    let text: string
    try {
      columns = JSON.parse(utf8Decoder.decode(bytes.subarray(at, columnsEnd)))
      text = utf8Decoder.decode(bytes.subarray(columnsEnd + 1, bodiesEnd))
    } catch (error) {
      return Either.left(`block ${block} is not UTF-8 JSON: ${String(error)}`)
    }
    const problem = restoreBlock(index, columns, text, header.versions - index.versionCount, history !== undefined)
    if (problem !== undefined) return Either.left(`block ${block}: ${problem}`)
    at = bodiesEnd + 1
  }
  if (index.versionCount !== header.versions)
    return Either.left(`the header announces ${header.versions} versions, the blocks hold ${index.versionCount}`)
  if (history === undefined) {
    index.restoreBaseline()
    return Either.right(index)
  }
  const changes = restoreChanges(bytes, at, history.changes, header.lastSeq)
  if (typeof changes === "string") return Either.left(changes)
  const problem = index.restoreHistory(history, changes)
  return problem === undefined ? Either.right(index) : Either.left(problem)
}

/** The changes after the blocks, each decoded as a log record is; or why they are not `count` changes in seq order. */
const restoreChanges = (bytes: Uint8Array, from: number, count: number, lastSeq: number): Array<Change> | string => {
  const changes: Array<Change> = []
  let at = from
  while (at < bytes.length) {
    const end = bytes.indexOf(newline, at)
    if (end < 0) return "a line of changes has no end (the snapshot ends mid-line)"
    let line: unknown
    try {
      line = JSON.parse(utf8Decoder.decode(bytes.subarray(at, end)))
    } catch (error) {
      return `a line of changes is not UTF-8 JSON: ${String(error)}`
    }
    if (!Array.isArray(line) || line.length === 0) return "a line of changes is not a list of events"
    for (const object of line) {
      const decoded = decodeEventObject(object)
      if (Either.isLeft(decoded)) return `change ${changes.length + 1}: ${decoded.left}`
      const event = decoded.right
      const previous = changes[changes.length - 1]?.seq ?? 0
      if (event._tag === "Registered") return `change ${changes.length + 1} is a registration`
      if (event.seq < previous || event.seq > lastSeq)
        return `change ${changes.length + 1} (seq ${event.seq}) is out of order or after the state's seq ${lastSeq}`
      changes.push(event)
    }
    at = end + 1
  }
  return changes.length === count ? changes : `the header announces ${count} changes, the lines hold ${changes.length}`
}

interface Columns {
  readonly models: ReadonlyArray<unknown>
  readonly versions: ReadonlyArray<unknown>
  readonly states: ReadonlyArray<unknown>
  readonly stateOf: ReadonlyArray<unknown>
  readonly aliases: ReadonlyArray<unknown>
  readonly lengths: ReadonlyArray<unknown>
}
/** Format 3's columns: each version's registration (seq, time runs, actor, initial state). */
interface RegistrationColumns extends Columns {
  readonly registered: ReadonlyArray<unknown>
  readonly ats: ReadonlyArray<unknown>
  readonly actors: ReadonlyArray<unknown>
  readonly actorOf: ReadonlyArray<unknown>
  readonly initialOf: ReadonlyArray<unknown>
}
const columnNames = ["models", "versions", "states", "stateOf", "aliases", "lengths"] as const
const registrationColumnNames = ["registered", "ats", "actors", "actorOf", "initialOf"] as const

const isColumns = (value: unknown, withHistory: boolean): value is Columns => {
  const names: ReadonlyArray<string> = withHistory ? [...columnNames, ...registrationColumnNames] : columnNames
  return (
    typeof value === "object" &&
    value !== null &&
    Object.keys(value).length === names.length &&
    names.every((name) => Array.isArray((value as Record<string, unknown>)[name]))
  )
}

/**
 * The registrations a block's columns describe, one per version, or why they are malformed. `states` was checked.
 */
const registrationsOf = (
  columns: RegistrationColumns,
  count: number,
  lastSeq: number,
): Array<Omit<Registration, "version">> | string => {
  const { registered, ats, actors, actorOf, initialOf, states } = columns
  if (registered.length !== count || actorOf.length !== count || initialOf.length !== count)
    return "its registration columns are not all as long as its versions"
  for (const actor of actors)
    if (typeof actor !== "string" || actorTextViolation(actor) !== undefined) return "an actor is not a valid actor"
  const times: Array<string> = []
  for (const run of ats) {
    if (
      !Array.isArray(run) ||
      run.length !== 2 ||
      !isTimeOrEmpty(run[0]) ||
      !isIndex(run[1], count - times.length + 1) ||
      !run[1]
    )
      return `its registration times are not [time, count] runs of its ${count} versions`
    for (let i = 0; i < run[1]; i++) times.push(run[0])
  }
  if (times.length !== count) return `its registration times cover ${times.length} of its ${count} versions`
  const registrations: Array<Omit<Registration, "version">> = []
  for (let i = 0; i < count; i++) {
    const seq = registered[i]
    if (!isCount(seq) || seq > lastSeq) return `the registration seq of version ${i + 1} is not a seq up to ${lastSeq}`
    const actor = actorOf[i]
    if (!isIndex(actor, actors.length)) return `the actor of version ${i + 1} is not an index into its actors`
    const initial = initialOf[i]
    if (!isIndex(initial, states.length)) return `the initial state of version ${i + 1} is not an index into its states`
    registrations.push({ seq, at: times[i]!, actor: actors[actor] as string, state: states[initial] as string })
  }
  return registrations
}

const isIndex = (value: unknown, below: number): value is number =>
  Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) < below

/** The aliases column as one entry per version of the block (`undefined`: none), or why it is malformed. */
const aliasesByVersion = (column: ReadonlyArray<unknown>, count: number): Array<ReadonlyArray<string>> | string => {
  const byVersion: Array<ReadonlyArray<string>> = []
  for (const entry of column) {
    if (!Array.isArray(entry) || entry.length !== 2 || !isIndex(entry[0], count) || entry[0] < byVersion.length)
      return "its aliases are not [version index, [alias...]] pairs in version order"
    const names = entry[1] as unknown
    if (!Array.isArray(names) || names.length === 0) return `the aliases of version ${entry[0] + 1} are not a list`
    for (const name of names) {
      const decoded = decodeAliasName(name)
      if (Either.isLeft(decoded)) return `an alias of version ${entry[0] + 1}: ${decoded.left.message}`
    }
    byVersion.length = entry[0]
    byVersion.push(Object.freeze(names as Array<string>))
  }
  return byVersion
}

const bodyKeys = ["id", "createdAt", "metrics", "tags"] as const
const optionalBodyKeys: ReadonlySet<string> = new Set(["source", "runId", "description"])

/** A body the fast check did not accept, parsed and decoded with the rest of its version: the record, or why not. */
const decodeBody = (
  body: string,
  name: string,
  version: string,
  state: string,
  aliases: ReadonlyArray<string>,
): ModelVersion | string => {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch (error) {
    return `its body is not JSON: ${String(error)}`
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return "its body is not an object"
  const fields = parsed as Record<string, unknown>
  const keys = Object.keys(fields)
  if (
    !bodyKeys.every((key) => Object.hasOwn(fields, key)) ||
    keys.some((key) => !optionalBodyKeys.has(key) && !(bodyKeys as ReadonlyArray<string>).includes(key))
  )
    return `its body's keys are not ${bodyKeys.join(", ")} (and source, runId, description where given)`
  const { id, createdAt, metrics, tags, source, runId, description } = fields
  const decoded = decodeStoredVersion({
    id,
    name,
    version,
    createdAt,
    metrics,
    tags,
    ...(source === undefined ? {} : { source }),
    ...(runId === undefined ? {} : { runId }),
    ...(description === undefined ? {} : { description }),
    state,
    aliases,
  })
  return Either.isLeft(decoded) ? decoded.left.message : (decoded.right as ModelVersion)
}

/** Adds one block's versions to `index`; says why the block is not one of at most `remaining` valid versions. */
const restoreBlock = (
  index: RegistryIndex,
  columns: unknown,
  text: string,
  remaining: number,
  withHistory: boolean,
): string | undefined => {
  if (!isColumns(columns, withHistory))
    return `its columns are not {${[...columnNames, ...(withHistory ? registrationColumnNames : [])].join(", ")}} lists`
  const { models, versions, states, stateOf, lengths } = columns
  const count = versions.length
  if (count === 0 || count > remaining) return `it holds ${count} versions, not 1 to the ${remaining} still expected`
  if (stateOf.length !== count || lengths.length !== count) return "its columns are not all as long as its versions"
  for (const state of states) {
    const decoded = decodeStateName(state)
    if (Either.isLeft(decoded)) return `a state: ${decoded.left.message}`
  }
  const aliases = aliasesByVersion(columns.aliases, count)
  if (typeof aliases === "string") return aliases
  const registrations = withHistory ? registrationsOf(columns as RegistrationColumns, count, index.lastSeq) : undefined
  if (typeof registrations === "string") return registrations
  const { exclusive } = index
  let i = 0
  let offset = 0
  for (const run of models) {
    if (!Array.isArray(run) || run.length !== 2 || !isModelName(run[0]) || !isIndex(run[1], count - i + 1) || !run[1])
      return `its models are not [name, count] runs of its ${count} versions`
    const name: string = run[0]
    const model = index.modelFor(name)
    const bodies = new PendingBodies(name, text)
    for (const last = i + run[1]; i < last; i++) {
      const version = versions[i]
      if (!isSemVer(version)) return `version ${i + 1} is not a SemVer string: ${JSON.stringify(version)}`
      const state = stateOf[i]
      if (!isIndex(state, states.length)) return `the state of version ${i + 1} is not an index into its states`
      const length = lengths[i]
      if (!isIndex(length, text.length - offset + 1)) return `the body of version ${i + 1} is not within its bodies`
      const end = offset + length
      const versionAliases = aliases[i] ?? noAliases
      let problem: string | undefined
      if (isStoredBodyFastPath(text, offset, end)) {
        const stateName = states[state] as string
        problem = model.restorePending(version as SemVer, bodies, offset, end, stateName, versionAliases, exclusive)
      } else {
        const record = decodeBody(text.slice(offset, end), name, version, states[state] as string, versionAliases)
        problem = typeof record === "string" ? record : model.restore(record, exclusive)
      }
      if (problem !== undefined) return `version ${i + 1} (${name} ${version}): ${problem}`
      const registration = registrations?.[i]
      if (registration !== undefined)
        model.registered(
          version,
          registration.seq,
          index.history.stamp(registration.at, registration.actor, registration.state),
        )
      index.versionCount++
      offset = end
    }
  }
  if (i !== count) return `its model runs cover ${i} of its ${count} versions`
  if (offset !== text.length) return `its bodies hold ${text.length - offset} characters past the last version's`
  return undefined
}
