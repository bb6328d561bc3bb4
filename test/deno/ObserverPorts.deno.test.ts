import * as Path from "@effect/platform/Path"
import { Effect, Layer } from "effect"
import * as DenoFileSystem from "../../src/deno/DenoFileSystem.ts"
import { makeAppendSink, makeCursorStore } from "../../src/deno/KvObserverStores.ts"
import * as AppendSink from "../../src/storage/AppendSink.ts"
import * as CursorStore from "../../src/storage/CursorStore.ts"
import { observerPortsContract } from "../storage/ObserverPorts.contract.ts"
import { denoTempDirectory, openKv } from "./backends.ts"

observerPortsContract({
  name: "deno file",
  fresh: Effect.map(
    denoTempDirectory,
    (directory) => () =>
      Effect.all({
        cursors: CursorStore.makeFileSystem({ directory }),
        sink: AppendSink.makeFileSystem({ directory }),
      }).pipe(Effect.provide(Layer.merge(DenoFileSystem.layer, Path.layer))),
  ),
})

observerPortsContract({
  name: "deno kv",
  fresh: Effect.map(denoTempDirectory, (directory) => {
    const path = `${directory}/observers.kv`
    const prefix = ["model-registry"]
    // Each open is a new connection to the database file, as a restarted process would make.
    return () =>
      Effect.flatMap(openKv(path), (kv) =>
        Effect.map(makeAppendSink(kv, `deno-kv:${path}`, prefix), (sink) => ({
          cursors: makeCursorStore(kv, `deno-kv:${path}`, prefix),
          sink,
        })),
      )
  }),
})
