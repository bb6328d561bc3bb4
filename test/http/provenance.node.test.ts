/** A version's `source` and `runId` over HTTP: accepted, answered, compared for idempotency, refused when invalid. */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type InProcessServer, serveMemory } from "./inProcessServer.ts"
import { post } from "./serverProcess.ts"

let server: InProcessServer

beforeAll(async () => {
  server = await serveMemory()
})
afterAll(() => server.close())

describe("source and runId over HTTP", () => {
  it("are registered, answered and part of the idempotency comparison", async () => {
    const body = { version: "1.0.0", source: "s3://bucket/resnet/1.0.0", runId: "run-42" }
    const created = await post(`${server.url}/models/resnet/versions`, body)
    expect(created.status).toBe(201)
    expect(await created.json()).toMatchObject(body)
    expect((await post(`${server.url}/models/resnet/versions`, body)).status).toBe(200)
    expect((await post(`${server.url}/models/resnet/versions`, { ...body, runId: "run-43" })).status).toBe(409)
    const got = await (await fetch(`${server.url}/models/resnet/versions/1.0.0`)).json()
    expect(got).toMatchObject(body)
    const plain = await post(`${server.url}/models/plain/versions`, { version: "1.0.0" })
    const answered = (await plain.json()) as Record<string, unknown>
    expect("source" in answered || "runId" in answered).toBe(false)
  })

  it("refuses a relative source with 400 naming the field", async () => {
    const refused = await post(`${server.url}/models/resnet/versions`, { version: "2.0.0", source: "models/x" })
    expect(refused.status).toBe(400)
    expect(await refused.json()).toMatchObject({ error: { tag: "InvalidInput", field: "source" } })
  })
})
