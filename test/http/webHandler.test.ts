/**
 * The fetch handler (src/http/webHandler.ts) in this process, on whatever runtime runs the suite (Node and Deno):
 * the options it refuses, a registry that fails to open and then opens, the chunked body limit read from a fetch
 * `Request`'s stream, and what disposing does to open event streams and later requests.
 */
import { Effect, Either, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { StorageFailed } from "../../src/domain/errors.ts"
import { layerMemory, type ModelRegistry } from "../../src/effects/ModelRegistry.ts"
import { makeWebHandler, validateWebOptions } from "../../src/http/webHandler.ts"

const auth = { authorization: "Bearer web-secret" }
const request = (path: string, init: RequestInit = {}) =>
  new Request(`http://registry.example${path}`, {
    ...init,
    headers: { ...auth, ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
  })
const bodyOf = async (response: Response) => ({ status: response.status, body: await response.json() })

describe("the web handler", () => {
  it("refuses to serve without a token unless only this machine reaches it, and refuses bad limits", () => {
    const refusal = (options: Parameters<typeof validateWebOptions>[0]) =>
      Either.match(validateWebOptions(options), { onLeft: (e) => e.message, onRight: () => "accepted" })
    expect(refusal({})).toMatch(/needs a token/)
    expect(refusal({ loopbackOnly: true })).toBe("accepted")
    expect(refusal({ token: "" })).toMatch(/must not be empty/)
    expect(refusal({ token: "t", bodyBytesMax: 0 })).toMatch(/bodyBytesMax/)
    expect(refusal({ token: "t", keepAliveMs: 0 })).toMatch(/keepAliveMs/)
    expect(refusal({ token: "t", allowOrigins: ["not an origin"] })).toMatch(/origin/i)
    expect(() => makeWebHandler(layerMemory(), {})).toThrow(/needs a token/)
  })

  it("answers the error of a registry that fails to open, and opens it on a later request", async () => {
    let attempts = 0
    const flaky: Layer.Layer<ModelRegistry> = Layer.unwrapEffect(
      Effect.suspend(() =>
        attempts++ === 0
          ? Effect.fail(
              new StorageFailed({ reason: "Unavailable", operation: "open", path: "", message: "storage is away" }),
            )
          : Effect.succeed(layerMemory()),
      ),
    ).pipe(Layer.orDie)
    const { handler, dispose } = makeWebHandler(flaky, { token: "web-secret" })
    try {
      expect(await bodyOf(await handler(request("/models")))).toEqual({
        status: 503,
        body: { error: expect.objectContaining({ tag: "StorageFailed", reason: "Unavailable" }) },
      })
      expect(await bodyOf(await handler(request("/models")))).toEqual({ status: 200, body: [] })
      expect(attempts).toBe(2)
    } finally {
      await dispose()
    }
  })

  it("counts a chunked body against the limit as it reads it", async () => {
    const { handler, dispose } = makeWebHandler(layerMemory(), { token: "web-secret", bodyBytesMax: 1024 })
    const chunked = (bytes: number) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(`{"version":"1.0.0"${" ".repeat(bytes)}}`))
          controller.close()
        },
      })
    const post = (body: ReadableStream<Uint8Array>) =>
      handler(request("/models/m/versions", { method: "POST", body, duplex: "half" } as RequestInit))
    try {
      expect(await bodyOf(await post(chunked(2000)))).toEqual({
        status: 413,
        body: { error: expect.objectContaining({ tag: "PayloadTooLarge", limitBytes: 1024 }) },
      })
      expect(await bodyOf(await post(chunked(100)))).toMatchObject({ status: 201 })
    } finally {
      await dispose()
    }
  })

  it("ends open event streams on dispose and answers later requests 503 RegistryClosed", async () => {
    const { handler, dispose } = makeWebHandler(layerMemory(), { token: "web-secret" })
    expect((await handler(request("/models/m/versions", { method: "POST", body: '{"version":"1.0.0"}' }))).status).toBe(
      201,
    )
    const events = await handler(request("/events?from=1"))
    expect(events.headers.get("content-type")).toContain("text/event-stream")
    const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader()
    let text = ""
    while (!text.includes("event: Registered")) text += (await reader.read()).value ?? ""
    await dispose()
    let ended = false
    while (!ended) ended = (await reader.read()).done
    expect(await bodyOf(await handler(request("/models")))).toEqual({
      status: 503,
      body: { error: expect.objectContaining({ tag: "RegistryClosed" }) },
    })
  })
})
