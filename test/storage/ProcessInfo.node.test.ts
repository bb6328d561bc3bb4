/**
 * Node's ProcessInfo on Linux, against real processes: its own identity is what /proc says, a live child with its
 * start time is alive, the same pid with another start time (a reused pid) is dead, a killed child is dead, and a
 * holder in another PID namespace is unknown.
 */
import { spawn } from "node:child_process"
import { readFileSync, readlinkSync } from "node:fs"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { layerProcessInfo, lockLease } from "../../src/node.ts"
import { ProcessInfo } from "../../src/storage/ProcessInfo.ts"

const info = Effect.runSync(Effect.provide(ProcessInfo, layerProcessInfo))

const startTicksOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19])
}

describe("Node's ProcessInfo (Linux)", () => {
  it("names this process by boot id, PID namespace, pid and start time, with the default lease", () => {
    expect(info.self).toMatchObject({
      bootId: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(),
      pidNamespace: readlinkSync("/proc/self/ns/pid"),
      pid: process.pid,
      startTicks: startTicksOf(process.pid),
    })
    expect(info.lease).toEqual(lockLease)
  })

  it("judges a live child alive, its pid with another start time dead, and the child dead once killed", async () => {
    const child = spawn("sleep", ["30"])
    const exited = new Promise((resolve) => child.on("exit", resolve))
    try {
      const pid = child.pid!
      const holder = { ...info.self, pid, startTicks: startTicksOf(pid), token: "child" }
      expect(await Effect.runPromise(info.judge(holder))).toBe("alive")
      expect(await Effect.runPromise(info.judge({ ...holder, startTicks: holder.startTicks + 1 }))).toBe("dead")
      expect(await Effect.runPromise(info.judge({ ...holder, pidNamespace: "pid:[1]" }))).toBe("unknown")
      child.kill("SIGKILL")
      await exited
      expect(await Effect.runPromise(info.judge(holder))).toBe("dead")
      expect(await Effect.runPromise(info.isAlive(pid))).toBe(false)
    } finally {
      child.kill("SIGKILL")
    }
  })
})
