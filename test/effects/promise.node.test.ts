/**
 * The Promise facade in a real process: a `for await` over `subscribe()` keeps Node alive until the registry is
 * closed, then ends, and the process exits normally with the lock released. Node exits a process whose only
 * pending work is a promise (code 13, "unsettled top-level await"), which is what a plain script did.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { tempDirectory } from "../support/harness.ts"

const script = fileURLToPath(new URL("./scripts/iterateUntilSignal.mts", import.meta.url))

const iterateUntilSignal = async (where: string) => {
  const child = spawn(process.execPath, ["--import", "tsx", script, where])
  let output = ""
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const deadline = Date.now() + 60_000
  while (!output.includes("seen 1") && child.exitCode === null && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50))
  expect(output).toContain("seen 1")
  // Nothing but the iteration is pending now: the process must still be there.
  await new Promise((resolve) => setTimeout(resolve, 700))
  expect(child.exitCode).toBeNull()
  child.kill("SIGUSR2")
  expect(await exited).toBe(0)
  expect(output).toContain("iteration ended after 1")
}

describe("PromiseRegistry.subscribe() in a real process", () => {
  it("keeps the process alive while iterated, and close() ends the iteration (memory storage)", async () => {
    await iterateUntilSignal("memory")
  }, 90_000)

  it("does the same on files, and the lock is released", async () => {
    const directory = tempDirectory("promise-iterate")
    try {
      await iterateUntilSignal(directory.path)
      expect(existsSync(join(directory.path, "LOCK"))).toBe(false)
    } finally {
      directory.remove()
    }
  }, 90_000)
})
