/**
 * `/events` over real sockets, the server in this process (its buffer bound is a setting the CLI does not take):
 * a client that stops reading is disconnected once its buffer is full, while a reading client gets every event;
 * after the cut it resumes with `Last-Event-ID` and the two connections together hold every event exactly once,
 * in order; the feed encodes each event once however many clients listen; no client's queue passes the bound; a
 * start compaction removed is answered 410 with the JSON error body before any stream starts, naming no server
 * path; and every stream opens with its `retry:` field.
 */
import { get, type IncomingMessage } from "node:http"
import { HttpServer } from "@effect/platform"
import { Context, Deferred, Effect, Exit, Layer, Option, Scope } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import * as Registry from "../../src/effects/ModelRegistry.ts"
import * as Server from "../../src/http/Server.ts"
import { reconnectDelayMs } from "../../src/http/sse.ts"

const bufferFramesMax = 64

const serve = async (registryOptions: Registry.RegistryOptions = {}) => {
  const scope = Effect.runSync(Scope.make())
  const settings = Layer.effect(
    Server.ServerSettings,
    Effect.map(Deferred.make<void>(), (stopping) => ({
      bodyBytesMax: 1024 * 1024,
      keepAliveMs: 3_600_000,
      stopping,
      eventBufferFramesMax: bufferFramesMax,
    })),
  )
  const options = {
    host: "127.0.0.1",
    port: 0,
    token: Option.none(),
    bodyBytesMax: 1024 * 1024,
    keepAliveMs: 3_600_000,
  }
  const context = await Effect.runPromise(
    Layer.buildWithScope(
      Server.layer(options).pipe(Layer.provide(settings), Layer.provideMerge(Registry.layerMemory(registryOptions))),
      scope,
    ),
  )
  const registry = Context.get(context, Registry.ModelRegistry)
  let next = 0
  // ~60 KB per event, so a client that stops reading fills the kernel's socket buffers after a few hundred.
  const blob = "x".repeat(60_000)
  return {
    url: Server.addressOf(Context.get(context, HttpServer.HttpServer).address),
    commit: (count: number) =>
      Effect.runPromise(
        Effect.forEach(
          Array.from({ length: count }, () => next++),
          (i) => registry.register({ name: "big", version: `1.0.${i}`, metrics: { blob } }),
          { concurrency: "unbounded", discard: true },
        ),
      ),
    lastSeq: () => Effect.runPromise(Effect.map(registry.stats, (stats) => stats.lastSeq)),
    compact: () => Effect.runPromise(registry.compact),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
  }
}

/** Every client opened, closed before the server: a server waits for its open connections when closing. */
const opened: Array<IncomingMessage> = []

/** An SSE client over node:http: complete frames only, so a cut mid-frame shows as the last whole event. */
const listen = (url: string, headers: Record<string, string> = {}) =>
  new Promise<{ response: IncomingMessage; ids: Array<number>; ended: Promise<void> }>((resolve, reject) => {
    get(`${url}/events`, { headers }, (response) => {
      opened.push(response)
      const ids: Array<number> = []
      let text = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => {
        text += chunk
        const end = text.lastIndexOf("\n\n")
        if (end === -1) return
        // The open frame's id (the seq before the first event) comes without an event.
        for (const match of text.slice(0, end).matchAll(/^id: (\d+)\nevent: /gm)) ids.push(Number(match[1]))
        text = text.slice(end + 2)
      })
      const ended = new Promise<void>((done) => {
        response.once("end", () => done())
        response.once("close", () => done())
        response.once("error", () => done())
      })
      resolve({ response, ids, ended })
    }).once("error", reject)
  })

const metric = async (url: string, name: string): Promise<number> => {
  const text = await (await fetch(`${url}/metrics`)).text()
  // A metric shows once first updated.
  const line = text.split("\n").find((l) => l.startsWith(`${name} `))
  return line === undefined ? 0 : Number(line.split(" ")[1])
}

const until = async (done: () => boolean | Promise<boolean>, what: string, ms = 20_000) => {
  const deadline = Date.now() + ms
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe("/events with clients that stop reading", () => {
  let server: Awaited<ReturnType<typeof serve>> | undefined
  afterEach(async () => {
    for (const response of opened.splice(0)) response.destroy()
    await server?.close()
    server = undefined
  })

  it("cuts a client that stops reading once its buffer is full, keeps the others, and the cut one resumes without a gap", async () => {
    server = await serve()
    const url = server.url
    const cutsBefore = await metric(url, "sse_clients_cut_total")
    const stalled = await listen(url)
    stalled.response.pause()
    const reading = await listen(url)
    let backlogMax = 0
    for (let round = 0; (await metric(url, "sse_clients_cut_total")) === cutsBefore; round++) {
      if (round === 100) throw new Error("the client that stopped reading was never cut")
      await server.commit(16)
      const last = await server.lastSeq()
      await until(() => reading.ids.at(-1) === last, `the reading client to reach seq ${last}`)
      backlogMax = Math.max(backlogMax, await metric(url, "sse_backlog_frames_max"))
    }
    await server.commit(16)
    const last = await server.lastSeq()
    await until(() => reading.ids.at(-1) === last, `the reading client to reach seq ${last}`)
    expect(reading.ids).toEqual(range(1, last))
    expect(backlogMax).toBeLessThanOrEqual(bufferFramesMax)

    // What the cut client's socket still held arrives, up to where the server stopped; then the stream is over.
    stalled.response.resume()
    await stalled.ended
    const lastSeen = stalled.ids.at(-1) ?? 0
    expect(stalled.ids).toEqual(range(1, lastSeen))
    expect(lastSeen).toBeLessThan(last)

    const resumed = await listen(url, { "last-event-id": String(lastSeen) })
    await until(() => resumed.ids.at(-1) === last, "the resumed client to catch up")
    expect([...stalled.ids, ...resumed.ids]).toEqual(range(1, last))
    console.log(`SSE: a client stalled at seq ${lastSeen} was cut and resumed to ${last}; backlog max ${backlogMax}`)
  })

  it("encodes each event once, however many clients listen", async () => {
    server = await serve()
    const url = server.url
    const clients = await Promise.all([listen(url), listen(url), listen(url), listen(url)])
    const before = await metric(url, "sse_frames_encoded_total")
    await server.commit(10)
    await server.commit(10)
    const last = await server.lastSeq()
    await until(() => clients.every((c) => c.ids.at(-1) === last), "every client to get every event")
    for (const client of clients) expect(client.ids).toEqual(range(1, last))
    expect((await metric(url, "sse_frames_encoded_total")) - before).toBe(last)
  })
})

describe("/events from a position compaction removed", () => {
  let server: Awaited<ReturnType<typeof serve>> | undefined
  afterEach(async () => {
    for (const response of opened.splice(0)) response.destroy()
    await server?.close()
    server = undefined
  })

  it("answers 410 PositionCompacted with the first seq still available, as JSON, before any stream starts", async () => {
    // A one-event tail, so that what compaction deleted from the log is gone from memory too.
    server = await serve({ tailEventsMax: 1 })
    await server.commit(3)
    await server.compact()
    await server.commit(2)
    // The second compaction deletes the log up to the first snapshot (seq 3): seq 4 is the first one left.
    await server.compact()
    const expected = {
      error: {
        tag: "PositionCompacted",
        from: 1,
        firstSeq: 4,
        message: "seq 1 was compacted away; the first event still available is seq 4",
      },
    }
    for (const [query, headers] of [
      ["?from=1", {}],
      ["", { "last-event-id": "0" }],
      ["?from=5", { "last-event-id": "0" }],
    ] as const) {
      const response = await fetch(`${server.url}/events${query}`, { headers })
      expect(response.status).toBe(410)
      expect(response.headers.get("content-type")).toContain("application/json")
      const text = await response.text()
      expect(JSON.parse(text)).toEqual(expected)
      expect(text).not.toMatch(/\/[^\s"]*\//)
    }
    expect((await fetch(`${server.url}/events?from=3`)).status).toBe(410)

    // From the first seq still there, the stream starts as usual: the reconnect delay first, then the events.
    const resumed = await listen(server.url, { "last-event-id": "3" })
    await until(() => resumed.ids.length === 2, "the events left")
    expect(resumed.ids).toEqual([4, 5])
  })

  it("starts every stream with a retry field and the id before its first event", async () => {
    server = await serve()
    await server.commit(2)
    const response = await fetch(`${server.url}/events`)
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
    let text = ""
    while (!text.includes("\n\n")) text += (await reader.read()).value ?? ""
    await reader.cancel()
    expect(text.slice(0, text.indexOf("\n\n"))).toBe(`retry: ${reconnectDelayMs}\nid: 2\n: connected`)
  })
})
