/**
 * The digest that chains WAL records for tamper evidence (docs/architecture.md, "File format"): SHA-256, always.
 *
 * It is a service for the same reason `Checksum` is: each runtime plugs in its fastest SHA-256 (Node's one-shot
 * `crypto.hash`, Web Crypto on Deno and the edge) while the bytes on disk stay the same everywhere. Web Crypto only
 * hashes asynchronously, and a record's input holds the digest of the record before it, so the port hashes a whole
 * batch in order inside one effect rather than one record per call. The plain-JS SHA-256 (`@noble/hashes`) is the
 * runtime-neutral default (and what deterministic tests use); the runtime implementations must agree with it.
 */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js"
import { Context, Effect, Option } from "effect"

/** Chain algorithm ids as written in segment and snapshot headers; 0 means "not chained". Ids are never reused. */
export const ChainAlgorithm = { none: 0, sha256: 1 } as const

/** The size of a chain value. */
export const chainValueBytes = 32

/**
 * The chain value before the first chained record of a log (32 zero bytes): where a new log's chain starts, and
 * where an older log's starts at its first record written by this format.
 */
export const chainStart: Uint8Array = new Uint8Array(chainValueBytes)

/**
 * Hashes `count` messages in order. `message(i)` is asked for only after `done(i - 1, …)` returned, so a message
 * may hold the digest before it. `done(i, digest)` receives a 32-byte digest that is valid only during the call
 * (copy what you keep); returning `false` stops the walk there.
 */
export interface ChainDigest {
  readonly algorithm: typeof ChainAlgorithm.sha256
  readonly digestInOrder: (
    count: number,
    message: (i: number) => Uint8Array,
    done: (i: number, digest: Uint8Array) => boolean | undefined,
  ) => Effect.Effect<void>
}

export const ChainDigest: Context.Tag<ChainDigest, ChainDigest> = Context.GenericTag<ChainDigest>(
  "@visutility/model-registry/ChainDigest",
)

/** A digest service over a synchronous SHA-256: the whole batch in one `Effect.sync`. */
export const fromSync = (sha256: (data: Uint8Array) => Uint8Array): ChainDigest => ({
  algorithm: ChainAlgorithm.sha256,
  digestInOrder: (count, message, done) =>
    Effect.sync(() => {
      for (let i = 0; i < count; i++) if (done(i, sha256(message(i))) === false) return
    }),
})

/** What Web Crypto offers, as a parameter: the core reads no runtime global. */
export interface SubtleDigest {
  readonly digest: (algorithm: "SHA-256", data: Uint8Array) => Promise<ArrayBuffer>
}

/** A digest service over Web Crypto (`crypto.subtle`): one promise per batch, its records hashed in order. */
export const fromWebCrypto = (subtle: SubtleDigest): ChainDigest => ({
  algorithm: ChainAlgorithm.sha256,
  digestInOrder: (count, message, done) =>
    Effect.promise(async () => {
      for (let i = 0; i < count; i++)
        if (done(i, new Uint8Array(await subtle.digest("SHA-256", message(i)))) === false) return
    }),
})

/**
 * SHA-256 in plain JavaScript, from `@noble/hashes` (audited, no runtime dependency): the runtime-neutral default
 * the core and its deterministic tests use where no runtime digest is plugged in.
 */
export const sha256 = (data: Uint8Array): Uint8Array => nobleSha256(data)

export const sha256Js: ChainDigest = fromSync(sha256)

/** The provided chain digest, or the runtime-neutral one when none is provided. */
export const chainDigestOrDefault: Effect.Effect<ChainDigest> = Effect.map(Effect.serviceOption(ChainDigest), (o) =>
  Option.getOrElse(o, () => sha256Js),
)
