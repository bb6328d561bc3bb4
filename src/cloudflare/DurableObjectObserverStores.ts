/**
 * The observers' ports in a Durable Object's SQLite storage (DurableObjectSchema.ts creates the tables): durable
 * cursors, one row per observer, and append-only sinks (the audit log, dead letters), one row per append, joined
 * back in order as the file backend's bytes. Each call is one transaction, acknowledged once `storage.sync()`
 * resolved; a failed sync latches the port, as a failed fsync does a file's.
 */
import { Effect, Layer, Option } from "effect"
import { StorageFailed } from "../domain/errors.ts"
import { AppendSink } from "../storage/AppendSink.ts"
import { concatBytes } from "../storage/ByteParts.ts"
import { assertSeq, CursorStore } from "../storage/CursorStore.ts"
import * as FailureLatch from "../storage/FailureLatch.ts"
import { relativeComponents } from "../storage/RelativePath.ts"
import type { DurableObjectStorage } from "./DurableObjectApi.ts"
import { location, migrate } from "./DurableObjectSchema.ts"
import { attempt, durableWrite, rowRecordBytesMax } from "./DurableObjectStorage.ts"

/** Names are held to the file backend's rules (a defect otherwise), so an app moves between backends unchanged. */
const named = <A, E>(name: string, body: () => Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    relativeComponents(name)
    return body()
  })

/**
 * The object's cursors. The tables are migrated first, so the store can be built before or without the log.
 */
export const makeCursorStore = (storage: DurableObjectStorage): Effect.Effect<CursorStore, StorageFailed> =>
  Effect.map(
    attempt("open", () => migrate(storage)),
    (): CursorStore => {
      const latch = FailureLatch.make()
      return {
        get: (name) =>
          named(name, () =>
            Effect.zipRight(
              latch.check("cursor-get", name),
              attempt("cursor-get", () => {
                const [row] = storage.sql
                  .exec<{ seq: number }>("select seq from registry_cursors where name = ?", name)
                  .toArray()
                return Option.map(Option.fromNullable(row), (r) => r.seq)
              }),
            ),
          ),
        set: (name, seq) =>
          named(name, () => {
            assertSeq(seq)
            return Effect.zipRight(
              latch.check("cursor-set", name),
              latch.guard(
                durableWrite(storage, "cursor-set", () => {
                  storage.sql.exec(
                    "insert into registry_cursors (name, seq) values (?, ?) on conflict (name) do update set seq = excluded.seq",
                    name,
                    seq,
                  )
                }),
              ),
            )
          }),
      }
    },
  )

/** The object's append-only sinks; an append larger than a row can hold fails that call with `StorageFailed`. */
export const makeAppendSink = (storage: DurableObjectStorage): Effect.Effect<AppendSink, StorageFailed> =>
  Effect.map(
    attempt("open", () => migrate(storage)),
    (): AppendSink => {
      const latch = FailureLatch.make()
      return {
        append: (name, bytes) =>
          named(name, () =>
            Effect.zipRight(
              latch.check("append", name),
              bytes.length > rowRecordBytesMax
                ? Effect.fail(
                    new StorageFailed({
                      operation: "append",
                      path: `${location}${name}`,
                      reason: "BadArgument",
                      message: `an append to ${name} of ${bytes.length} bytes exceeds a row (${rowRecordBytesMax} bytes)`,
                    }),
                  )
                : latch.guard(
                    durableWrite(storage, "append", () => {
                      storage.sql.exec("insert into registry_sink_lines (name, bytes) values (?, ?)", name, bytes)
                    }),
                  ),
            ),
          ),
        readAll: (name) =>
          named(name, () =>
            Effect.zipRight(
              latch.check("read", name),
              attempt("read", () =>
                concatBytes(
                  storage.sql
                    .exec<{ bytes: ArrayBuffer }>(
                      "select bytes from registry_sink_lines where name = ? order by n",
                      name,
                    )
                    .toArray()
                    .map((row) => new Uint8Array(row.bytes)),
                ),
              ),
            ),
          ),
      }
    },
  )

export const layerCursorStore = (storage: DurableObjectStorage): Layer.Layer<CursorStore, StorageFailed> =>
  Layer.effect(CursorStore, makeCursorStore(storage))

export const layerAppendSink = (storage: DurableObjectStorage): Layer.Layer<AppendSink, StorageFailed> =>
  Layer.effect(AppendSink, makeAppendSink(storage))
