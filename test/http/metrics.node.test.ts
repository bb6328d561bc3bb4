/**
 * What `/metrics` serves, scraped from the real server: an exposition that passes promtool's rules, the process
 * metrics Prometheus clients export, and an event stream's request timed to its opening, not its whole life.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type InProcessServer, serveMemory } from "./inProcessServer.ts"
import { promtoolProblems } from "./promtoolRules.ts"

const scrape = async (base: string) => {
  const response = await fetch(`${base}/metrics`)
  expect(response.headers.get("content-type")).toContain("text/plain; version=0.0.4")
  return response.text()
}

/** The value of the one sample `series` (name and labels, as exposed). */
const sampleValue = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe("/metrics", () => {
  let server: InProcessServer
  beforeAll(async () => {
    server = await serveMemory()
  })
  afterAll(async () => {
    await server?.close()
  })

  it("passes promtool's rules, with Effect's runtime metrics and every route's in it", async () => {
    const registered = await fetch(`${server.url}/models/m/versions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ version: "1.0.0" }),
    })
    expect(registered.status).toBe(201)
    expect((await fetch(`${server.url}/nowhere`)).status).toBe(404)
    const text = await scrape(server.url)
    expect(promtoolProblems(text)).toEqual([])
    expect(text).toContain("# TYPE effect_fiber_started_total counter")
    expect(text).toContain('http_requests_total{method="POST",route="/models/{name}/versions",status="201"} 1')
  })

  it("exports the process metrics with sane values", async () => {
    const before = Date.now() / 1000
    const text = await scrape(server.url)
    const value = (name: string) => {
      const found = sampleValue(text, name)
      expect(found, name).toBeTypeOf("number")
      return found!
    }
    const user = value("process_cpu_user_seconds_total")
    const system = value("process_cpu_system_seconds_total")
    expect(user).toBeGreaterThan(0)
    expect(system).toBeGreaterThanOrEqual(0)
    expect(value("process_cpu_seconds_total")).toBeCloseTo(user + system, 6)
    expect(value("process_resident_memory_bytes")).toBe(Math.round(value("process_resident_memory_bytes")))
    expect(value("process_resident_memory_bytes")).toBeGreaterThan(10 * 1024 * 1024)
    const start = value("process_start_time_seconds")
    expect(start).toBeLessThanOrEqual(before)
    expect(start).toBeGreaterThan(before - process.uptime() - 60)
    if (process.platform === "linux") {
      expect(value("process_heap_bytes")).toBeGreaterThan(0)
      expect(value("process_virtual_memory_bytes")).toBeGreaterThanOrEqual(value("process_resident_memory_bytes"))
      const open = value("process_open_fds")
      expect(open).toBeGreaterThanOrEqual(3)
      expect(open).toBeLessThanOrEqual(value("process_max_fds"))
    }
  })

  it("times an event stream until it opens, recorded while it is still open", async () => {
    const durations = (text: string) => ({
      count: sampleValue(text, 'http_request_duration_seconds_count{route="/events"}') ?? 0,
      sum: sampleValue(text, 'http_request_duration_seconds_sum{route="/events"}') ?? 0,
    })
    const before = durations(await scrape(server.url))
    const controller = new AbortController()
    const stream = await fetch(`${server.url}/events`, { signal: controller.signal })
    expect(stream.status).toBe(200)
    const heldMillis = 1500
    await new Promise((resolve) => setTimeout(resolve, heldMillis))
    const open = durations(await scrape(server.url))
    controller.abort()
    await stream.body?.cancel().catch(() => undefined)
    expect(open.count).toBe(before.count + 1)
    expect(open.sum - before.sum).toBeLessThan(heldMillis / 1000)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(durations(await scrape(server.url))).toEqual(open)
  })
})
