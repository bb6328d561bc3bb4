/**
 * Start-up: every request that reaches the server gets an answer, including those that connect between the port
 * being bound and the API's handler being attached (they hung until the client's own timeout). Clients connect in
 * tight loops from the moment the process is spawned.
 */
import { spawn } from "node:child_process"
import { request } from "node:http"
import { createServer } from "node:net"
import { describe, expect, it } from "vitest"
import { binPath, tempDir } from "./serverProcess.ts"

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

type Outcome = { readonly status: number; readonly retryAfter: string | undefined } | "refused" | "no answer"

/** One GET /healthz on a fresh connection; a connection that gets no answer within `timeoutMs` is "no answer". */
const probe = (port: number, timeoutMs: number) =>
  new Promise<Outcome>((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/healthz", agent: false }, (response) => {
      response.resume()
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          retryAfter: response.headers["retry-after"] as string | undefined,
        }),
      )
    })
    req.setTimeout(timeoutMs, () => {
      req.destroy()
      resolve("no answer")
    })
    req.on("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED" ? "refused" : "no answer"))
    req.end()
  })

describe("server start-up", () => {
  it("answers every request that connects while it starts", async () => {
    const rounds = 2
    const outcomes: Array<Outcome> = []
    for (let round = 0; round < rounds; round++) {
      const port = await freePort()
      const child = spawn(process.execPath, [binPath, "serve", "--data", tempDir("startup"), "--port", String(port)])
      const exited = new Promise((resolve) => child.on("exit", resolve))
      let ready = false
      const loop = async () => {
        for (let extra = 0; extra < 20; ) {
          const outcome = await probe(port, 5_000)
          outcomes.push(outcome)
          if (typeof outcome === "object" && outcome.status === 200) ready = true
          if (ready) extra++
          if (outcome === "refused") await new Promise((resolve) => setTimeout(resolve, 1))
          if (child.exitCode !== null) return
        }
      }
      await Promise.all(Array.from({ length: 8 }, loop))
      child.kill("SIGTERM")
      await exited
      expect(ready).toBe(true)
    }
    const counts: Record<string, number> = {}
    for (const o of outcomes) {
      const key = typeof o === "object" ? String(o.status) : o
      counts[key] = (counts[key] ?? 0) + 1
    }
    console.log(`start-up outcomes over ${rounds} starts: ${JSON.stringify(counts)}`)
    const answered = outcomes.filter((o): o is Exclude<Outcome, string> => typeof o === "object")
    expect(outcomes.filter((o) => o === "no answer")).toEqual([])
    for (const { status, retryAfter } of answered) {
      expect([200, 503]).toContain(status)
      if (status === 503) expect(retryAfter).toBeDefined()
    }
  }, 180_000)
})
