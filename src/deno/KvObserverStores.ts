/**
 * The observers' two ports on Deno KV, beside the log of src/deno/KvStorage.ts: durable cursors (one key per
 * observer) and append-only sinks (the audit log, dead letters: one entry per append, in chunks under a value's
 * 64 KiB limit, numbered by a per-sink counter that each append checks and moves in the same atomic commit). Each
 * call is durable once it returns; a call that fails has failed alone (a cursor is saved again by its next event,
 * and a sink append is retried by its observer). `readAll` joins a sink's appends as the file backend's bytes.
 */
import { Effect, Option } from "effect"
import { StorageFailed } from "../domain/errors.ts"
import type { AppendSink } from "../storage/AppendSink.ts"
import { concatBytes } from "../storage/ByteParts.ts"
import { assertSeq, type CursorStore } from "../storage/CursorStore.ts"
import { relativeComponents } from "../storage/RelativePath.ts"
import type { DenoKv, DenoKvKeyPart } from "./denoTypes.ts"
import { atomicBytesMax, atomicMutationsMax, chunkBytesMax, chunksOf } from "./KvStorage.ts"

const failure = (operation: string, location: string, error: unknown) =>
  new StorageFailed({
    operation,
    path: location,
    reason: "Unavailable",
    message: `${operation} ${location}: ${error instanceof Error ? error.message : String(error)}`,
  })

export const makeCursorStore = (kv: DenoKv, location: string, prefix: ReadonlyArray<DenoKvKeyPart>): CursorStore => ({
  // A name that could escape its directory is a defect (`relativeComponents` throws), so it is checked outside the
  // calls whose failures are the store's.
  get: (name) =>
    Effect.flatMap(
      Effect.suspend(() => {
        const key = [...prefix, "cursor", ...relativeComponents(name)]
        return Effect.tryPromise({
          try: () => kv.get<unknown>(key),
          catch: (error) => failure("cursor-get", location, error),
        })
      }),
      (entry) => {
        if (entry.value === null) return Effect.succeed(Option.none())
        if (typeof entry.value !== "number" || !Number.isSafeInteger(entry.value) || entry.value < 0)
          return Effect.fail(
            new StorageFailed({
              operation: "cursor-get",
              path: `${location} cursor ${name}`,
              reason: "InvalidData",
              message: `cursor ${name} in ${location} does not hold a seq`,
            }),
          )
        return Effect.succeed(Option.some(entry.value))
      },
    ),
  set: (name, seq) =>
    Effect.suspend(() => {
      const key = [...prefix, "cursor", ...relativeComponents(name)]
      assertSeq(seq)
      return Effect.asVoid(
        Effect.tryPromise({ try: () => kv.set(key, seq), catch: (error) => failure("cursor-set", location, error) }),
      )
    }),
})

/** Most one append may hold: it is one atomic commit, so it is all there or not at all. */
export const sinkAppendBytesMax = Math.min(atomicBytesMax - 4096, (atomicMutationsMax - 1) * chunkBytesMax)

export const makeAppendSink = (
  kv: DenoKv,
  location: string,
  prefix: ReadonlyArray<DenoKvKeyPart>,
): Effect.Effect<AppendSink> =>
  Effect.map(Effect.makeSemaphore(1), (mutex) => ({
    append: (name, bytes) =>
      mutex.withPermits(1)(
        Effect.suspend(() => {
          const parts = relativeComponents(name)
          if (bytes.length > sinkAppendBytesMax)
            return Effect.fail(
              new StorageFailed({
                operation: "append",
                path: `${location} ${name}`,
                reason: "BadArgument",
                message: `an append to ${name} holds ${bytes.length} bytes; Deno KV takes at most ${sinkAppendBytesMax} in one commit`,
              }),
            )
          const countKey = [...prefix, "sink-count", ...parts]
          return Effect.flatMap(
            Effect.tryPromise({
              try: async () => {
                const count = await kv.get<number>(countKey)
                const n = (count.value ?? 0) + 1
                const operation = kv
                  .atomic()
                  .check({ key: countKey, versionstamp: count.versionstamp })
                  .set(countKey, n)
                for (const [i, chunk] of chunksOf(bytes).entries())
                  operation.set([...prefix, "sink", ...parts, "\u0000", n, i], chunk)
                return operation.commit()
              },
              catch: (error) => failure("append", location, error),
            }),
            (result) =>
              result.ok
                ? Effect.void
                : Effect.fail(failure("append", location, `another writer appended to ${name} at the same time`)),
          )
        }),
      ),
    readAll: (name) =>
      Effect.suspend(() => {
        const within = [...prefix, "sink", ...relativeComponents(name), "\u0000"]
        return Effect.tryPromise({
          try: async () => {
            const chunks: Array<Uint8Array> = []
            for await (const entry of kv.list<Uint8Array>({ prefix: within }, { batchSize: 500 }))
              chunks.push(entry.value)
            return concatBytes(chunks)
          },
          catch: (error) => failure("read", location, error),
        })
      }),
  }))
