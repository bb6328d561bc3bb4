/**
 * Real-process crash test: hammer the server with concurrent registrations and promotions over HTTP,
 * `kill -9` it at a random moment, restart it on the same directory, and check the acknowledged history:
 * every 2xx-acknowledged registration is present (same id), nothing never sent is present, and no model has
 * more than one production version. Each run's seed is printed; `CRASH_SEED=<n>` replays its schedule.
 */
import { describe, expect, it } from "vitest"
import { json, post, prng, type ServerProcess, startServer, tempDir } from "./serverProcess.ts"

const killsPerLane = 10
const lanes = 2
const workers = 24
const modelCount = 6

interface Sent {
  readonly id: string
  acked: boolean
}

const uuid = (random: () => number) => {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16))
  hex[12] = "4"
  hex[16] = "89ab"[Math.floor(random() * 4)]!
  const s = hex.join("")
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`
}

/** Everything the server holds, checked against what the clients sent and what was acknowledged. */
const check = async (url: string, sent: Map<string, Sent>) => {
  const models = (await json(await fetch(`${url}/models`))) as Array<{ name: string }>
  let present = 0
  for (const { name } of models) {
    const versions = (await json(await fetch(`${url}/models/${name}/versions`))) as Array<{
      id: string
      version: string
      state: string
    }>
    expect(versions.filter((v) => v.state === "production").length).toBeLessThanOrEqual(1)
    for (const v of versions) {
      const origin = sent.get(`${name}@${v.version}`)
      expect(origin, `never-sent version ${name}@${v.version} is present`).toBeDefined()
      expect(v.id).toBe(origin!.id)
      present++
    }
  }
  let acked = 0
  for (const [key, entry] of sent) {
    if (!entry.acked) continue
    const [name, version] = key.split("@") as [string, string]
    const response = await fetch(`${url}/models/${name}/versions/${version}`)
    expect(response.status, `acknowledged ${key} is missing`).toBe(200)
    expect(((await json(response)) as { id: string }).id).toBe(entry.id)
    acked++
  }
  return { acked, present }
}

/** One lane: a data directory that is hammered and killed `killsPerLane` times. */
const lane = async (laneSeed: number) => {
  const directory = tempDir(`crash-${laneSeed}`)
  const sent = new Map<string, Sent>()
  let server: ServerProcess = await startServer(directory)
  let kills = 0
  let ackedChecked = 0
  let counter = 0
  for (let round = 0; round < killsPerLane; round++) {
    const seed = laneSeed * 1000 + round
    const random = prng(seed)
    const killAfterMs = 30 + Math.floor(random() * 400)
    let stop = false
    const hammer = async (worker: number) => {
      const r = prng(seed * 100 + worker)
      while (!stop) {
        const model = `m${Math.floor(r() * modelCount)}`
        try {
          if (r() < 0.65 || sent.size === 0) {
            const version = `${round}.${worker}.${counter++}`
            const entry: Sent = { id: uuid(r), acked: false }
            sent.set(`${model}@${version}`, entry)
            const response = await post(`${server.url}/models/${model}/versions`, { version, id: entry.id })
            if (response.status === 201 || response.status === 200) entry.acked = true
            else await response.text()
          } else {
            const keys = [...sent.keys()]
            const [name, version] = keys[Math.floor(r() * keys.length)]!.split("@") as [string, string]
            await (await post(`${server.url}/models/${name}/versions/${version}/promote`)).text()
          }
        } catch {
          return // the server was killed under this request: its outcome is unknown, and that is allowed
        }
      }
    }
    const running = Array.from({ length: workers }, (_, w) => hammer(w))
    await new Promise((resolve) => setTimeout(resolve, killAfterMs))
    const exit = await server.stop("SIGKILL")
    stop = true
    await Promise.all(running)
    expect(exit.signal).toBe("SIGKILL")
    kills++
    server = await startServer(directory)
    const { acked, present } = await check(server.url, sent)
    ackedChecked += acked
    console.log(
      `crash seed=${seed}: killed after ${killAfterMs} ms; ${acked} acknowledged registrations present, ${present} versions, ${sent.size} sent`,
    )
  }
  await server.stop("SIGKILL")
  return { kills, ackedChecked }
}

describe("kill -9 under load", () => {
  it(`loses no acknowledged registration across ${killsPerLane * lanes} kills`, async () => {
    const base = Number(process.env.CRASH_SEED ?? Date.now() % 100_000)
    console.log(`crash test base seed ${base} (replay: CRASH_SEED=${base})`)
    const results = await Promise.all(Array.from({ length: lanes }, (_, i) => lane(base + i)))
    const kills = results.reduce((n, r) => n + r.kills, 0)
    const acked = results.reduce((n, r) => n + r.ackedChecked, 0)
    console.log(`crash test: ${kills} kills, ${acked} acknowledged-write checks passed`)
    expect(kills).toBeGreaterThanOrEqual(20)
  }, 240_000)
})
