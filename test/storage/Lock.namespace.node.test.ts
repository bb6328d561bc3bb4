/**
 * Two real servers on one data directory in two PID namespaces (`unshare --pid --fork --mount-proc`), as two
 * containers sharing a volume see each other: the first server's pid means nothing to the second. The second must
 * be refused while the first lives and writes, and after the first is killed with SIGKILL it must take over only
 * after a full lease, with every write the first acknowledged readable. Before the lock had a lease, the second
 * found the first's pid dead in its own namespace, took the lock at once, and both acknowledged writes.
 *
 * It needs root (a new PID namespace); CI runs as root. Without root it is not run, and its name says so; as root,
 * an `unshare` that does not work fails the test.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { rmSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { lockLease } from "../../src/node.ts"
import { binPath, post, tempDir } from "../http/serverProcess.ts"

const isRoot = process.getuid?.() === 0
const unshare = ["--pid", "--fork", "--mount-proc", "--kill-child"]

interface Started {
  readonly child: ChildProcess
  /** The URL once it listens, or its exit code and output if it exits first. */
  readonly outcome: Promise<{ readonly url: string } | { readonly code: number | null; readonly output: string }>
  readonly exited: Promise<unknown>
}

/** `serve` on a free port, in our namespace or in a new PID namespace. */
const serve = (directory: string, newNamespace: boolean): Started => {
  const args = [binPath, "serve", "--data", directory, "--port", "0", "--json"]
  const child = newNamespace ? spawn("unshare", [...unshare, process.execPath, ...args]) : spawn(process.execPath, args)
  let output = ""
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const outcome = new Promise<{ url: string } | { code: number | null; output: string }>((resolve) => {
    const onData = (d: Buffer) => {
      output += d.toString()
      const match = /\{"event":"listening","url":"([^"]+)"/.exec(output)
      if (match) resolve({ url: match[1]! })
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", (d: Buffer) => {
      output += d.toString()
    })
    void exited.then((code) => resolve({ code, output }))
  })
  return { child, outcome, exited }
}

const kill = async (started: Started) => {
  if (started.child.exitCode === null && started.child.signalCode === null) started.child.kill("SIGKILL")
  await started.exited
}

describe("the lock across PID namespaces (real servers)", () => {
  it.runIf(isRoot)(
    "a server in another PID namespace is refused while the holder lives, and takes over only after its lease",
    async () => {
      const probe = spawnSync("unshare", [...unshare, "true"])
      if (probe.error !== undefined || probe.status !== 0)
        throw new Error(`unshare --pid --fork --mount-proc does not work here: ${probe.error ?? probe.stderr}`)

      const directory = tempDir("lock-namespace")
      const first = serve(directory, false)
      let second: Started | undefined
      let third: Started | undefined
      try {
        const listening = await first.outcome
        if (!("url" in listening)) throw new Error(`the first server did not start:\n${listening.output}`)
        const acknowledged: Array<string> = []
        let writing = true
        const writer = (async () => {
          for (let i = 0; writing; i++) {
            const version = `1.0.${i}`
            const response = await post(`${listening.url}/models/m/versions`, { version }).catch(() => undefined)
            if (response?.status === 201) acknowledged.push(version)
            await response?.text()
          }
        })()

        second = serve(directory, true)
        const refused = await second.outcome
        expect(refused, "the second server started beside a live holder").not.toHaveProperty("url")
        expect(refused).toMatchObject({ code: 3 })
        expect((refused as { output: string }).output).toContain("DirectoryLocked")
        writing = false
        await writer
        expect(acknowledged.length).toBeGreaterThan(0)

        await kill(first)
        const started = Date.now()
        third = serve(directory, true)
        const taken = await third.outcome
        if (!("url" in taken)) throw new Error(`the third server did not take over:\n${taken.output}`)
        // It must have watched the dead holder's lock for a full lease before taking it.
        expect(Date.now() - started).toBeGreaterThanOrEqual(lockLease.leaseMillis)
        const response = await fetch(`${taken.url}/models/m/versions`)
        const versions = ((await response.json()) as ReadonlyArray<{ readonly version: string }>).map((v) => v.version)
        expect(versions).toEqual(expect.arrayContaining(acknowledged))
      } finally {
        for (const started of [first, second, third]) if (started !== undefined) await kill(started)
        rmSync(directory, { recursive: true, force: true })
      }
    },
  )

  it.runIf(!isRoot)("NOT RUN without root: a PID namespace (unshare --pid) needs root, which CI has", () => {
    expect(process.getuid?.()).not.toBe(0)
  })
})
