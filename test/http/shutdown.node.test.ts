/**
 * SIGTERM against the real process: every request that reached the server is answered (its result, or 503 with
 * Retry-After if it arrived after shutdown began), and clients that never read, never finish their headers or
 * never finish their body do not keep the process alive past the drain time. After each, the lock is free and
 * every acknowledged write is there.
 */
import { Agent, request } from "node:http"
import { connect, type Socket } from "node:net"
import { describe, expect, it } from "vitest"
import { post, runCli, type ServerProcess, startServer, tempDir } from "./serverProcess.ts"

const drainMs = 1_000
/** Generous: the bound is that the process exits at all, not how fast. */
const exitBoundMs = drainMs + 10_000

interface Answer {
  readonly status?: number
  readonly retryAfter?: string | undefined
  readonly connection?: string | undefined
  readonly body?: string
  readonly error?: string
}

/** One request over `agent`; a reset or a hang (past the exit bound) is an `error`, not a thrown failure. */
const send = (agent: Agent, url: string, method: string, path: string, body?: unknown) => {
  const { hostname, port } = new URL(url)
  let written!: Promise<void>
  const answer = new Promise<Answer>((resolve) => {
    const req = request(
      { host: hostname, port, method, path, agent, headers: { "content-type": "application/json" } },
      (response) => {
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => {
          text += chunk
        })
        response.on("end", () =>
          resolve({
            status: response.statusCode!,
            retryAfter: response.headers["retry-after"],
            connection: response.headers.connection,
            body: text,
          }),
        )
        response.on("error", (error) => resolve({ error: String(error) }))
      },
    )
    req.setTimeout(exitBoundMs, () => req.destroy(new Error("no answer")))
    req.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }))
    written = new Promise((done) => req.on("finish", done))
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
  return { answer, written }
}

const waitForOutput = async (server: ServerProcess, text: string) => {
  while (!server.output().includes(text)) await new Promise((resolve) => setTimeout(resolve, 10))
}

/** Sends the signal; resolves with the exit and how long after the signal it came, or at the bound without one. */
const terminate = (server: ServerProcess) => {
  const signalled = Date.now()
  server.child.kill("SIGTERM")
  return Promise.race([
    server.exited.then((exit) => ({ ...exit, afterMs: Date.now() - signalled })),
    new Promise<{ stillRunningAfterMs: number }>((resolve) =>
      setTimeout(() => resolve({ stillRunningAfterMs: exitBoundMs }), exitBoundMs),
    ),
  ])
}

const expectAcknowledged = async (directory: string, model: string, versions: ReadonlyArray<string>) => {
  // It starts only if the lock was released.
  const restarted = await startServer(directory, { args: ["--drain-ms", String(drainMs)] })
  try {
    for (const version of versions) {
      const response = await fetch(`${restarted.url}/models/${model}/versions/${version}`)
      expect(response.status, `acknowledged ${model}@${version} is missing`).toBe(200)
    }
  } finally {
    await restarted.stop()
  }
}

describe("serve: SIGTERM", () => {
  it("refuses a drain time out of range before opening the data directory", async () => {
    const result = await runCli(["serve", "--data", tempDir("shutdown-flag"), "--port", "0", "--drain-ms", "-1"])
    expect(result.code).toBe(1)
    expect(result.stdout + result.stderr).toContain("drainMs: must be an integer from 0 to 600000")
  })

  it("answers every register in flight or arriving on an open socket, 201 or 503 with Retry-After, and exits 0", async () => {
    const directory = tempDir("shutdown-inflight")
    const server = await startServer(directory, { args: ["--drain-ms", String(drainMs)] })
    const agent = new Agent({ keepAlive: true, maxSockets: 400 })
    try {
      // Each socket's first answer proves the server accepted it: a request on it has reached the server.
      await Promise.all(Array.from({ length: 200 }, () => send(agent, server.url, "GET", "/healthz").answer))
      const inFlight = Array.from({ length: 100 }, (_, i) =>
        send(agent, server.url, "POST", "/models/m/versions", { version: `1.0.${i}` }),
      )
      await Promise.all(inFlight.map((sent) => sent.written))
      const exited = terminate(server)
      await waitForOutput(server, '"event":"stopping"')
      const arriving = Array.from({ length: 100 }, (_, i) =>
        send(agent, server.url, "POST", "/models/m/versions", { version: `2.0.${i}` }),
      )
      const answers = await Promise.all([...inFlight, ...arriving].map((sent) => sent.answer))
      agent.destroy()
      const exit = await exited

      expect(answers.filter((answer) => answer.error !== undefined)).toEqual([])
      for (const answer of answers.filter((answer) => answer.status !== 201)) {
        expect(answer.status).toBe(503)
        expect(answer.retryAfter).toMatch(/^[1-9][0-9]*$/)
        expect(answer.connection).toBe("close")
        expect((JSON.parse(answer.body!) as { error: { tag: string } }).error.tag).toBe("RegistryClosed")
      }
      expect(exit).toMatchObject({ code: 0, signal: null })
      const created = answers.flatMap((answer, i) =>
        answer.status === 201 ? [i < 100 ? `1.0.${i}` : `2.0.${i - 100}`] : [],
      )
      console.log(`in flight at SIGTERM: ${created.length} × 201, ${200 - created.length} × 503`)
      await expectAcknowledged(directory, "m", created)
    } finally {
      agent.destroy()
      await server.stop("SIGKILL")
    }
  })

  it("exits 0 within the drain time despite a never-reading event stream, a slowloris and a half-sent body", async () => {
    const directory = tempDir("shutdown-stuck")
    const server = await startServer(directory, { args: ["--drain-ms", String(drainMs)] })
    const sockets: Array<Socket> = []
    const { hostname, port } = new URL(server.url)
    const open = async (text: string) => {
      const socket = connect({ host: hostname, port: Number(port) })
      // The server destroys these sockets; that is the point, not an error of the test.
      socket.on("error", () => {})
      sockets.push(socket)
      await new Promise((resolve) => socket.once("connect", resolve))
      socket.write(text)
      return socket
    }
    try {
      // ~8 MB of events, more than the socket buffers of a client that reads none of them hold.
      const tags = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`t${i}`, "x".repeat(1000)]))
      const versions = Array.from({ length: 128 }, (_, i) => `1.0.${i}`)
      for (let i = 0; i < versions.length; i += 16)
        for (const response of await Promise.all(
          versions.slice(i, i + 16).map((version) => post(`${server.url}/models/m/versions`, { version, tags })),
        ))
          expect(response.status).toBe(201)

      const host = `Host: ${hostname}:${port}\r\n`
      const neverReading = await open(`GET /events?from=1 HTTP/1.1\r\n${host}\r\n`)
      neverReading.pause()
      const slowloris = await open(`POST /models/m/versions HTTP/1.1\r\n${host}X-Slow: `)
      const dripping = setInterval(() => slowloris.write("x"), 1_000)
      await open(
        `POST /models/m/versions HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"version":`,
      )
      // Let the server take all three and fill the event stream's buffers before the signal.
      await new Promise((resolve) => setTimeout(resolve, 500))

      const exit = await terminate(server)
      clearInterval(dripping)
      expect(exit).toMatchObject({ code: 0, signal: null })
      await expectAcknowledged(directory, "m", versions)
    } finally {
      for (const socket of sockets) socket.destroy()
      await server.stop("SIGKILL")
    }
  })
})
