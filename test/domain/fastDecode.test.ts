/**
 * The hand-written `decodeRegisterInputFast` must be indistinguishable from `decoder(RegisterInput)`: same
 * Right value (same keys, same key order, same identities), same `InvalidInput` on the Left. Its fast path
 * must never accept what the Schema rejects, and must actually be taken for ordinary valid inputs.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import fc from "fast-check"
import { StoredVersion } from "../../src/actors/snapshotCodec.ts"
import {
  decodeEventFastPath,
  decodeMetadataFastPath,
  decodeRegisterInputFast,
  decodeRegisterInputFastPath,
  decodeStoredVersionFastPath,
  isStoredBodyFastPath,
} from "../../src/domain/fastDecode.ts"
import {
  decoder,
  forbiddenKeys,
  InvalidInput,
  ModelMetadata,
  RegisterInput,
  RegistryEvent,
} from "../../src/domain/index.ts"

const slow = decoder(RegisterInput)

type Input = Record<PropertyKey, unknown>

const isObject = (value: unknown): value is Input => typeof value === "object" && value !== null

/** Everything observable about a decode result, as plain data (Effect's Equal would compare objects by reference). */
const observe = (input: unknown, result: Either.Either<unknown, InvalidInput>) => {
  if (Either.isLeft(result)) {
    const error = result.left
    return {
      left: {
        isInvalidInput: error instanceof InvalidInput,
        tag: error._tag,
        field: error.field,
        message: error.message,
      },
    }
  }
  const value = result.right as Input
  const tags = value.tags
  return {
    right: value,
    proto: Object.getPrototypeOf(value),
    keys: Reflect.ownKeys(value),
    isInput: value === input,
    metricsIsInputs: isObject(input) && value.metrics === input.metrics,
    tagsKeys: isObject(tags) ? Reflect.ownKeys(tags) : undefined,
    tagsProto: isObject(tags) ? Object.getPrototypeOf(tags) : undefined,
    tagsIsInputs: isObject(input) && tags === input.tags,
  }
}

/** Asserts fast ≡ slow on `input`; returns whether the fast path (no Schema) answered. */
const assertEquivalent = (input: unknown): boolean => {
  let expected: Either.Either<unknown, InvalidInput>
  try {
    expected = slow(input)
  } catch (slowError) {
    // The Schema path throws only where the input itself throws (a getter, a proxy trap): so must the fast one.
    expect(() => decodeRegisterInputFast(input)).toThrow(String((slowError as Error).message))
    return false
  }
  const fastOnly = (() => {
    try {
      return decodeRegisterInputFastPath(input)
    } catch {
      return undefined
    }
  })()
  if (fastOnly !== undefined) expect(Either.isRight(expected)).toBe(true)
  expect(observe(input, decodeRegisterInputFast(input))).toStrictEqual(observe(input, expected))
  return fastOnly !== undefined
}

// ---------------------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------------------

const requiredFieldNames = ["name", "version", "metrics", "tags", "id", "createdAt"] as const
const fieldNames = [...requiredFieldNames, "source", "runId"] as const

/** An object built with defineProperty, so that "__proto__" becomes an own key as JSON.parse makes it. */
const objectOf = (entries: ReadonlyArray<readonly [string, unknown]>, nullPrototype = false): Input => {
  const out: Input = nullPrototype ? Object.create(null) : {}
  for (const [key, value] of entries)
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
  return out
}

const utf8Bytes = (text: string) => new TextEncoder().encode(text).length
const chars = (text: string) => fc.constantFrom(...text.split(""))
const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
/** Any UTF-16 code unit (lone surrogates included) or any astral code point. */
const anyUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
  fc.integer({ min: 0x10000, max: 0x10ffff }).map((code) => String.fromCodePoint(code)),
  chars('aZ09 ._-/\\"\n\u0000é€😀'),
)
/** A character and its UTF-8 byte count (lone surrogates: 3 as U+FFFD in TextEncoder, 6 escaped in JSON). */
const wideChars = fc.constantFrom(
  ["x", 1, 1],
  ["é", 2, 2],
  ["€", 3, 3],
  ["😀", 4, 4],
  ["\ud800", 3, 6],
  ["\udfff", 3, 6],
  ["\n", 1, 2],
  ["\u0001", 1, 6],
  ['"', 1, 2],
) as fc.Arbitrary<readonly [string, number, number]>

const junk = fc.oneof(
  fc.anything({
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withObjectString: true,
    withSparseArray: true,
    withTypedArray: true,
    withUnicodeString: true,
    maxDepth: 3,
  }),
  fc.constantFrom(undefined, null, Number.NaN, Number.POSITIVE_INFINITY, -0, 0, "", [], {}, Symbol("s"), () => 1, 1n),
)

// --- name ------------------------------------------------------------------------------------------------

const nameArb = fc.oneof(
  fc.tuple(chars(alnum), fc.string({ unit: chars(`${alnum}._-`), maxLength: 127 })).map(([head, tail]) => head + tail),
  fc
    .tuple(chars(alnum), fc.string({ unit: chars(`${alnum}._-`), minLength: 127, maxLength: 127 }))
    .map(([head, tail]) => head + tail),
  fc.constantFrom("0", "9", "A", "Z", "a", "z", "a.", "Z-", "0_", "0...", "a--__..", "m7", "x".repeat(128)),
)
const badNameArb = fc.oneof(
  junk,
  fc.string({ unit: anyUnit, maxLength: 140 }),
  fc.string({ unit: chars(`${alnum}._-/ é\u0000\n`), maxLength: 140 }),
  fc.constantFrom("", "x".repeat(129), ".a", "-a", "_a", "a/b", "a b", " a", "a\n", "a\u0000", "é", "a:b", "a..b/.."),
)

// --- version ---------------------------------------------------------------------------------------------

const mainPart = fc.oneof(
  fc.constant("0"),
  fc.nat({ max: 30 }).map(String),
  fc.bigInt({ min: 1n, max: 999_999_999_999_999n }).map(String), // up to 15 digits
)
const numericIdentifier = fc.oneof(
  fc.constant("0"),
  fc.bigInt({ min: 1n, max: 10n ** 30n }).map(String), // pre-release numbers may exceed MAX_SAFE_INTEGER
)
const alphanumericIdentifier = fc
  .tuple(
    fc.string({ unit: chars("0123456789"), maxLength: 3 }),
    chars("abzAZ-"),
    fc.string({ unit: chars(`${alnum}-`), maxLength: 8 }),
  )
  .map(([digits, letter, rest]) => digits + letter + rest)
const preReleaseIdentifier = fc.oneof(numericIdentifier, alphanumericIdentifier)
const buildIdentifier = fc.string({ unit: chars(`${alnum}-`), minLength: 1, maxLength: 10 })
const versionArb = fc.oneof(
  fc
    .tuple(
      mainPart,
      mainPart,
      mainPart,
      fc.option(fc.array(preReleaseIdentifier, { minLength: 1, maxLength: 5 }), { nil: undefined }),
      fc.option(fc.array(buildIdentifier, { minLength: 1, maxLength: 5 }), { nil: undefined }),
    )
    .map(
      ([major, minor, patch, pre, build]) =>
        `${major}.${minor}.${patch}${pre ? `-${pre.join(".")}` : ""}${build ? `+${build.join(".")}` : ""}`,
    )
    .filter((version) => version.length <= 256),
  fc.constantFrom(
    `1.0.0+${"a".repeat(250)}`, // exactly 256
    `1.0.0-${"a".repeat(250)}`,
    "1.0.0-0a",
    "1.0.0-a.0.b",
    "1.0.0--",
    "1.0.0-x-y-z.--",
    "1.0.0+001",
    "1.0.0-alpha+001",
    "999999999999999.999999999999999.999999999999999",
  ),
)
const badVersionArb = fc.oneof(
  junk,
  fc.string({ unit: chars("0123456789.-+aZv= \n"), maxLength: 24 }),
  fc.string({ unit: anyUnit, maxLength: 20 }),
  // Main parts around Number.MAX_SAFE_INTEGER (9007199254740991): 16 digits may be valid, only the slow path knows.
  fc
    .tuple(fc.bigInt({ min: 9_007_199_254_740_980n, max: 10n ** 20n }), fc.nat({ max: 2 }))
    .map(([big, at]) => ["0", "0", "0"].map((part, i) => (i === at ? String(big) : part)).join(".")),
  versionArb.map((version) => `0${version}`),
  versionArb.map((version) => `v${version}`),
  versionArb.map((version) => ` ${version}`),
  versionArb.map((version) => `${version} `),
  versionArb.map((version) => `${version}\n`),
  versionArb.map((version) => `${version}.`),
  versionArb.map((version) => `${version}+`),
  versionArb.map((version) => `${version}-01`),
  versionArb.map((version) => version.padEnd(257, "0")),
  fc.constantFrom(
    "",
    "1",
    "1.0",
    "1.10",
    "01.0.0",
    "1.00.0",
    "1.0.00",
    "1.0.0-01",
    "1.0.0-",
    "1.0.0+",
    "1.0.0-a..b",
    "1.0.0+a+b",
    "1.0.0+a..b",
    "=1.0.0",
    "v1.0.0",
    "1.0.0 ",
    "\u00a01.0.0",
    "1.0.0\ufeff",
    "١.0.0",
    "1.0.0-é",
    "-1.0.0",
    "1.0.0.0",
    "9007199254740991.0.0",
    "9007199254740992.0.0",
    "0.9007199254740991.0",
    "0.0.9007199254740992",
    "1.0.0-9007199254740992",
    `1.0.0+${"a".repeat(251)}`,
  ),
)

// --- metrics ---------------------------------------------------------------------------------------------

const safeKey = fc
  .oneof(
    fc.string({ maxLength: 10 }),
    fc.string({ unit: anyUnit, maxLength: 6 }),
    fc.constantFrom("toJSON", "__proto", "proto", "Constructor", "length", "0", "1", "valueOf"),
  )
  .filter((key) => !forbiddenKeys.has(key))
const validLeaf = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom(0, -0, Number.MAX_VALUE, -Number.MIN_VALUE, 1.2345678901234567e-6, -1.2345678901234568e21),
  fc.string({ unit: anyUnit, maxLength: 20 }),
  fc.boolean(),
  fc.constant(null),
)
class Box {
  constructor(readonly v = 1) {}
}
class MyArray extends Array<unknown> {}
const badLeaf = fc.oneof(
  fc.constantFrom(
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    undefined,
    () => 1,
    Symbol("s"),
    1n,
    new Date(0),
    new Map(),
    new Set(),
    new Box(),
    new Number(1),
    new String("s"),
    /x/,
    new Uint8Array(2),
  ),
  fc.constant(null).map(() => {
    const sparse: unknown[] = []
    sparse[2] = 1
    return sparse
  }),
)
const jsonTree = (leaf: fc.Arbitrary<unknown>, key: fc.Arbitrary<string>) =>
  fc.letrec((tie) => ({
    tree: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      fc.array(tie("tree"), { maxLength: 4 }),
      fc
        .tuple(fc.array(fc.tuple(key, tie("tree")), { maxLength: 4 }), fc.boolean())
        .map(([entries, nullProto]) => objectOf(entries, nullProto)),
    ),
  })).tree
const validTree = jsonTree(validLeaf, safeKey)
/** Metrics nested `levels` deep: the innermost value sits at depth `levels` (32 is the last allowed). */
const chain = (levels: number, leaf: unknown, arrays: ReadonlyArray<boolean>): Input => {
  let value = leaf
  for (let i = levels - 1; i >= 1; i--) value = arrays[i % arrays.length] ? [value] : { d: value }
  return { d: value }
}
const chainArb = (min: number, max: number) =>
  fc
    .tuple(fc.integer({ min, max }), validLeaf, fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }))
    .map(([levels, leaf, arrays]) => chain(levels, leaf, arrays))
/** `{"blob":"…"}` is 11 bytes plus the string's: around 64 KiB, on both sides of the limit. */
const nearLimitMetrics = (slack: fc.Arbitrary<number>) =>
  fc
    .tuple(wideChars, slack)
    .map(([[char, , jsonBytes], delta]) => ({ blob: char.repeat(Math.floor((65536 - 11 + delta) / jsonBytes)) }))
/** Metrics filled with members until their JSON is at most `target` bytes (it lands within one member of it). */
const fillTo = (target: number, member: (i: number) => readonly [string, unknown]): Input => {
  const entries: Array<readonly [string, unknown]> = []
  let size = 2
  for (let i = 0; ; i++) {
    const [key, value] = member(i)
    const add = utf8Bytes(JSON.stringify(key)) + 1 + utf8Bytes(JSON.stringify(value)) + (i > 0 ? 1 : 0)
    if (size + add > target) return objectOf(entries)
    entries.push([key, value])
    size += add
  }
}
/** JSON values that are long for what they are: where an under-estimated size bound would show. */
const longMembers: ReadonlyArray<unknown> = [
  false,
  true,
  null,
  -0.0000012345678901234567, // 25 characters, the longest a double prints
  -1.7976931348623157e308,
  "",
  "\u0001",
  "\ud800",
  {},
  [],
  [false, null, -1.2345678901234566e-7],
]
const longestMembers = fc.constantFrom(...longMembers)
/** `{"n":[m,m,…]}`, exactly as many copies as fit in 64 KiB, or one more. */
const arrayAtLimit = (member: unknown, over: boolean) => {
  const copies = Math.floor((65536 - 7) / (utf8Bytes(JSON.stringify(member)) + 1)) + (over ? 1 : 0)
  return { n: Array.from({ length: copies }, () => member) }
}
const nearLimitMembers = (delta: fc.Arbitrary<number>) =>
  fc
    .tuple(wideChars, fc.nat({ max: 8 }), longestMembers, delta)
    .map(([[char], repeat, value, d]) => fillTo(65536 + d, (i) => [`${char.repeat(repeat)}${i}`, value]))
/** `{"n":[m,m,…]}` with as many copies of `m` as fit in about 64 KiB: no key to blur the byte count. */
const nearLimitArray = (delta: fc.Arbitrary<number>) =>
  fc.tuple(longestMembers, delta).map(([member, d]) => {
    const memberBytes = utf8Bytes(JSON.stringify(member))
    return { n: Array.from({ length: Math.floor((65536 + d - 7) / (memberBytes + 1)) }, () => member) }
  })
const metricsArb = fc.oneof(
  fc
    .tuple(fc.array(fc.tuple(safeKey, validTree), { maxLength: 8 }), fc.boolean())
    .map(([entries, nullProto]) => objectOf(entries, nullProto)),
  fc
    .dictionary(fc.string(), validLeaf, { maxKeys: 10 })
    .filter((m) => !Object.keys(m).some((k) => forbiddenKeys.has(k))),
  chainArb(1, 32),
  nearLimitMetrics(fc.integer({ min: -64, max: 0 })),
  fc.constantFrom({}, { acc: 0.9, loss: 0.1, f1: 0.85 }, Object.create(null)),
)
const forbiddenKey = fc.constantFrom("__proto__", "constructor", "prototype")
const badMetricsArb = fc.oneof(
  junk,
  fc.constantFrom(null, [], [1, 2], "x", 1, true, new Box(), new Map(), Object.create(Object.create(null))),
  // A bad leaf or a forbidden key somewhere in a tree.
  jsonTree(fc.oneof({ arbitrary: validLeaf, weight: 6 }, { arbitrary: badLeaf, weight: 1 }), safeKey).map((tree) => ({
    t: tree,
  })),
  jsonTree(validLeaf, fc.oneof({ arbitrary: safeKey, weight: 6 }, { arbitrary: forbiddenKey, weight: 1 })).map(
    (tree) => ({ t: tree }),
  ),
  fc
    .tuple(fc.array(fc.tuple(safeKey, validTree), { maxLength: 4 }), forbiddenKey, validTree)
    .map(([entries, k, v]) => objectOf([...entries, [k, v]])),
  badLeaf.map((leaf) => ({ m: leaf })),
  chainArb(33, 40),
  fc
    .tuple(fc.integer({ min: 28, max: 33 }), badLeaf, fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }))
    .map(([levels, leaf, arrays]) => chain(levels, leaf, arrays)),
  nearLimitMetrics(fc.integer({ min: -4, max: 64 })),
  // What JSON.stringify sees differently from the rule walk.
  fc.constant(null).map(() => {
    const list: unknown[] = [1]
    Object.assign(list, { toJSON: () => "x".repeat(70_000) })
    return { list }
  }),
  fc.constant(null).map(() => ({ list: MyArray.from([1, 2]) })),
  fc.constant(null).map(() => ({ [Symbol("s")]: Number.NaN, ok: 1 })),
  fc.constant(null).map(() => Object.defineProperty({ ok: 1 }, "hidden", { value: Number.NaN, enumerable: false })),
  fc.constant(null).map(() => ({
    get computed() {
      return 1
    },
  })),
)

// --- tags ------------------------------------------------------------------------------------------------

const tagKey = fc
  .oneof(
    fc.string({ minLength: 1, maxLength: 20 }),
    fc.string({ unit: anyUnit, minLength: 1, maxLength: 10 }),
    fc.string({ unit: anyUnit, minLength: 128, maxLength: 128 }),
    fc.constantFrom("0", "42", "toJSON", "length", "valueOf", "x".repeat(128)),
  )
  .filter((key) => key.length <= 128 && !forbiddenKeys.has(key))
const tagValue = fc
  .oneof(
    fc.string({ maxLength: 20 }),
    fc.string({ unit: anyUnit, maxLength: 400 }),
    fc.string({ minLength: 330, maxLength: 345 }),
    fc
      .tuple(wideChars, fc.nat({ max: 3 }))
      .map(([[char, bytes], under]) => char.repeat(Math.max(0, Math.floor(1024 / bytes) - under))),
  )
  .filter((value) => utf8Bytes(value) <= 1024)
const tagsArb = fc.oneof(
  fc
    .tuple(fc.array(fc.tuple(tagKey, tagValue), { maxLength: 10 }), fc.boolean())
    .map(([entries, nullProto]) => objectOf(entries, nullProto)),
  fc
    .uniqueArray(tagKey, { minLength: 60, maxLength: 64 })
    .map((keys) => objectOf(keys.map((key, i) => [key, `v${i}`] as const))),
  fc.constantFrom({}, { framework: "torch", owner: "team-a" }),
)
const badTagsArb = fc.oneof(
  junk,
  fc.constantFrom(null, [], ["a"], "x", new Box(), new Map([["a", "b"]])),
  fc.tuple(tagsArb, tagKey, junk).map(([tags, key, value]) => objectOf([...Object.entries(tags), [key, value]])),
  fc
    .tuple(tagsArb, fc.constantFrom("", "x".repeat(129)), tagValue)
    .map(([tags, key, value]) => objectOf([...Object.entries(tags), [key, value]])),
  fc
    .tuple(tagsArb, forbiddenKey, tagValue)
    .map(([tags, key, value]) => objectOf([[key, value], ...Object.entries(tags)])),
  fc
    .tuple(tagsArb, tagKey, wideChars, fc.integer({ min: -2, max: 3 }))
    .map(([tags, key, [char, bytes], over]) =>
      objectOf([...Object.entries(tags), [key, char.repeat(Math.floor(1024 / bytes) + over)]]),
    ),
  fc
    .uniqueArray(tagKey, { minLength: 65, maxLength: 70 })
    .map((keys) => objectOf(keys.map((key, i) => [key, `v${i}`] as const))),
  fc.constant(null).map(() => ({ a: "b", [Symbol("s")]: "c" })),
  fc.constant(null).map(() => Object.defineProperty({ a: "b" }, "hidden", { value: 1, enumerable: false })),
  fc.constant(null).map(() => Object.defineProperty({ a: "b" }, "hidden", { value: "ok", enumerable: false })),
)

// --- id, createdAt ---------------------------------------------------------------------------------------

const uuidPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/
const idArb = fc.oneof(
  fc.uuid(),
  fc.uuid().map((id) => id.toUpperCase()),
  fc.stringMatching(uuidPattern),
  fc.constantFrom("00000000-0000-0000-0000-000000000000", "ffffffff-FFFF-ffff-FFFF-ffffffffffff"),
)
const badIdArb = fc.oneof(
  junk,
  fc.string({ unit: chars("0123456789abcdefABCDEFg-{} "), maxLength: 40 }),
  idArb.map((id) => `{${id}}`),
  idArb.map((id) => id.replace(/-/g, "")),
  idArb.map((id) => `${id}0`),
  idArb.map((id) => `${id}\n`),
  idArb.map((id) => id.slice(1)),
  idArb.map((id) => id.replace(/[0-9a-f]/i, "g")),
)
const dateArb = fc.date({
  min: new Date("0000-01-01T00:00:00.000Z"),
  max: new Date("9999-12-31T23:59:59.999Z"),
  noInvalidDate: true,
})
const createdAtArb = fc.oneof(
  dateArb.map((date) => date.toISOString()),
  fc
    .tuple(dateArb, fc.nat({ max: 3 }))
    .map(([date, digits]) => date.toISOString().replace(/\.\d{3}Z$/, digits ? `.${"123".slice(0, digits)}Z` : "Z")),
  fc.constantFrom("2026-11-27T07:00:00.000Z", "2026-01-31T12:00:00Z", "2024-02-29T23:59:59.9Z"),
)
const badCreatedAtArb = fc.oneof(
  junk,
  // Matches the pattern, but Date.parse decides (month 13, day 45, hour 25...).
  fc.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/),
  fc.string({ unit: chars("0123456789-:.TZ +"), maxLength: 30 }),
  createdAtArb.map((text) => text.replace("Z", "+00:00")),
  createdAtArb.map((text) => text.replace("T", " ")),
  createdAtArb.map((text) => text.replace("Z", "0Z")),
  createdAtArb.map((text) => `${text}\n`),
  createdAtArb.map((text) => text.toLowerCase()),
  fc.constantFrom(
    "2026-13-45T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-02-31T24:00:00Z",
    "2026-01-01T24:00:01Z",
    "2026-01-01T23:60:00Z",
    "2026-00-01T00:00:00Z",
    "+012026-01-01T00:00:00.000Z",
    "2026-11-27 07:00",
    "2026-11-27T07:00:00.0000Z",
  ),
  dateArb.map((date) => date), // a Date, not a string
)

const sourceArb = fc.oneof(
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.constantFrom("s3://bucket/models/resnet/1.2.0", "file:///models/m", "gs://b/o%20k", "urn:isbn:0451450523"),
  fc.string({ unit: chars(`${alnum}-._~:/?#[]@!$&'()*+,;=`), minLength: 1, maxLength: 40 }).map((rest) => `s3:${rest}`),
)
const badSourceArb = fc.oneof(
  fc.constantFrom(
    "",
    "relative/path",
    "s3://a b",
    "s3://bucket/%zz",
    "1s3://x",
    "s3://x\n",
    's3://"quoted"',
    "s3://x\\y",
  ),
  fc.constant(`s3://${"a".repeat(2044)}`),
  junk,
)
/** Any character but a control one: printable ASCII, quotes and backslashes included, and beyond ASCII. */
const printable = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  fc.constantFrom("é", "日", "😀", "\u00a0"),
)
const runIdArb = fc.oneof(fc.uuid(), fc.string({ unit: printable, minLength: 1, maxLength: 256 }))
const badRunIdArb = fc.oneof(fc.constantFrom("", "run\n1", "\u007f", "x".repeat(257)), junk)

// --- whole inputs ----------------------------------------------------------------------------------------

/** Every field's valid values; which are required is up to each whole input. */
const inputFields = {
  name: nameArb,
  version: versionArb,
  metrics: metricsArb,
  tags: tagsArb,
  id: idArb,
  createdAt: createdAtArb,
  source: sourceArb,
  runId: runIdArb,
}

const validInput = fc.record(inputFields, { requiredKeys: ["name", "version"] }) as fc.Arbitrary<Input>

const badValueFor = {
  name: badNameArb,
  version: badVersionArb,
  metrics: badMetricsArb,
  tags: badTagsArb,
  id: badIdArb,
  createdAt: badCreatedAtArb,
  source: badSourceArb,
  runId: badRunIdArb,
} satisfies Record<(typeof fieldNames)[number], fc.Arbitrary<unknown>>

class InputClass {
  constructor(fields: Input) {
    Object.assign(this, fields)
  }
}

type Mutation = (input: Input) => unknown
/** A copy with the same prototype and own properties (getters kept), every property writable and configurable. */
const copy = (input: Input): Input => {
  const out: Input = Object.create(Object.getPrototypeOf(input))
  for (const key of Reflect.ownKeys(input)) {
    const descriptor = Object.getOwnPropertyDescriptor(input, key)!
    Object.defineProperty(out, key, {
      ...descriptor,
      configurable: true,
      ...("value" in descriptor && { writable: true }),
    })
  }
  return out
}
const withField = (input: Input, key: PropertyKey, value: unknown): Input =>
  Object.defineProperty(copy(input), key, { value, enumerable: true, writable: true, configurable: true })
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // One field broken in one way.
  ...fieldNames.map((field) =>
    badValueFor[field].map(
      (bad): Mutation =>
        (input) =>
          withField(input, field, bad),
    ),
  ),
  // A required field missing.
  fc.constantFrom("name", "version").map(
    (field): Mutation =>
      (input) => {
        const out = copy(input)
        delete out[field]
        return out
      },
  ),
  // A key too many.
  fc.tuple(fc.oneof(fc.string(), fc.constantFrom("metric", "Name", "__proto__", "toString", "0")), junk).map(
    ([key, value]): Mutation =>
      (input) =>
        withField(input, key, value),
  ),
  fc.constant((input: Input) => ({ ...input, [Symbol("extra")]: 1 })),
  fc.constant((input: Input) => Object.defineProperty(copy(input), "hidden", { value: 1, enumerable: false })),
  // Known fields that are own but not enumerable, or read through a getter: still decoded.
  fc.constant((input: Input) => Object.defineProperty(copy(input), "name", { value: input.name, enumerable: false })),
  fc.constant((input: Input) =>
    Object.defineProperty(copy(input), "version", { get: () => input.version, enumerable: true }),
  ),
  // The same fields in another container.
  fc.constant((input: Input) => [input]),
  fc.constant((input: Input) => asArray(input)),
  fc.constant((input: Input) => new InputClass(input)),
  fc.constant((input: Input) => Object.create(input)),
  fc.constant((input: Input) => Object.assign(Object.create(Object.create(null)), input)),
  fc.constant((input: Input) => new Proxy(copy(input), {})),
  fc.constant((input: Input) => Object.freeze(copy(input))),
  fc.constant((input: Input) => String(Object.keys(input))),
  fc.constant((input: Input) => new Map(Object.entries(input))),
)
/**
 * The input's fields on an array. An array's own `length` takes only array lengths, so a `length` key that another
 * mutation added (with junk such as -1) is left out: `Object.assign` threw a RangeError in the generator itself.
 */
const asArray = (input: Input): unknown => {
  const { length: _length, ...fields } = input as Input & { readonly length?: unknown }
  return Object.assign([], fields)
}

const mutatedInput = fc
  .tuple(validInput, fc.array(mutation, { minLength: 1, maxLength: 3 }))
  .map(([input, mutations]) => mutations.reduce<unknown>((value, f) => (isObject(value) ? f(value) : value), input))

const junkInput = fc.oneof(
  junk,
  fc.record(
    {
      name: fc.oneof(nameArb, badNameArb),
      version: fc.oneof(versionArb, badVersionArb),
      metrics: fc.oneof(metricsArb, badMetricsArb),
      tags: fc.oneof(tagsArb, badTagsArb),
      id: fc.oneof(idArb, badIdArb),
      createdAt: fc.oneof(createdAtArb, badCreatedAtArb),
      source: fc.oneof(sourceArb, badSourceArb),
      runId: fc.oneof(runIdArb, badRunIdArb),
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(fc.oneof(fc.constantFrom(...fieldNames), fc.string()), junk, { maxKeys: 8 }),
)

// ---------------------------------------------------------------------------------------------------------

describe("decodeRegisterInputFast ≡ decoder(RegisterInput)", () => {
  it("valid inputs: the same value, and the fast path takes them", () => {
    fc.assert(
      fc.property(validInput, (input) => {
        expect(Either.isRight(slow(input))).toBe(true)
        expect(assertEquivalent(input)).toBe(true)
      }),
      { numRuns: 4000 },
    )
  })

  it("mutated inputs: the same error (or value), and the fast path never accepts what Schema rejects", () => {
    let rejected = 0
    fc.assert(
      fc.property(mutatedInput, (input) => {
        assertEquivalent(input)
        if (Either.isLeft(slow(input))) rejected++
      }),
      { numRuns: 6000 },
    )
    expect(rejected).toBeGreaterThan(3000) // the generator mostly breaks things, as intended
  })

  it("arbitrary junk: the same result", () => {
    fc.assert(
      fc.property(junkInput, (input) => void assertEquivalent(input)),
      { numRuns: 4000 },
    )
  })

  it("metrics around 64 KiB, made of the members whose JSON is longest for their size", () => {
    let accepted = 0
    const nearby = fc.integer({ min: -48, max: 48 })
    fc.assert(
      fc.property(validInput, fc.oneof(nearLimitMembers(nearby), nearLimitArray(nearby)), (input, metrics) => {
        if (assertEquivalent({ ...input, metrics })) accepted++
      }),
      { numRuns: 150 },
    )
    expect(accepted).toBeGreaterThan(25)
  })

  it("field by field, each broken value against every valid background", () => {
    for (const field of fieldNames) {
      fc.assert(
        fc.property(validInput, badValueFor[field], (input, bad) => void assertEquivalent({ ...input, [field]: bad })),
        { numRuns: 500 },
      )
    }
  })
})

describe("decodeRegisterInputFast, tricky cases", () => {
  const base = { name: "m7", version: "1.0.123" }
  const sample = { ...base, metrics: { acc: 0.9, loss: 0.1, f1: 0.85 }, tags: { framework: "torch", owner: "team-a" } }

  it("decodes the typical input on the fast path into a new object, keeping the caller's metrics and tags", () => {
    const result = decodeRegisterInputFast(sample)
    expect(decodeRegisterInputFastPath(sample)).toBeDefined()
    expect(assertEquivalent(sample)).toBe(true)
    const value = Either.getOrThrow(result)
    expect(value).not.toBe(sample)
    expect(value.metrics).toBe(sample.metrics)
    expect(value.tags).toBe(sample.tags) // the registry copies both before keeping them
    expect(Object.keys(value)).toEqual(["name", "version", "metrics", "tags"])
  })

  it.each([
    ["major = MAX_SAFE_INTEGER (valid, 16 digits: slow path)", { ...base, version: "9007199254740991.0.0" }, false],
    ["major = MAX_SAFE_INTEGER + 1 (invalid)", { ...base, version: "9007199254740992.0.0" }, false],
    ["15-digit parts", { ...base, version: "999999999999999.999999999999999.999999999999999" }, true],
    ["huge pre-release number (valid)", { ...base, version: "1.0.0-99999999999999999999999" }, true],
    ["leading zero in pre-release", { ...base, version: "1.0.0-01" }, false],
    ["leading zeros in build (valid)", { ...base, version: "1.0.0+001" }, true],
    ["version of 256 characters", { ...base, version: `1.0.0+${"a".repeat(250)}` }, true],
    ["version of 257 characters", { ...base, version: `1.0.0+${"a".repeat(251)}` }, false],
    ["name of 128 characters", { ...base, name: "x".repeat(128) }, true],
    ["name of 129 characters", { ...base, name: "x".repeat(129) }, false],
    ["metrics -0", { ...base, metrics: { z: -0 } }, true],
    ["metrics NaN", { ...base, metrics: { z: Number.NaN } }, false],
    ["metrics depth 32", { ...base, metrics: chain(32, 1, [false]) }, true],
    ["metrics depth 33", { ...base, metrics: chain(33, 1, [false]) }, false],
    ["metrics depth 33 of arrays", { ...base, metrics: chain(33, [], [true]) }, false],
    ["metrics exactly 64 KiB", { ...base, metrics: { blob: "x".repeat(65536 - 11) } }, true],
    ["metrics 64 KiB + 1", { ...base, metrics: { blob: "x".repeat(65536 - 10) } }, false],
    ["nested __proto__", { ...base, metrics: JSON.parse('{"a":{"__proto__":{"x":1}}}') }, false],
    ["nested constructor", { ...base, metrics: { a: [{ constructor: 1 }] } }, false],
    ["null-prototype metrics", { ...base, metrics: Object.assign(Object.create(null), { a: 1 }) }, true],
    ["64 tags", { ...base, tags: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, "v"])) }, true],
    ["65 tags", { ...base, tags: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])) }, false],
    ["tag value 1024 bytes of emoji", { ...base, tags: { k: "😀".repeat(256) } }, true],
    ["tag value 1028 bytes of emoji", { ...base, tags: { k: "😀".repeat(257) } }, false],
    ["tag value 341 lone surrogates", { ...base, tags: { k: "\ud800".repeat(341) } }, true],
    ["tag value 342 lone surrogates", { ...base, tags: { k: "\ud800".repeat(342) } }, false],
    ["tag key of 128 characters", { ...base, tags: { ["k".repeat(128)]: "v" } }, true],
    ["tag key of 129 characters", { ...base, tags: { ["k".repeat(129)]: "v" } }, false],
    ["tag key __proto__ (refused, not dropped)", { ...base, tags: JSON.parse('{"__proto__":"x","a":"b"}') }, false],
    ["tag key constructor", { ...base, tags: { constructor: "x" } }, false],
    ["uppercase uuid", { ...base, id: "5F0C6D5E-8B5F-4D59-9D6E-2F7F4F1F0A11" }, true],
    ["timestamp without milliseconds", { ...base, createdAt: "2026-01-31T12:00:00Z" }, true],
    [
      "timestamp Feb 31 24:00 (Date.parse rolls it over; refused)",
      { ...base, createdAt: "2026-02-31T24:00:00Z" },
      false,
    ],
    ["timestamp Feb 29 of a leap year", { ...base, createdAt: "2028-02-29T23:59:59.999Z" }, true],
    ["timestamp month 13", { ...base, createdAt: "2026-13-01T00:00:00Z" }, false],
    ["explicit undefined optional", { ...base, id: undefined }, false],
    ["extra key", { ...base, metric: {} }, false],
    ["symbol key", { ...base, [Symbol("s")]: 1 }, false],
    ["null-prototype input", Object.assign(Object.create(null), base), true],
    ["inherited fields (the Schema reads them)", Object.create(base), false],
    ["class instance", new InputClass(base), false],
    ["array", Object.assign([], base), false],
  ])("%s", (_, input, fast) => {
    expect(assertEquivalent(input)).toBe(fast)
  })

  it.each(longMembers.map((member) => [JSON.stringify(member), member]))(
    "metrics of %s repeated up to 64 KiB, and one more",
    (_, member) => {
      expect(utf8Bytes(JSON.stringify(arrayAtLimit(member, false)))).toBeLessThanOrEqual(65536)
      expect(utf8Bytes(JSON.stringify(arrayAtLimit(member, true)))).toBeGreaterThan(65536)
      expect(assertEquivalent({ ...base, metrics: arrayAtLimit(member, false) })).toBe(true)
      expect(assertEquivalent({ ...base, metrics: arrayAtLimit(member, true) })).toBe(false)
    },
  )

  it("a throwing getter throws on both paths", () => {
    const input = {
      ...base,
      get tags(): unknown {
        throw new Error("boom")
      },
    }
    expect(() => slow(input)).toThrow("boom")
    expect(() => decodeRegisterInputFast(input)).toThrow("boom")
  })

  it("an array whose toJSON hides 70 KB is measured as JSON.stringify writes it", () => {
    const list: unknown[] = [1]
    Object.assign(list, { toJSON: () => "x".repeat(70_000) })
    const input = { ...base, metrics: { list } }
    expect(Either.isLeft(slow(input))).toBe(true)
    expect(assertEquivalent(input)).toBe(false)
  })

  it("deeply nested hostile input does not exhaust the stack", () => {
    let deep: unknown = 1
    for (let i = 0; i < 10_000; i++) deep = { d: deep }
    expect(assertEquivalent({ ...base, metrics: deep })).toBe(false)
    expect(assertEquivalent({ ...base, tags: { k: deep } })).toBe(false)
  })
})

// ---------------------------------------------------------------------------------------------------------
// Stored shapes: what replay and snapshots check. Every field is required, and a snapshot's version has `state`.
// ---------------------------------------------------------------------------------------------------------

const storedShapes = [
  { name: "ModelMetadata", fast: decodeMetadataFastPath, slow: decoder(ModelMetadata), withState: false },
  { name: "a snapshot's version", fast: decodeStoredVersionFastPath, slow: decoder(StoredVersion), withState: true },
] as const

const completeInput = fc.record(inputFields, {
  requiredKeys: ["name", "version", "metrics", "tags", "id", "createdAt"],
}) as fc.Arbitrary<Input>
const stateArb = fc.constantFrom("registered", "production", "deprecated")
const badStateArb = fc.oneof(fc.constantFrom("Registered", "archived", "", null, 1), junk)

describe.each(storedShapes)("the fast path for $name never accepts what Schema rejects", (shape) => {
  /** Fast answer (if any) ≡ Schema's value, key order included; returns whether the fast path answered. */
  const agrees = (input: unknown): boolean => {
    let fast: unknown
    try {
      fast = shape.fast(input)
    } catch {
      fast = undefined
    }
    if (fast === undefined) return false
    const slow = shape.slow(input)
    expect(Either.isRight(slow)).toBe(true)
    const expected = Either.getOrThrow(slow) as Input
    expect(fast).toStrictEqual(expected)
    expect(Reflect.ownKeys(fast as Input)).toEqual(Reflect.ownKeys(expected))
    return true
  }
  const withState = (input: Input, state: unknown) => (shape.withState ? { ...input, state } : input)

  it("complete valid inputs: taken, with Schema's value", () => {
    fc.assert(
      fc.property(completeInput, stateArb, (input, state) => {
        const complete = withState(input, state)
        expect(Either.isRight(shape.slow(complete))).toBe(true)
        expect(agrees(complete)).toBe(true)
      }),
      { numRuns: 2000 },
    )
  })

  it("an input with a `length` key, moved onto an array, agrees too (the generator once threw on it)", () => {
    for (const length of [-1, 2 ** 32, "x", 1.5])
      agrees(asArray(withField({ name: "m", version: "1.0.0" } as Input, "length", length)))
  })

  it("mutated, partial and junk inputs, and bad or missing states: never a different answer", () => {
    fc.assert(
      fc.property(
        fc.oneof(mutatedInput, junkInput, validInput),
        fc.oneof(stateArb, badStateArb),
        (input, state) => void agrees(isObject(input) && !Array.isArray(input) ? withState(input, state) : input),
      ),
      { numRuns: 6000 },
    )
  })

  it.each(requiredFieldNames)("a missing %s is left to Schema, which rejects it", (field) => {
    fc.assert(
      fc.property(completeInput, stateArb, (input, state) => {
        const { [field]: _dropped, ...rest } = withState(input, state)
        expect(shape.fast(rest)).toBeUndefined()
        expect(Either.isLeft(shape.slow(rest))).toBe(true)
      }),
      { numRuns: 100 },
    )
  })
})

describe("isStoredBodyFastPath never accepts a body that does not parse into valid metadata", () => {
  const decodeMetadata = decoder(ModelMetadata)
  const bodyOf = (input: Input) =>
    JSON.stringify({
      id: input.id,
      createdAt: input.createdAt,
      metrics: input.metrics,
      tags: input.tags,
      source: input.source,
      runId: input.runId,
    })
  /** Whether the check accepted `body`, set between unrelated text as in a snapshot block; asserts it is valid if so. */
  const judged = (body: string): boolean => {
    const text = `{"x":1}${body}"}`
    if (!isStoredBodyFastPath(text, 7, 7 + body.length)) return false
    const parsed = JSON.parse(body) as Input
    expect(Object.keys(parsed)).toEqual(
      ["id", "createdAt", "metrics", "tags", "source", "runId"].filter((key) => Object.hasOwn(parsed, key)),
    )
    const decoded = decodeMetadata({ ...parsed, name: "m", version: "1.0.0" })
    expect(Either.isRight(decoded)).toBe(true)
    return true
  }
  const significant = fc.constantFrom('"', "\\", "{", "}", "[", "]", ",", ":", "e", "9", "-", ".", "\u0001", "é", "")

  it("valid bodies: accepted only when valid, and ordinary ones are accepted", () => {
    fc.assert(
      fc.property(completeInput, (input) => void judged(bodyOf(input))),
      { numRuns: 2000 },
    )
    const ordinary = {
      id: "6f1c2a9e-0000-4000-8000-000000000000",
      createdAt: "2026-01-01T00:00:00.097Z",
      metrics: { accuracy: 0.8863, f1: 0.8055, note: "ok", curve: [1, 2, 3], flag: true, none: null },
      tags: { framework: "sklearn", "owner.team": "ünï 😀" },
    }
    expect(judged(bodyOf(ordinary))).toBe(true)
    // An artifact location and a run keep a body on the fast path: a registry whose versions all have them opens as fast.
    expect(judged(bodyOf({ ...ordinary, source: "s3://models/resnet/1.2.0?v=3#w", runId: "run-2026-11-27 #4" }))).toBe(
      true,
    )
    expect(judged(bodyOf({ ...ordinary, source: `s3://${"a".repeat(2043)}` }))).toBe(true)
    expect(judged(bodyOf({ ...ordinary, source: `s3://${"a".repeat(2044)}` }))).toBe(false)
  })

  it("bodies with a bad field, or with characters replaced, inserted or removed", () => {
    const badField = fc
      .constantFrom(...(["metrics", "tags", "id", "createdAt", "source", "runId"] as const))
      .chain((key) => fc.tuple(fc.constant(key), fc.oneof(badValueFor[key], fc.anything())))
    fc.assert(
      fc.property(completeInput, badField, (input, [key, bad]) => {
        let body: string
        try {
          body = bodyOf({ ...input, [key]: bad })
        } catch {
          return fc.pre(false) // A value JSON cannot write (a BigInt) is no body a writer could store.
        }
        judged(body)
      }),
      { numRuns: 1000 },
    )
    fc.assert(
      fc.property(completeInput, fc.nat(), significant, fc.nat(2), (input, at, char, removed) => {
        const body = bodyOf(input)
        const i = at % (body.length + 1)
        judged(body.slice(0, i) + char + body.slice(i + removed))
      }),
      { numRuns: 5000 },
    )
  })

  it.each([
    ["a forbidden metrics key", '{"__proto__":1}', "{}"],
    ["a forbidden tag key", "{}", '{"constructor":"x"}'],
    ["an infinite number", '{"a":1e999}', "{}"],
    ["too many integer digits", `{"a":${"9".repeat(400)}}`, "{}"],
    ["an empty tag key", "{}", '{"":"x"}'],
    ["a tag that is not a string", "{}", '{"a":1}'],
    ["a raw control character", '{"a":"\u0001"}', "{}"],
  ])("refuses %s", (_, metrics, tags) => {
    const body = `{"id":"6f1c2a9e-0000-4000-8000-000000000000","createdAt":"2026-01-01T00:00:00Z","metrics":${metrics},"tags":${tags}}`
    expect(isStoredBodyFastPath(body, 0, body.length)).toBe(false)
  })
})

describe("decodeEventFastPath never answers other than the Schema", () => {
  const validateEvent = Schema.decodeUnknownEither(RegistryEvent, { onExcessProperty: "error" })
  const at = "2026-12-01T10:00:00.000Z"
  const metadata = {
    id: "00000000-0000-4000-8000-000000000001",
    name: "m",
    version: "1.0.0",
    createdAt: at,
    metrics: { a: 1 },
    tags: {},
  }
  const bodies = {
    Registered: { at, metadata },
    Promoted: { at, name: "m", version: "1.1.0", supersedes: null },
    Deprecated: { at, name: "m", version: "1.0.0" },
  } as const
  const actor = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom("ci", "(unknown)", "(embedded)", "", "a\nb", "x".repeat(129), 7, null),
    fc.string({ maxLength: 130 }),
  )

  it("with or without an actor, valid or not, and with a stray key: the Schema's value, in its key order", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("Registered", "Promoted", "Deprecated"),
        actor,
        fc.boolean(),
        (tag: keyof typeof bodies, given, stray) => {
          const body: Record<string, unknown> = { ...bodies[tag] }
          if (given !== undefined) body.actor = given
          if (stray) body.extra = 1
          const fast = decodeEventFastPath(tag, 3, body)
          const slow = validateEvent({ ...body, _tag: tag, seq: 3 })
          if (fast === undefined) return
          expect(Either.isRight(slow)).toBe(true)
          expect(JSON.stringify(fast)).toBe(JSON.stringify(Either.getOrThrow(slow)))
        },
      ),
      { numRuns: 500 },
    )
  })

  it("takes the records it is there for: with the actor this release writes, and without, as older ones", () => {
    for (const tag of ["Registered", "Promoted", "Deprecated"] as const) {
      expect(decodeEventFastPath(tag, 3, { ...bodies[tag], actor: "ci" })).toMatchObject({ actor: "ci" })
      expect(decodeEventFastPath(tag, 3, { ...bodies[tag] })).toMatchObject({ actor: "(unknown)" })
    }
  })
})
