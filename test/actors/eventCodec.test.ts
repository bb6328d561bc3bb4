/**
 * Every event, the lifecycle and alias events included, comes back from its WAL record as it went in; a record
 * that holds more, or less, than its event is refused as corrupt.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import { decodeEventPayload, encodeEventRecords, makeBatchEncoder, recordTypes } from "../../src/actors/eventCodec.ts"
import {
  actorLengthMax,
  actorTextViolation,
  anonymousActor,
  embeddedActor,
  unknownActor,
} from "../../src/domain/Actor.ts"
import type { RegistryEvent } from "../../src/domain/RegistryEvent.ts"

const lifecycleName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,12}$/)
const name = fc.constantFrom("m", "model-a", "a.b_c", "Z9")
const version = fc.constantFrom("1.0.0", "2.0.0-rc.1+b.7", "10.2.3", "0.0.1-alpha")
const at = fc
  .date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true })
  .map((d) => d.toISOString())
const binding = fc.record({
  name: lifecycleName,
  fingerprint: fc.stringMatching(/^[0-9a-f]{16}$/),
  exclusive: fc.uniqueArray(lifecycleName, { maxLength: 2 }),
})

/** Token names, the reserved actors, and any printable text an embedding app may give. */
const actor = fc.oneof(
  fc.constantFrom(unknownActor, embeddedActor, anonymousActor, "ci", "alice@example"),
  fc.string({ minLength: 1, maxLength: actorLengthMax }).filter((text) => actorTextViolation(text) === undefined),
)

const eventBody = fc.oneof(
  fc.record({
    _tag: fc.constant("Registered" as const),
    at,
    metadata: fc.record({
      id: fc.uuid(),
      name,
      version,
      createdAt: at,
      metrics: fc.dictionary(
        lifecycleName,
        // The registry stores -0 as 0 (frozenCopy), as JSON writes it: no event in a log holds -0.
        fc.oneof(
          fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (n === 0 ? 0 : n)),
          fc.boolean(),
        ),
      ),
      tags: fc.dictionary(lifecycleName, fc.string({ maxLength: 8 })),
    }),
    state: lifecycleName,
  }),
  fc.record({
    _tag: fc.constant("Promoted" as const),
    at,
    name,
    version,
    supersedes: fc.option(version, { nil: null }),
  }),
  fc.record({ _tag: fc.constant("Deprecated" as const), at, name, version }),
  fc.record({
    _tag: fc.constant("Transitioned" as const),
    at,
    name,
    version,
    event: lifecycleName,
    from: lifecycleName,
    to: lifecycleName,
    displaced: fc.array(fc.record({ version, from: lifecycleName, to: lifecycleName }), { maxLength: 2 }),
    aliasesCleared: fc.array(fc.record({ alias: lifecycleName, version }), { maxLength: 2 }),
  }),
  fc.record({
    _tag: fc.constant("AliasSet" as const),
    at,
    name,
    alias: lifecycleName,
    version,
    previous: fc.option(version, { nil: null }),
  }),
  fc.record({ _tag: fc.constant("AliasRemoved" as const), at, name, alias: lifecycleName, version }),
  fc.record({
    _tag: fc.constant("LifecycleChanged" as const),
    at,
    from: binding,
    to: binding,
    mapping: fc.dictionary(lifecycleName, lifecycleName, { maxKeys: 3 }),
    changes: fc.array(fc.record({ name, version, from: lifecycleName, to: lifecycleName }), { maxLength: 2 }),
    aliasesCleared: fc.array(fc.record({ name, alias: lifecycleName, version }), { maxLength: 2 }),
  }),
)
const event = fc.tuple(eventBody, actor).map(([body, by]) => ({ ...body, actor: by })) as unknown as fc.Arbitrary<
  Omit<RegistryEvent, "seq">
>

const decoded = (record: { seq: number; type: number; payload: Uint8Array }) =>
  decodeEventPayload(record.seq, record.type, record.payload)

describe("event records", () => {
  it("decode to the events they encode, in a batch of any mix", () => {
    fc.assert(
      fc.property(
        fc.array(event, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 1e9 }),
        (bodies, first) => {
          const events = bodies.map((body, i) => ({ ...body, seq: first + i }) as RegistryEvent)
          const records = encodeEventRecords(events)
          expect(records.map((r) => r.type)).toEqual(events.map((e) => recordTypes[e._tag]))
          expect(records.map((r) => Either.getOrThrow(decoded(r)))).toEqual(events)
        },
      ),
      { numRuns: 300 },
    )
  })

  it("a batch encoder writes the same records, each batch valid until its next call, however large", () => {
    const batch = fc.array(event, { minLength: 1, maxLength: 8 })
    // Large metrics make a later batch outgrow the encoder's buffer.
    const large = fc.string({ minLength: 22_000, maxLength: 30_000 })
    fc.assert(
      fc.property(fc.array(fc.tuple(batch, fc.option(large, { nil: undefined })), { maxLength: 5 }), (batches) => {
        const encode = makeBatchEncoder()
        let seq = 1
        for (const [bodies, filler] of batches) {
          const events = bodies.map(
            (body) =>
              (body._tag === "Registered" && filler !== undefined
                ? {
                    ...body,
                    metadata: { ...(body as unknown as { metadata: object }).metadata, metrics: { filler } },
                    seq: seq++,
                  }
                : { ...body, seq: seq++ }) as RegistryEvent,
          )
          const records = encode(events)
          const owned = encodeEventRecords(events)
          expect(records.map((r) => [r.seq, r.type, [...r.payload]])).toEqual(
            owned.map((r) => [r.seq, r.type, [...r.payload]]),
          )
        }
      }),
      { numRuns: 50 },
    )
  })

  it("refuses a record with a field its event does not have, or without one it needs", () => {
    const encode = (payload: object) => new TextEncoder().encode(JSON.stringify(payload))
    const aliasSet = { at: "2026-11-28T00:00:00.000Z", name: "m", alias: "live", version: "1.0.0", previous: null }
    expect(Either.isRight(decodeEventPayload(3, recordTypes.AliasSet, encode(aliasSet)))).toBe(true)
    for (const payload of [
      { ...aliasSet, extra: 1 },
      { ...aliasSet, previous: undefined },
      { ...aliasSet, alias: "1x" },
    ])
      expect(Either.getLeft(decodeEventPayload(3, recordTypes.AliasSet, encode(payload)))).toMatchObject({
        _tag: "Some",
        value: { _tag: "WalCorrupt", seq: 3 },
      })
    expect(Either.isLeft(decodeEventPayload(3, 8, encode(aliasSet)))).toBe(true)
  })

  it("decodes a record written before events named their actor with the reserved unknown actor, on either path", () => {
    const encode = (payload: object) => new TextEncoder().encode(JSON.stringify(payload))
    const at = "2026-11-28T00:00:00.000Z"
    // Deprecated is decoded by the fast path, AliasSet by the Schema.
    const deprecated = { at, name: "m", version: "1.0.0" }
    const aliasSet = { at, name: "m", alias: "live", version: "1.0.0", previous: null }
    expect(Either.getOrThrow(decodeEventPayload(4, recordTypes.Deprecated, encode(deprecated)))).toEqual({
      _tag: "Deprecated",
      seq: 4,
      actor: unknownActor,
      ...deprecated,
    })
    expect(Either.getOrThrow(decodeEventPayload(5, recordTypes.AliasSet, encode(aliasSet)))).toEqual({
      _tag: "AliasSet",
      seq: 5,
      actor: unknownActor,
      ...aliasSet,
    })
    for (const bad of ["", "a\u0007b", "x".repeat(actorLengthMax + 1)])
      for (const [type, body] of [
        [recordTypes.Deprecated, deprecated],
        [recordTypes.AliasSet, aliasSet],
      ] as const)
        expect(Either.isLeft(decodeEventPayload(6, type, encode({ ...body, actor: bad })))).toBe(true)
  })
})
