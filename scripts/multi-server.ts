/**
 * The multi-server fault test (issue 16): three `serve --postgres` processes share one schema while clients write
 * through all of them and a seeded schedule kills servers (`kill -9`, then restarts them), terminates their database
 * connections and restarts PostgreSQL itself. Afterwards every server's event log must be the same gap-free
 * sequence, every acknowledged write must be in it where its answer said, a write whose outcome the client never
 * learned must be there once or not at all, and no prefix of the log may hold two production versions of a model
 * (scripts/multiServerCheck.ts). Exits non-zero on any of that, or when a server exits on its own or does not come
 * back, printing the seed that replays the fault schedule.
 *
 *   npx tsx scripts/multi-server.ts [--seed=N] [--seconds=N] [--servers=N] [--clients=N] [--pg-restarts=N]
 *
 * It restarts the PostgreSQL server, so nothing else may use it meanwhile; `--pg-restarts=0` leaves it alone.
 */
import { execFile } from "node:child_process"
import { readdirSync, rmSync } from "node:fs"
import { promisify } from "node:util"
import { prng, type ServerProcess, startServer, tempDir } from "../test/http/serverProcess.ts"
import buildCliIfStale from "../test/support/buildCli.ts"
import { type Attempt, check, keys, type LogEvent, type Outcome } from "./multiServerCheck.ts"

const run = promisify(execFile)

const option = (name: string, fallback: number): number => {
  const given = process.argv.find((a) => a.startsWith(`--${name}=`))
  if (given === undefined) return fallback
  const value = Number(given.slice(name.length + 3))
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} takes a non-negative integer`)
  return value
}

const seed = option("seed", Date.now() % 2 ** 31)
const seconds = option("seconds", 40)
const serverCount = Math.max(1, option("servers", 3))
const clientCount = Math.max(1, option("clients", 6))
const pgRestartCount = option("pg-restarts", 1)

const databaseUrl = "postgres://postgres@127.0.0.1:5432/test"
const schema = `ms_${process.pid}_${Date.now().toString(36)}`
const models = ["m0", "m1", "m2", "m3", "m4"]
const aliases = ["best", "canary"]
/** A request the server has not answered by then is a write of unknown outcome, and is retried. */
const requestTimeoutMs = 5_000
/** How long after the load stops a client may still retry its last write. */
const retryGraceMs = 10_000
/** How long a killed server's restart, or the servers' agreeing on the head afterwards, may take. */
const comeBackMs = 30_000

const started = Date.now()
const elapsed = () => ((Date.now() - started) / 1000).toFixed(1)
const log = (line: string) => console.log(`[${elapsed()}s] ${line}`)
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const errorText = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const cause = (error as { cause?: unknown }).cause
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message
}

/**
 * Whatever makes the run fail besides the checker's problems: a server that exited on its own, refused to start for
 * a reason other than an unreachable database, or never came back; servers that never agreed on the head.
 */
const findings: Array<string> = []

// --- PostgreSQL ------------------------------------------------------------------------------------------------------

const psql = async (statement: string): Promise<string> =>
  (
    await run("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-v", "ON_ERROR_STOP=1", "-Atc", statement], {
      timeout: 15_000,
    })
  ).stdout

const pgVersion = readdirSync("/etc/postgresql").sort()[0]!

const pgReady = async (): Promise<boolean> =>
  run("pg_isready", ["-q", "-h", "127.0.0.1", "-p", "5432"]).then(
    () => true,
    () => false,
  )

const waitPgReady = async (ms: number): Promise<boolean> => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await pgReady()) return true
    await sleep(200)
  }
  return false
}

/**
 * The local ports of a process's connections to PostgreSQL, read from the kernel's socket table: every server sets
 * the same application_name, so `pg_stat_activity.client_port` is what tells one server's backends from another's
 * (and from any other program's).
 */
const databasePorts = async (pids: ReadonlyArray<number>): Promise<ReadonlyArray<number>> => {
  const { stdout } = await run("ss", ["-tnpH", "state", "established", "( dport = :5432 )"])
  const ports: Array<number> = []
  for (const line of stdout.split("\n")) {
    const match = /:(\d+)\s+\S+:5432\s+users:.*pid=(\d+),/.exec(line)
    if (match && pids.includes(Number(match[2]))) ports.push(Number(match[1]))
  }
  return ports
}

// --- Servers ---------------------------------------------------------------------------------------------------------

interface Slot {
  readonly index: number
  port: number
  process: ServerProcess | undefined
  /** Set while the script itself stops or kills it, so that its exit is not taken for one on its own. */
  stopping: boolean
  restarting: Promise<void> | undefined
}

const tokens = Array.from({ length: clientCount }, (_, i) => ({ name: `c${i}`, secret: `secret-${i}-${seed}` }))
const tokenArgs = tokens.flatMap((t) => ["--token", `${t.name}:admin:${t.secret}`])
const scratch = tempDir("multi-server")
const slots: Array<Slot> = Array.from({ length: serverCount }, (_, index) => ({
  index,
  port: 0,
  process: undefined,
  stopping: false,
  restarting: undefined,
}))
const urlOf = (slot: Slot) => `http://127.0.0.1:${slot.port}`
const isUp = (slot: Slot) => slot.process !== undefined && slot.restarting === undefined && !slot.stopping

const tail = (text: string, lines = 15) => text.trimEnd().split("\n").slice(-lines).join("\n    ")

const start = async (slot: Slot): Promise<void> => {
  const server = await startServer(scratch, {
    args: ["--postgres", databaseUrl, "--schema", schema, "--port", String(slot.port), ...tokenArgs],
  })
  slot.port = Number(new URL(server.url).port)
  slot.process = server
  slot.stopping = false
  void server.exited.then(({ code, signal }) => {
    if (slot.process !== server || slot.stopping) return
    findings.push(`server ${slot.index} exited on its own (${code ?? signal}):\n    ${tail(server.output())}`)
    log(`server ${slot.index} exited on its own (${code ?? signal}); restarting it`)
    slot.process = undefined
    slot.restarting = restartLoop(slot, 0)
  })
}

/** Starts a server again until it listens (the database may be restarting meanwhile), or records that it never did. */
const restartLoop = async (slot: Slot, delayMs: number): Promise<void> => {
  await sleep(delayMs)
  const until = Date.now() + comeBackMs
  let tries = 0
  let lastError = ""
  while (Date.now() < until) {
    tries++
    try {
      await start(slot)
      log(`server ${slot.index} is back on port ${slot.port} (${tries} start${tries === 1 ? "" : "s"})`)
      slot.restarting = undefined
      return
    } catch (error) {
      lastError = errorText(error)
      // Why a start failed says whether it is the database restarting (expected) or the server refusing the schema.
      const why = /"message":"([^"]*)"/.exec(lastError)?.[1] ?? lastError.split("\n")[0]
      const tag = /"tag":"([A-Za-z]+)"/.exec(lastError)?.[1]
      log(`server ${slot.index} did not start: ${tag ?? "?"}: ${why}`)
      // A database that cannot be reached (restarting, connections refused) is what the faults cause, and a later
      // start succeeds; any other refusal (a log read as corrupt, a lock) says the stored registry or the open is
      // wrong, even if a retry gets past it.
      if (tag !== "StorageFailed")
        findings.push(
          `server ${slot.index} failed to start with ${tag ?? "no typed error"}: ${tag === undefined ? `\n    ${tail(lastError)}` : why}`,
        )
      await sleep(500)
    }
  }
  findings.push(`server ${slot.index} did not come back within ${comeBackMs} ms (${tries} starts): ${tail(lastError)}`)
  slot.restarting = undefined
}

const stopServer = async (slot: Slot): Promise<void> => {
  const server = slot.process
  if (server === undefined) return
  slot.stopping = true
  const timer = setTimeout(() => server.stop("SIGKILL"), 10_000)
  const { code, signal } = await server.stop("SIGTERM")
  clearTimeout(timer)
  if (code !== 0) log(`note: server ${slot.index} stopped with ${code ?? signal}:\n    ${tail(server.output(), 5)}`)
}

// --- Faults ----------------------------------------------------------------------------------------------------------

type Fault =
  | { readonly at: number; readonly kind: "kill"; readonly target: number; readonly restartAfterMs: number }
  | { readonly at: number; readonly kind: "terminate"; readonly target: number | "all" }
  | { readonly at: number; readonly kind: "pg-restart" }

/** The schedule is a function of the seed alone, so `--seed` replays it (the load's interleaving is the machine's). */
const schedule = (random: () => number): ReadonlyArray<Fault> => {
  const first = 3_000
  const last = seconds * 1_000 - 4_000
  const times: Array<number> = []
  for (let t = first + random() * 1_500; t < last; t += 3_000 + random() * 3_000) times.push(Math.round(t))
  const restarts = new Set<number>()
  for (let k = 1; k <= pgRestartCount && times.length > 0; k++)
    restarts.add(Math.min(times.length - 1, Math.floor((times.length * k) / (pgRestartCount + 1))))
  // The first two process faults are one kill and one termination, in a seeded order, so every run has both.
  const firstKind = random() < 0.5 ? "kill" : "terminate"
  let processFaults = 0
  return times.flatMap((at, i): ReadonlyArray<Fault> => {
    // A server starting while the database goes down (a deploy during a failover) opens against connections that
    // die under it: each database restart follows a kill whose restart falls into it.
    if (restarts.has(i))
      return [
        {
          at: at - Math.round(500 + random() * 700),
          kind: "kill",
          target: Math.floor(random() * serverCount),
          restartAfterMs: Math.round(random() * 400),
        },
        { at, kind: "pg-restart" },
      ]
    const kind =
      processFaults === 0
        ? firstKind
        : processFaults === 1
          ? firstKind === "kill"
            ? "terminate"
            : "kill"
          : random() < 0.5
            ? "kill"
            : "terminate"
    processFaults++
    const target = Math.floor(random() * serverCount)
    return [
      kind === "kill"
        ? { at, kind, target, restartAfterMs: Math.round(200 + random() * 1_300) }
        : { at, kind, target: random() < 0.25 ? "all" : target },
    ]
  })
}

const counts = { kills: 0, terminations: 0, terminatedBackends: 0, pgRestarts: 0, pgDownMs: 0 }

/** The target if it is up, else the next server that is: a fault on a server still restarting would be none. */
const upFrom = (target: number): Slot | undefined => {
  for (let i = 0; i < serverCount; i++) {
    const slot = slots[(target + i) % serverCount]!
    if (isUp(slot)) return slot
  }
  return undefined
}

const inject = async (fault: Fault): Promise<void> => {
  if (fault.kind === "kill") {
    const slot = upFrom(fault.target)
    if (slot === undefined) return log("kill skipped: no server is up")
    const server = slot.process!
    slot.stopping = true
    slot.restarting = restartLoop(slot, fault.restartAfterMs)
    await server.stop("SIGKILL")
    slot.process = undefined
    counts.kills++
    log(`kill -9 server ${slot.index} (pid ${server.child.pid}); restarting it in ${fault.restartAfterMs} ms`)
  } else if (fault.kind === "terminate") {
    const targets = fault.target === "all" ? slots.filter(isUp) : [upFrom(fault.target)].filter((s) => s !== undefined)
    if (targets.length === 0) return log("termination skipped: no server is up")
    const ports = await databasePorts(targets.map((slot) => slot.process!.child.pid!))
    const terminated =
      ports.length === 0
        ? "0"
        : await psql(
            "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity where datname = 'test' " +
              `and application_name = 'model-registry' and client_port in (${ports.join(",")})) t`,
          )
    counts.terminations++
    counts.terminatedBackends += Number(terminated.trim())
    log(
      `pg_terminate_backend: ${terminated.trim()} backend(s) of server${targets.length > 1 ? "s" : ""} ` +
        targets.map((slot) => slot.index).join(", "),
    )
  } else {
    const begun = Date.now()
    log(`restarting PostgreSQL ${pgVersion}/main`)
    try {
      await run("pg_ctlcluster", ["--skip-systemctl-redirect", pgVersion, "main", "restart"], { timeout: 60_000 })
    } catch (error) {
      findings.push(`pg_ctlcluster restart failed: ${errorText(error)}`)
    }
    if (!(await waitPgReady(30_000))) findings.push("PostgreSQL did not accept connections within 30 s of its restart")
    counts.pgRestarts++
    counts.pgDownMs += Date.now() - begun
    log(`PostgreSQL is back after ${Date.now() - begun} ms`)
  }
}

// --- Load ------------------------------------------------------------------------------------------------------------

interface Request {
  readonly method: "POST" | "PUT" | "DELETE"
  readonly path: string
  readonly body?: unknown
  readonly key: string
  readonly register?: { readonly model: string; readonly version: string }
}

const attempts: Array<Attempt> = []
/** Versions some registration answered for: what promotions and aliases pick from, whichever client registered it. */
const registered = new Map<string, Array<string>>(models.map((m) => [m, []]))
const statuses = new Map<string, number>()
const countStatus = (what: string) => statuses.set(what, (statuses.get(what) ?? 0) + 1)

const uuid = (random: () => number): string => {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16))
  hex[12] = "4"
  hex[16] = "89ab"[Math.floor(random() * 4)]!
  const s = hex.join("")
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`
}

const nextRequest = (client: number, n: number, random: () => number): Request => {
  const model = models[Math.floor(random() * models.length)]!
  const pool = registered.get(model)!
  const pick = () => pool[Math.floor(random() * pool.length)]!
  const r = random()
  if (pool.length === 0 || r < 0.35) {
    const version = `${client + 1}.0.${n}`
    const id = uuid(random)
    return {
      method: "POST",
      path: `/models/${model}/versions`,
      body: {
        version,
        id,
        createdAt: new Date().toISOString(),
        metrics: { accuracy: Math.round(random() * 1000) / 1000 },
      },
      key: keys.register(id),
      register: { model, version },
    }
  }
  const version = pick()
  const base = `/models/${model}/versions/${version}`
  // The promote and deprecate routes and the transitions route write the same events; both are exercised.
  if (r < 0.6)
    return {
      method: "POST",
      path: random() < 0.5 ? `${base}/promote` : `${base}/transitions/promote`,
      key: keys.change(model, version, "promote"),
    }
  if (r < 0.68)
    return { method: "POST", path: `${base}/transitions/supersede`, key: keys.change(model, version, "supersede") }
  if (r < 0.72)
    return {
      method: "POST",
      path: random() < 0.5 ? `${base}/deprecate` : `${base}/transitions/deprecate`,
      key: keys.change(model, version, "deprecate"),
    }
  const alias = aliases[Math.floor(random() * aliases.length)]!
  if (r < 0.9)
    return {
      method: "PUT",
      path: `/models/${model}/aliases/${alias}`,
      body: { version },
      key: keys.setAlias(model, alias, version),
    }
  return { method: "DELETE", path: `/models/${model}/aliases/${alias}`, key: keys.removeAlias(model, alias) }
}

const send = async (slot: Slot, token: string, request: Request): Promise<Outcome> => {
  let response: Response
  let text: string
  try {
    response = await fetch(`${urlOf(slot)}${request.path}`, {
      method: request.method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      signal: AbortSignal.timeout(requestTimeoutMs),
    })
    text = await response.text()
  } catch (error) {
    // A refused connection never carried the request: nothing can have been written for it.
    const code = (error as { cause?: { code?: unknown } }).cause?.code
    if (code === "ECONNREFUSED") return { kind: "failed", status: 0, tag: "ECONNREFUSED" }
    return { kind: "unknown", reason: errorText(error) }
  }
  const body = (() => {
    try {
      return JSON.parse(text) as Record<string, unknown>
    } catch {
      return { unparsable: text }
    }
  })()
  if (response.ok) {
    if (request.register !== undefined) return { kind: "registered" }
    const event = body.event as LogEvent | null | undefined
    return event == null ? { kind: "unchanged" } : { kind: "acked", event }
  }
  const error = (body.error ?? {}) as { tag?: string; reason?: string }
  const tag = `${error.tag ?? "?"}${error.reason === undefined ? "" : `/${error.reason}`}`
  if (response.status === 429 || (response.status === 503 && tag === "StorageFailed/Unavailable"))
    return { kind: "failed", status: response.status, tag }
  if (response.status >= 500) return { kind: "unknown", reason: `${response.status} ${tag}` }
  return { kind: "rejected", status: response.status, tag }
}

/** An outcome as the load's tally counts it. */
const describe = (outcome: Outcome): string => {
  if (outcome.kind === "rejected" || outcome.kind === "failed")
    return `${outcome.kind} ${outcome.status} ${outcome.tag}`
  if (outcome.kind !== "unknown") return outcome.kind
  if (/^\d{3} /.test(outcome.reason)) return `unknown ${outcome.reason}`
  return /timeout|aborted/i.test(outcome.reason) ? "unknown timeout" : "unknown connection lost"
}

const clientLoop = async (client: number, loadEnd: number): Promise<void> => {
  const random = prng(seed * 31 + client + 1)
  const token = tokens[client]!
  const home = client % serverCount
  for (let n = 0; Date.now() < loadEnd; n++) {
    const request = nextRequest(client, n, random)
    // Retries go round the servers: one that was just killed answers nothing, the next may.
    for (let attempt = 0; ; attempt++) {
      const slot = slots[(home + attempt) % serverCount]!
      const outcome = await send(slot, token.secret, request)
      attempts.push({ client: token.name, key: request.key, server: slot.index, outcome })
      countStatus(describe(outcome))
      if (outcome.kind === "registered" && request.register !== undefined) {
        const pool = registered.get(request.register.model)!
        if (!pool.includes(request.register.version)) pool.push(request.register.version)
      }
      if (outcome.kind !== "unknown" && outcome.kind !== "failed") break
      if (Date.now() > loadEnd + retryGraceMs) break
      await sleep(100 + Math.min(attempt, 5) * 150)
    }
    // A little think time keeps six clients from saturating the shared two cores.
    await sleep(random() * 10)
  }
}

// --- Reading the logs back -------------------------------------------------------------------------------------------

const healthOf = async (slot: Slot): Promise<{ status: number; lastSeq: number | undefined; text: string }> => {
  try {
    const response = await fetch(`${urlOf(slot)}/healthz`, { signal: AbortSignal.timeout(3_000) })
    const text = await response.text()
    const lastSeq = response.ok ? (JSON.parse(text) as { lastSeq: number }).lastSeq : undefined
    return { status: response.status, lastSeq, text }
  } catch (error) {
    return { status: 0, lastSeq: undefined, text: errorText(error) }
  }
}

/** Polls /healthz during the run: how often a server said it could not write, which a database restart should cause. */
const unhealthySeen = new Map<number, number>()
const healthLoop = async (until: () => boolean): Promise<void> => {
  while (!until()) {
    await Promise.all(
      slots.filter(isUp).map(async (slot) => {
        const health = await healthOf(slot)
        if (health.status === 503) unhealthySeen.set(slot.index, (unhealthySeen.get(slot.index) ?? 0) + 1)
      }),
    )
    await sleep(500)
  }
}

/** Waits until every server answers 200 with the same head twice in a row; returns that head, or undefined. */
const converge = async (): Promise<number | undefined> => {
  const until = Date.now() + comeBackMs
  let previous = ""
  let last: ReadonlyArray<string> = []
  while (Date.now() < until) {
    const health = await Promise.all(slots.map(healthOf))
    last = health.map((h, i) => `server ${i}: ${h.status} ${h.lastSeq ?? h.text}`)
    const heads = health.map((h) => h.lastSeq)
    const agreed = health.every((h) => h.status === 200) && heads.every((h) => h === heads[0])
    if (agreed && previous === String(heads[0])) return heads[0]
    previous = agreed ? String(heads[0]) : ""
    await sleep(500)
  }
  findings.push(`the servers did not agree on a healthy head within ${comeBackMs} ms: ${last.join("; ")}`)
  return undefined
}

/**
 * Reads a server's `/events` from seq `from`, calling `onEvent` with each event until it returns true (then resolves
 * true) or the stream ends (false). A `stream-error` event fails it.
 */
const followEvents = async (
  slot: Slot,
  from: number,
  signal: AbortSignal,
  onEvent: (event: LogEvent) => boolean,
): Promise<boolean> => {
  const response = await fetch(`${urlOf(slot)}/events?from=${from}`, {
    headers: { authorization: `Bearer ${tokens[0]!.secret}` },
    signal,
  })
  if (!response.ok) throw new Error(`/events answered ${response.status}: ${await response.text()}`)
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  let name: string | undefined
  let data: Array<string> = []
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return false
    buffer += value
    let newline = buffer.indexOf("\n")
    while (newline >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, "")
      buffer = buffer.slice(newline + 1)
      newline = buffer.indexOf("\n")
      if (line === "") {
        if (name === "stream-error") throw new Error(`/events failed: ${data.join("\n")}`)
        if (data.length > 0 && onEvent(JSON.parse(data.join("\n")) as LogEvent)) return true
        name = undefined
        data = []
      } else if (line.startsWith("event:")) name = line.slice(6).trim()
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""))
    }
  }
}

/** Every event of a server's `/events` from seq 1 up to `head`, read afresh after the run. */
const readLog = async (slot: Slot, head: number): Promise<ReadonlyArray<LogEvent>> => {
  const events: Array<LogEvent> = []
  if (head === 0) return events
  const signal = AbortSignal.timeout(30_000)
  const reached = await followEvents(slot, 1, signal, (event) => {
    events.push(event)
    return event.seq >= head
  })
  if (!reached) throw new Error(`/events ended after ${events.length} events, before seq ${head}`)
  return events
}

/**
 * Follows a server's `/events` for the whole run, as a subscriber would: from seq 1, and after every dropped
 * connection (the server killed, or stopping) from the seq after the last one it delivered. Everything delivered is
 * kept, so that a skipped, repeated or changed event shows against the log.
 */
const watch = (slot: Slot) => {
  const events: Array<LogEvent> = []
  const controller = new AbortController()
  let reconnects = 0
  let target = Number.POSITIVE_INFINITY
  let reachedTarget: () => void = () => undefined
  const reached = new Promise<void>((resolve) => {
    reachedTarget = resolve
  })
  const done = (async () => {
    while (!controller.signal.aborted) {
      try {
        const last = events.at(-1)?.seq ?? 0
        await followEvents(slot, last + 1, controller.signal, (event) => {
          events.push(event)
          if (event.seq >= target) reachedTarget()
          return false
        })
      } catch {
        // The server is down or restarting: try again shortly, where the stream stopped.
      }
      if (controller.signal.aborted) break
      reconnects++
      await sleep(250)
    }
  })()
  return {
    events,
    reconnects: () => reconnects,
    /** Resolves once the stream delivered `head`, or after `ms`. */
    until: (head: number, ms: number): Promise<void> => {
      target = head
      if ((events.at(-1)?.seq ?? 0) >= head) reachedTarget()
      return Promise.race([reached, sleep(ms)])
    },
    stop: async () => {
      controller.abort()
      await done
    },
  }
}

// --- The run ---------------------------------------------------------------------------------------------------------

const cleanUp = async () => {
  await Promise.all(slots.map(stopServer))
  if (!(await pgReady())) {
    log("PostgreSQL is down at the end: starting it")
    await run("pg_ctlcluster", ["--skip-systemctl-redirect", pgVersion, "main", "start"]).catch(() => undefined)
    await waitPgReady(30_000)
  }
  await psql(`drop schema if exists ${schema} cascade; drop table if exists ${schema}_migrations`).catch((error) =>
    log(`could not drop schema ${schema}: ${errorText(error)}`),
  )
  rmSync(scratch, { recursive: true, force: true })
}

const main = async (): Promise<number> => {
  console.log(
    `multi-server: seed=${seed} seconds=${seconds} servers=${serverCount} clients=${clientCount} ` +
      `pg-restarts=${pgRestartCount} schema=${schema} (replay: npx tsx scripts/multi-server.ts --seed=${seed} ` +
      `--seconds=${seconds})`,
  )
  buildCliIfStale()
  if (!(await pgReady())) throw new Error("PostgreSQL is not accepting connections on 127.0.0.1:5432")
  const faults = schedule(prng(seed))
  log(
    `fault schedule: ${faults.map((f) => `${(f.at / 1000).toFixed(1)}s ${f.kind}${"target" in f ? ` ${f.target}` : ""}`).join(", ")}`,
  )

  // One first, so that the schema is created and migrated once; then the others, at once.
  await start(slots[0]!)
  await Promise.all(slots.slice(1).map(start))
  log(`servers listening on ports ${slots.map((s) => s.port).join(", ")}`)

  const watchers = slots.map(watch)
  const loadStart = Date.now()
  const loadEnd = loadStart + seconds * 1_000
  let loadDone = false
  const health = healthLoop(() => loadDone)
  const clients = Promise.all(Array.from({ length: clientCount }, (_, i) => clientLoop(i, loadEnd)))
  for (const fault of faults) {
    const wait = loadStart + fault.at - Date.now()
    if (wait > 0) await sleep(wait)
    await inject(fault).catch((error) => findings.push(`injecting ${fault.kind} failed: ${errorText(error)}`))
  }
  await clients
  loadDone = true
  await health
  log(`load stopped: ${attempts.length} requests (${[...statuses].map(([k, v]) => `${k} ${v}`).join(", ")})`)
  await Promise.all(slots.map((slot) => slot.restarting))
  for (const slot of slots) if (slot.process === undefined) findings.push(`server ${slot.index} is not running`)

  const head = await converge()
  const target = head ?? Math.max(0, ...(await Promise.all(slots.map(healthOf))).map((h) => h.lastSeq ?? 0))
  log(`reading every server's log up to seq ${target}`)
  const streams = await Promise.all(
    slots.map((slot) =>
      readLog(slot, target).catch((error) => {
        findings.push(`server ${slot.index}: ${errorText(error)}`)
        return [] as ReadonlyArray<LogEvent>
      }),
    ),
  )
  // Live streams may trail the fresh reads by the followers' latency; one that never reaches the head is a finding.
  await Promise.all(watchers.map((watcher) => watcher.until(target, 10_000)))
  await Promise.all(watchers.map((watcher) => watcher.stop()))
  const lifecycle = (await (
    await fetch(`${urlOf(slots[0]!)}/lifecycle`, { headers: { authorization: `Bearer ${tokens[0]!.secret}` } })
  ).json()) as { exclusive: Record<string, string> }
  const result = check({
    streams,
    live: watchers.map((watcher) => watcher.events),
    attempts,
    exclusive: Object.keys(lifecycle.exclusive),
  })

  for (const problem of result.problems) console.log(`  ${problem}`)
  for (const finding of findings) console.log(`  finding: ${finding}`)
  const unknown = attempts.filter((a) => a.outcome.kind === "unknown").length
  const failedAttempts = attempts.filter((a) => a.outcome.kind === "failed").length
  const unhealthy = [...unhealthySeen].map(([i, n]) => `${i}:${n}`).join(",") || "none"
  const yesNo = (ok: boolean) => (ok ? "yes" : "no")
  // The line the brief asks for first, then what else was measured.
  console.log(
    `multi-server: seed=${seed} servers=${serverCount} kills=${counts.kills} terminations=${counts.terminations} ` +
      `pg-restarts=${counts.pgRestarts} acknowledged=${result.acknowledged} checked=${result.checked} ` +
      `lost=${result.lost.length} duplicates=${result.duplicates.length} seqs=${result.seqs} ` +
      `streams-identical=${yesNo(result.streamsIdentical)}`,
  )
  console.log(
    `multi-server: live-streams-identical=${yesNo(result.liveDivergences.length === 0)} ` +
      `(reconnects ${watchers.map((watcher) => watcher.reconnects()).join(",")}) gaps=${result.gaps.length} ` +
      `exclusive-violations=${result.exclusiveViolations.length} stale-decisions=${result.staleDecisions.length} ` +
      `unchanged=${result.unchanged} failed=${failedAttempts} failed-yet-written=${result.failedPresent.length} ` +
      `unknown=${unknown} (present ${result.unknownPresent}, absent ${result.unknownAbsent}) ` +
      `terminated-backends=${counts.terminatedBackends} pg-down-ms=${counts.pgDownMs} ` +
      `healthz-503-polls=${unhealthy} findings=${findings.length}`,
  )
  const failed = result.problems.length > 0 || findings.length > 0 || result.checked !== result.acknowledged
  if (failed) console.log(`multi-server: FAILED, seed=${seed}`)
  return failed ? 1 : 0
}

// Interrupted (Ctrl-C): the servers stop with the process group, and the schema is dropped all the same.
// tsx passes the terminal's SIGINT on as a second one: both are taken, so that the first's clean-up can finish.
let interrupted = false
process.on("SIGINT", () => {
  if (interrupted) return
  interrupted = true
  console.log(`multi-server: interrupted, seed=${seed}`)
  void cleanUp().finally(() => process.exit(130))
})

let exitCode = 1
try {
  exitCode = await main()
} catch (error) {
  console.log(`multi-server: FAILED, seed=${seed}: ${error instanceof Error ? (error.stack ?? error.message) : error}`)
} finally {
  await cleanUp()
}
process.exit(exitCode)
