/**
 * Events as WAL records: the record type byte names the event, the payload is its JSON without `seq`
 * (the record header carries the seq, so it is stored once). A payload without `actor` was written before events
 * named theirs: it decodes with the reserved `(unknown)` actor, so old logs open unchanged. Decoding validates with the same rules
 * as the API's input (the fast validator, then the Schema), so a record that passed its checksum but holds
 * nonsense is still refused.
 */
import { Either, ParseResult, Schema } from "effect"
import { WalCorrupt } from "../domain/errors.ts"
import { decodeEventFastPath } from "../domain/fastDecode.ts"
import { RegistryEvent } from "../domain/RegistryEvent.ts"
import type { WalRecord } from "../storage/Wal.ts"

/**
 * A record type is never reused: 1–3 are what the first release wrote, 4–7 came with user-defined lifecycles, 8–11
 * with annotations and archiving.
 */
export const recordTypes = {
  Registered: 1,
  Promoted: 2,
  Deprecated: 3,
  Transitioned: 4,
  AliasSet: 5,
  AliasRemoved: 6,
  LifecycleChanged: 7,
  VersionAnnotated: 8,
  ModelAnnotated: 9,
  ModelArchived: 10,
  ModelRestored: 11,
} as const
const tagOfType = [
  "",
  "Registered",
  "Promoted",
  "Deprecated",
  "Transitioned",
  "AliasSet",
  "AliasRemoved",
  "LifecycleChanged",
  "VersionAnnotated",
  "ModelAnnotated",
  "ModelArchived",
  "ModelRestored",
] as const

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder("utf-8", { fatal: true })

/** Written field by field: a rest-spread copy per event doubled the cost of encoding (bench/). */
const payloadText = (event: RegistryEvent): string => {
  switch (event._tag) {
    case "Registered":
      return event.state === undefined
        ? JSON.stringify({ at: event.at, actor: event.actor, metadata: event.metadata })
        : JSON.stringify({ at: event.at, actor: event.actor, metadata: event.metadata, state: event.state })
    case "Promoted":
      return JSON.stringify({
        at: event.at,
        actor: event.actor,
        name: event.name,
        version: event.version,
        supersedes: event.supersedes,
      })
    case "Deprecated":
      return JSON.stringify({ at: event.at, actor: event.actor, name: event.name, version: event.version })
    default: {
      const { _tag: _, seq: _seq, ...payload } = event
      return JSON.stringify(payload)
    }
  }
}

/**
 * Encodes batches of events as records whose payloads are views into ONE buffer per batch: a `TextEncoder.encode`
 * per event would allocate an ArrayBuffer per register, and ArrayBuffers are the costliest garbage on this path
 * (bench/results).
 */
class EventEncoder {
  /** Grows to the largest batch seen. */
  private scratch = new Uint8Array(1 << 16)

  /** `owned`: the payloads get a buffer of their own; otherwise they are views into the scratch buffer. */
  encode(events: ReadonlyArray<RegistryEvent>, owned: boolean): Array<WalRecord> {
    const texts: Array<string> = new Array(events.length)
    let bound = 0
    for (let i = 0; i < events.length; i++) {
      const text = payloadText(events[i]!)
      texts[i] = text
      bound += text.length * 3
    }
    if (this.scratch.length < bound) this.scratch = new Uint8Array(Math.max(bound, this.scratch.length * 2))
    const scratch = this.scratch
    const ends: Array<number> = new Array(events.length)
    let offset = 0
    for (let i = 0; i < texts.length; i++) {
      offset += utf8Encoder.encodeInto(texts[i]!, scratch.subarray(offset)).written
      ends[i] = offset
    }
    const bytes = owned ? scratch.slice(0, offset) : scratch
    const records: Array<WalRecord> = new Array(events.length)
    let start = 0
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!
      records[i] = { seq: event.seq, type: recordTypes[event._tag], payload: bytes.subarray(start, ends[i]!) }
      start = ends[i]!
    }
    return records
  }
}

const sharedEncoder = new EventEncoder()

/** The records of a batch, in a buffer of their own: a Wal or any other holder may keep them. */
export const encodeEventRecords = (events: ReadonlyArray<RegistryEvent>): Array<WalRecord> =>
  sharedEncoder.encode(events, true)

/**
 * An encoder for ONE writer that appends each batch before encoding the next (the registry's batch loop): its
 * records' payloads are views into a buffer it reuses, valid until its next call. That saves a copy and an
 * ArrayBuffer per batch, and is sound because every Wal copies what it keeps before its append resolves (Wal.ts).
 */
export const makeBatchEncoder = (): ((events: ReadonlyArray<RegistryEvent>) => Array<WalRecord>) => {
  const encoder = new EventEncoder()
  return (events) => encoder.encode(events, false)
}

const validateEvent = Schema.decodeUnknownEither(RegistryEvent, { onExcessProperty: "error" })

export const decodeEventPayload = (
  seq: number,
  type: number,
  payload: Uint8Array,
): Either.Either<RegistryEvent, WalCorrupt> => {
  const corrupt = (reason: string) => Either.left(new WalCorrupt({ file: "(record)", offset: -1, seq, reason }))
  const tag = tagOfType[type]
  if (tag === undefined || tag === "") return corrupt(`unknown record type ${type}`)
  let body: unknown
  try {
    body = JSON.parse(utf8Decoder.decode(payload))
  } catch (error) {
    return corrupt(`payload is not UTF-8 JSON: ${String(error)}`)
  }
  if (typeof body !== "object" || body === null) return corrupt("payload is not a JSON object")
  const fast = decodeEventFastPath(tag, seq, body)
  if (fast !== undefined) return Either.right(fast)
  return Either.mapLeft(
    validateEvent({ ...body, _tag: tag, seq }),
    (error) =>
      new WalCorrupt({ file: "(record)", offset: -1, seq, reason: ParseResult.TreeFormatter.formatErrorSync(error) }),
  )
}

/**
 * An event stored whole, with its `_tag` and `seq` (a snapshot's history), checked as a record's payload is; or why it
 * is not one.
 */
export const decodeEventObject = (object: unknown): Either.Either<RegistryEvent, string> => {
  if (typeof object !== "object" || object === null || Array.isArray(object)) return Either.left("is not an object")
  const { _tag: tag, seq, ...body } = object as Record<string, unknown>
  if (typeof tag !== "string" || !(tagOfType as ReadonlyArray<string>).includes(tag) || tag === "")
    return Either.left("has no known _tag")
  if (!Number.isSafeInteger(seq) || (seq as number) < 1) return Either.left("has no seq")
  const fast = decodeEventFastPath(tag as RegistryEvent["_tag"], seq as number, body)
  if (fast !== undefined) return Either.right(fast)
  return Either.mapLeft(validateEvent({ ...body, _tag: tag, seq }), (error) =>
    ParseResult.TreeFormatter.formatErrorSync(error),
  )
}
