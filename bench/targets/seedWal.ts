/**
 * The seed's WAL (seed/module_72.rs, `append_to_wal`) ported literally: for every operation, create the directory,
 * open the log in append mode, write one JSON line, fsync (`sync_all`), close. Concurrent producers simply run
 * concurrently, as tokio tasks would in the seed; libuv's thread pool plays the part of tokio's workers.
 */
import { mkdir, open } from "node:fs/promises"
import { join } from "node:path"
import type { DurableTarget, TargetDefinition } from "./DurableTarget.ts"

class SeedWal implements DurableTarget {
  private dir = ""
  private path = ""
  private fsyncs = 0

  async open(dir: string): Promise<void> {
    this.dir = dir
    this.path = join(dir, "registry.wal")
  }

  async register(record: unknown): Promise<void> {
    // The seed calls `create_dir_all(parent)` on every append.
    await mkdir(this.dir, { recursive: true })
    const file = await open(this.path, "a")
    try {
      // serde's externally tagged enum: `{"Registered":{...}}`. The seed streams it through an unbuffered
      // `serde_json::to_writer`, i.e. many small write(2)s; one write per line is kinder to it than the original.
      await file.write(`${JSON.stringify({ Registered: record })}\n`)
      await file.sync()
      this.fsyncs++
    } finally {
      await file.close()
    }
  }

  async close(): Promise<void> {}

  stats() {
    return { fsyncs: this.fsyncs, batches: this.fsyncs }
  }
}

export const seedWal: TargetDefinition = {
  name: "seed-style WAL",
  role: "baseline",
  note:
    "The seed's append_to_wal ported literally: per record mkdir -p, open(O_APPEND), one write, fsync, close. " +
    "Concurrent producers overlap on libuv's 4 threads (the seed's blocking calls would overlap on tokio's 2 " +
    "workers here) and ext4 lets concurrent fsyncs share a journal commit, so this baseline gains from concurrency.",
  make: () => new SeedWal(),
}
