/**
 * The disk's floor: append ~300 bytes to one file and fdatasync it, synchronously, one producer. The registry's
 * single-producer latency target (p50 ≤ 1.3× this) is relative to it, so it runs in the same A B A B rotation.
 */
import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs"
import { join } from "node:path"
import type { DurableTarget, TargetDefinition } from "./DurableTarget.ts"

// A fixed line rather than the record's JSON: this row measures the disk alone, not serialization.
const line = Buffer.from(`${JSON.stringify({ pad: "x".repeat(288) })}\n`)

const makeTarget = (): DurableTarget => {
  let fd = -1
  let fsyncs = 0
  return {
    open: async (dir) => {
      fd = openSync(join(dir, "raw.log"), "a")
    },
    register: async () => {
      writeSync(fd, line)
      fdatasyncSync(fd)
      fsyncs++
    },
    close: async () => {
      if (fd >= 0) closeSync(fd)
    },
    stats: () => ({ fsyncs, batches: fsyncs }),
  }
}

export const rawFdatasync: TargetDefinition = {
  name: "raw append + fdatasync",
  role: "floor",
  note: `Not a registry: writeSync of a fixed ${line.length}-byte line + fdatasyncSync on one file, single producer. The latency floor.`,
  levels: [1],
  make: makeTarget,
}
