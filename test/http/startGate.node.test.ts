/**
 * The start gate: a request that reaches the bound port before the API's handler is attached gets 503 with
 * `Retry-After` (Node answers nothing for a request no listener sees), and once a handler is attached the gate
 * steps aside, so each request is answered exactly once.
 */
import { createServer, request } from "node:http"
import { describe, expect, it } from "vitest"
import { Drain } from "../../src/http/drain.ts"
import { answerUntilReady } from "../../src/http/startGate.ts"

const get = (port: number) =>
  new Promise<{ status: number; retryAfter: string | undefined; body: string }>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/healthz", agent: false }, (response) => {
      let body = ""
      response.on("data", (chunk: Buffer) => {
        body += chunk.toString()
      })
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, retryAfter: response.headers["retry-after"] as string, body }),
      )
    })
    req.setTimeout(5_000, () => req.destroy(new Error("no answer within 5 s")))
    req.on("error", reject)
    req.end()
  })

describe("answerUntilReady", () => {
  it("answers 503 with Retry-After before the handler is attached, then steps aside", async () => {
    const server = answerUntilReady(new Drain().track(createServer()))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    try {
      const early = await get(port)
      expect(early.status).toBe(503)
      expect(early.retryAfter).toBeDefined()
      expect(JSON.parse(early.body)).toMatchObject({ error: { tag: "RegistryClosed" } })

      let handled = 0
      server.on("request", (_request, response) => {
        handled++
        response.end("ok")
      })
      const ready = await get(port)
      expect(ready).toMatchObject({ status: 200, body: "ok" })
      const again = await get(port)
      expect(again).toMatchObject({ status: 200, body: "ok" })
      expect(handled).toBe(2)
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
