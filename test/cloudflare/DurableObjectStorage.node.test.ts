/**
 * The storage contract (test/storage/Storage.contract.ts) against the Durable Object backend, run inside workerd
 * through Miniflare: one Miniflare for the file, one object per fresh store. "A second open" of a store is a
 * second open inside the object's one instance, which is refused with `DirectoryLocked` as a second process is.
 */

import type { Miniflare } from "miniflare"
import { afterAll } from "vitest"
import { storageContract } from "../storage/Storage.contract.ts"
import { durableObjectBackend, storageBinding, storageClass, storageEntry } from "./support/durableObjectBackend.ts"
import { startWorker } from "./support/miniflare.ts"

let worker: Promise<Miniflare> | undefined
const started = () => {
  worker ??= startWorker({ entry: storageEntry, durableObjects: { [storageBinding]: storageClass } })
  return worker
}
afterAll(async () => {
  if (worker !== undefined) await (await worker).dispose()
})

storageContract(durableObjectBackend(started))
