/**
 * The CLI through real processes (bin/model-registry.mjs): register, promote, list, get, verify (also on a
 * deliberately corrupted copy), wal dump, the documented exit codes, the same commands against a server, `watch`
 * across a server restart, a server gone for good and a compacted start, and help with full names and defaults.
 */
import { spawn } from "node:child_process"
import { cpSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { type AddressInfo, createServer as createNetServer } from "node:net"
import { join } from "node:path"
import { Context, Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { layerFile, ModelRegistry } from "../../src/node.ts"
import { binPath, runCli, spawnCli, startServer, tempDir } from "../http/serverProcess.ts"

/** Runs `watch` until it has printed `lines` lines, then interrupts it; resolves with those lines. */
const watchLines = async (args: ReadonlyArray<string>, lines: number): Promise<ReadonlyArray<string>> => {
  const watch = spawnCli(["watch", ...args])
  watch.child.stdout.on("data", () => {
    if (watch.stdout().split("\n").length > lines) watch.child.kill("SIGINT")
  })
  const { stdout, stderr } = await watch.closed
  const got = stdout.split("\n").filter((line) => line.length > 0)
  if (got.length < lines) throw new Error(`watch ended after ${got.length} lines: ${stderr}`)
  return got
}

const pad = "x".repeat(2048)

/** A running `watch`: its stdout lines and stderr so far, and its exit code. */
const watching = (args: ReadonlyArray<string>) => {
  const watch = spawnCli(["watch", ...args])
  const exited = watch.closed.then(({ code }) => code)
  return {
    lines: () =>
      watch
        .stdout()
        .split("\n")
        .filter((line) => line.length > 0),
    stderr: watch.stderr,
    exited,
    stop: () => {
      watch.child.kill("SIGINT")
      return exited
    },
  }
}

/** Waits (bounded) until `done` holds; `what` names it in the failure. */
const until = async (done: () => boolean, what: () => string, ms = 60_000) => {
  const deadline = Date.now() + ms
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

const freePort = async () => {
  const holder = createNetServer()
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve))
  const { port } = holder.address() as AddressInfo
  await new Promise((resolve) => holder.close(resolve))
  return port
}

const seqsOf = (lines: ReadonlyArray<string>) => lines.map((line) => (JSON.parse(line) as { seq: number }).seq)

describe("model-registry CLI", () => {
  it("registers, promotes, lists, verifies, detects corruption and dumps the WAL", async () => {
    const data = tempDir("cli")
    const first = await runCli([
      "register",
      "--data",
      data,
      "resnet",
      "1.0.0",
      "--metrics",
      `{"accuracy":0.9,"pad":"${pad}"}`,
      "--tag",
      "team=vision",
    ])
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(/^registered resnet 1\.0\.0 \(id [0-9a-f-]{36}\)/)
    const second = await runCli([
      "register",
      "--data",
      data,
      "--json",
      "resnet",
      "1.10.0",
      "--metrics",
      `{"pad":"${pad}"}`,
    ])
    expect(second.code).toBe(0)
    expect(JSON.parse(second.stdout)).toMatchObject({
      created: true,
      version: { version: "1.10.0", state: "registered" },
    })
    const third = await runCli(["register", "--data", data, "resnet", "1.2.0", "--metrics", `{"pad":"${pad}"}`])
    expect(third.code).toBe(0)

    const promoted = await runCli(["promote", "--data", data, "resnet", "1.2.0"])
    expect(promoted.code).toBe(0)
    expect(promoted.stdout).toContain("promoted resnet 1.2.0 at seq 4")

    const missing = await runCli(["promote", "--data", data, "resnet", "9.9.9"])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain("VersionNotFound")

    const list = await runCli(["list", "--data", data])
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/MODEL\s+PRODUCTION\s+LATEST\s+VERSIONS\s+ALIASES\nresnet\s+1\.2\.0\s+1\.10\.0\s+3\s+-/)
    const versions = await runCli(["list", "--data", data, "--json", "resnet"])
    const lines = versions.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { version: string; state: string })
    expect(lines.map((v) => `${v.version}:${v.state}`)).toEqual([
      "1.0.0:registered",
      "1.2.0:production",
      "1.10.0:registered",
    ])

    const corrupted = tempDir("cli-corrupt")
    cpSync(data, corrupted, { recursive: true })
    const segment = readdirSync(corrupted).find((f) => f.endsWith(".seg"))!
    const bytes = readFileSync(join(corrupted, segment))
    const middle = Math.floor(bytes.length / 2)
    bytes[middle] = bytes[middle]! ^ 0xff
    writeFileSync(join(corrupted, segment), bytes)

    const [verified, broken, dumped, usage] = await Promise.all([
      runCli(["verify", "--data", data]),
      runCli(["verify", "--data", corrupted]),
      runCli(["wal", "dump", "--data", data]),
      runCli(["promote", "--data", data, "resnet"]),
    ])
    expect(verified.code).toBe(0)
    // Piped, as here: no progress line on stderr.
    expect(verified.stderr).toBe("")
    expect(dumped.stderr).toBe("")
    expect(verified.stdout).toContain(": OK")
    expect(verified.stdout).toMatch(/records\s+4 valid \(seq 1\.\.4\)/)
    expect(broken.code).toBe(3)
    expect(broken.stderr).toContain("WalCorrupt")
    const events = dumped.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { _tag: string; seq: number })
    expect(dumped.code).toBe(0)
    expect(events.map((e) => `${e.seq}:${e._tag}`)).toEqual([
      "1:Registered",
      "2:Registered",
      "3:Registered",
      "4:Promoted",
    ])
    expect(usage.code).toBe(1)
    console.log(
      `cli: verify OK on ${events.length} records; corrupted copy (byte ${middle} of ${bytes.length} flipped) → exit ${broken.code}: ${broken.stderr.trim()}`,
    )
  })

  it("wal dump into a pipe whose reader goes away stops quietly: exit 0, nothing on stderr", async () => {
    const data = tempDir("cli-dump-pipe")
    // Far more NDJSON than a pipe's buffer holds, so the dump is still writing when the reader leaves.
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const registry = Context.get(yield* Layer.build(layerFile({ directory: data })), ModelRegistry.ModelRegistry)
          yield* Effect.forEach(
            Array.from({ length: 2000 }, (_, i) => `1.0.${i}`),
            (version) => registry.register({ name: "m", version, metrics: { pad } }),
            { concurrency: "unbounded", discard: true },
          )
        }),
      ),
    )
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [binPath, "wal", "dump", "--data", data])
      let stderr = ""
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString()
      })
      child.stdout.once("data", () => child.stdout.destroy())
      child.on("error", reject)
      child.on("close", (code) => resolve({ code, stderr }))
    })
    expect(result).toEqual({ code: 0, stderr: "" })
  })

  it("runs the same commands against a server with --url and --token", async () => {
    const data = tempDir("cli-remote")
    const server = await startServer(data, { env: { MODEL_REGISTRY_TOKEN: "t0ken" } })
    try {
      const remote = ["--url", server.url, "--token", "t0ken"]
      const registered = await runCli(["register", ...remote, "--json", "bert", "0.1.0", "--tag", "lang=en"])
      expect(registered.code).toBe(0)
      expect(JSON.parse(registered.stdout)).toMatchObject({
        created: true,
        version: { name: "bert", tags: { lang: "en" } },
      })
      const [promoted, denied] = await Promise.all([
        runCli(["promote", ...remote, "bert", "0.1.0"]),
        runCli(["get", "--url", server.url, "--token", "wrong", "bert", "0.1.0"]),
      ])
      expect(promoted.code).toBe(0)
      expect(denied.code).toBe(1)
      expect(denied.stderr).toContain("Unauthorized")
      const got = await runCli(["get", ...remote, "--json", "bert", "0.1.0"])
      expect(JSON.parse(got.stdout)).toMatchObject({ state: "production" })
      const conflict = await runCli(["register", ...remote, "bert", "0.1.0", "--tag", "lang=de"])
      expect(conflict.code).toBe(2)
      expect(conflict.stderr).toContain("VersionConflict")

      // verify and wal dump are read-only: they need no lock, so they inspect the server's live directory.
      const [verified, dumped, locked] = await Promise.all([
        runCli(["verify", "--data", data]),
        runCli(["wal", "dump", "--data", data]),
        runCli(["list", "--data", data]),
      ])
      expect(verified.code).toBe(0)
      expect(verified.stdout).toMatch(/records\s+2 valid \(seq 1\.\.2\)/)
      expect(dumped.stdout.trim().split("\n").length).toBe(2)
      expect(locked.code).toBe(3)
      expect(locked.stderr).toContain("DirectoryLocked")
    } finally {
      await server.stop("SIGKILL")
    }
  })

  it("decodes what the server sends: watch --url streams the events, bad input is refused before sending", async () => {
    const data = tempDir("cli-watch")
    const server = await startServer(data)
    try {
      const remote = ["--url", server.url]
      expect((await runCli(["register", ...remote, "gpt", "1.0.0"])).code).toBe(0)
      expect((await runCli(["promote", ...remote, "gpt", "1.0.0"])).code).toBe(0)
      const [events, invalid, unknown] = await Promise.all([
        watchLines([...remote, "--json", "--from", "1"], 2),
        runCli(["register", ...remote, "gpt", "not-semver"]),
        runCli(["get", ...remote, "gpt", "9.9.9"]),
      ])
      expect(events.map((line) => (JSON.parse(line) as { _tag: string; seq: number })._tag)).toEqual([
        "Registered",
        "Promoted",
      ])
      expect(invalid.code).toBe(1)
      expect(invalid.stderr).toContain("InvalidInput: version: must be a SemVer 2.0.0 version")
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toContain("VersionNotFound")
    } finally {
      await server.stop("SIGKILL")
    }
  })

  it("watch --url resumes across a server restart after the last event it printed: no gap, no duplicate", async () => {
    const data = tempDir("cli-watch-restart")
    const port = ["--port", String(await freePort())]
    let server = await startServer(data, { args: port })
    const watch = watching(["--url", server.url, "--json", "--from", "1"])
    try {
      for (const version of ["1.0.0", "1.1.0"])
        expect((await runCli(["register", "--url", server.url, "m", version])).code).toBe(0)
      await until(
        () => watch.lines().length === 2,
        () => `2 events, got ${watch.lines().length}: ${watch.stderr()}`,
      )
      expect((await server.stop("SIGTERM")).code).toBe(0)
      // Committed while no server runs: only the log has them when watch reconnects.
      for (const version of ["2.0.0", "2.1.0"])
        expect((await runCli(["register", "--data", data, "m", version])).code).toBe(0)
      server = await startServer(data, { args: port })
      expect((await runCli(["promote", "--url", server.url, "m", "2.1.0"])).code).toBe(0)
      await until(
        () => watch.lines().length >= 5,
        () => `5 events, got ${watch.lines().length}: ${watch.stderr()}`,
      )
      expect(await watch.stop()).toBe(0)
      expect(seqsOf(watch.lines())).toEqual([1, 2, 3, 4, 5])
      const notices = watch
        .stderr()
        .split("\n")
        .filter((line) => line.length > 0)
      expect(notices).toHaveLength(1)
      expect(notices[0]).toMatch(/^watch: lost http:\/\/127\.0\.0\.1:\d+: .*; resuming after seq 2$/)
    } finally {
      await watch.stop()
      await server.stop("SIGKILL")
    }
  }, 180_000)

  it("watch --url exits 3 once the server has been gone for --give-up-after-ms, and 2 at once from a compacted seq (so does a local watch)", async () => {
    const data = tempDir("cli-watch-gone")
    // Two compactions delete the log up to the first snapshot (seq 1); a server opened afterwards holds no event
    // in memory, so seq 2 is the first it can send.
    for (const step of [
      ["register", "--data", data, "m", "1.0.0"],
      ["compact", "--data", data],
      ["register", "--data", data, "m", "2.0.0"],
      ["compact", "--data", data],
    ])
      expect((await runCli(step)).code).toBe(0)
    // A local watch answers a compacted start as the server does.
    const local = await runCli(["watch", "--data", data, "--from", "1"])
    expect(local.code).toBe(2)
    expect(local.stderr).toContain(
      "PositionCompacted: seq 1 was compacted away; the first event still available is seq 2",
    )
    const server = await startServer(data)
    const watch = watching(["--url", server.url, "--json", "--from", "2", "--give-up-after-ms", "1500"])
    try {
      const compacted = await runCli(["watch", "--url", server.url, "--from", "1"])
      expect(compacted.code).toBe(2)
      expect(compacted.stdout).toBe("")
      expect(compacted.stderr).toContain(
        "PositionCompacted: seq 1 was compacted away; the first event still available is seq 2",
      )
      await until(
        () => watch.lines().length === 1,
        () => `the event left, got: ${watch.stderr()}`,
      )
      await server.stop("SIGKILL")
      expect(await watch.exited).toBe(3)
      expect(seqsOf(watch.lines())).toEqual([2])
      // One notice when the connection drops, then the failure, as JSON since --json asked for it.
      const [notice, failure] = watch.stderr().trim().split("\n")
      expect(notice).toMatch(/^watch: lost http:\/\/127\.0\.0\.1:\d+: .+; resuming after seq 2$/)
      expect(JSON.parse(failure!)).toMatchObject({ error: { tag: "Unavailable" } })
      expect(JSON.parse(failure!).error.message).toMatch(
        /^gave up after \d+ s without http:\/\/127\.0\.0\.1:\d+: .+ \(resume after seq 2\)$/,
      )
    } finally {
      await watch.stop()
      await server.stop("SIGKILL")
    }
  }, 180_000)

  it("help names the command in full and shows the defaults", async () => {
    const [watch, dump, serve] = await Promise.all([
      runCli(["watch", "--help"]),
      runCli(["wal", "dump", "--help"]),
      runCli(["serve", "--help"]),
    ])
    expect(watch.code).toBe(0)
    expect(watch.stdout).toMatch(/^\$ model-registry watch \[--data text\]/m)
    expect(watch.stdout).toMatch(/--give-up-after-ms integer\n(.*\n)*?.*Defaults to: 60000/)
    expect(dump.stdout).toMatch(/^\$ model-registry wal dump --data text/m)
    for (const [flag, fallback] of [
      ["--port integer", "8080"],
      ["--drain-ms integer", "5000"],
      ["--host text", "127.0.0.1"],
    ] as const)
      expect(serve.stdout).toMatch(new RegExp(`${flag}\n(.*\n)*?.*Defaults to: ${fallback.replace(/\./g, "\\.")}`))
  }, 120_000)

  it("watch prints a lifecycle's new events, as text and as JSON", async () => {
    const server = await startServer(tempDir("cli-watch-stages"), { args: ["--lifecycle", "mlflow-stages"] })
    try {
      const remote = ["--url", server.url]
      expect((await runCli(["register", ...remote, "t5", "1.0.0"])).code).toBe(0)
      expect((await runCli(["transition", ...remote, "t5", "1.0.0", "stage"])).code).toBe(0)
      expect((await runCli(["alias", "set", ...remote, "t5", "champion", "1.0.0"])).code).toBe(0)
      expect((await runCli(["alias", "rm", ...remote, "t5", "champion"])).code).toBe(0)
      const [text, json] = await Promise.all([
        watchLines([...remote, "--from", "1"], 5),
        watchLines([...remote, "--json", "--from", "1"], 5),
      ])
      expect(text.slice(0, 5).map((line) => line.replace(/^#\d+ \S+ /, ""))).toEqual([
        "LifecycleChanged default → mlflow-stages (0 versions moved)",
        "Registered t5 1.0.0",
        "stage t5 1.0.0: none → staging",
        "AliasSet t5 champion → 1.0.0",
        "AliasRemoved t5 champion (was 1.0.0)",
      ])
      expect(json.slice(0, 5).map((line) => (JSON.parse(line) as { _tag: string })._tag)).toEqual([
        "LifecycleChanged",
        "Registered",
        "Transitioned",
        "AliasSet",
        "AliasRemoved",
      ])
    } finally {
      await server.stop("SIGKILL")
    }
  }, 120_000)

  it("says what is wrong with a mistyped directory, URL or tag, changes nothing, and prints no colour when piped", async () => {
    const parent = tempDir("cli-mistakes")
    const missing = join(parent, "no-such-dir")
    const esc = String.fromCharCode(27)
    const [list, compact, promote, url, tag, help, noColor] = await Promise.all([
      runCli(["list", "--data", missing]),
      runCli(["compact", "--data", missing]),
      runCli(["promote", "--data", missing, "resnet", "1.0.0"]),
      runCli(["list", "--url", "127.0.0.1:8080"]),
      runCli(["register", "--data", join(parent, "tagged"), "resnet", "1.0.0", "--tag", "team"]),
      runCli(["--help"]),
      runCli(["get", "--data", parent], { NO_COLOR: "1" }),
    ])
    for (const refused of [list, compact, promote]) {
      expect(refused.code).toBe(3)
      expect(refused.stderr).toContain("no such data directory")
    }
    expect(readdirSync(parent)).not.toContain("no-such-dir")
    expect(url.code).toBe(1)
    expect(url.stderr).toContain(
      '--url: must be an http:// or https:// URL, e.g. http://127.0.0.1:8080 (got "127.0.0.1:8080")',
    )
    expect(tag.code).toBe(1)
    expect(tag.stderr).toContain('--tag: must be key=value, e.g. --tag team=vision (got "team")')
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("model-registry")
    expect(help.stdout).not.toContain(esc)
    expect(noColor.code).toBe(1)
    expect(noColor.stdout + noColor.stderr).not.toContain(esc)
  }, 180_000)

  it("serve: --port falls back to $PORT, and a port in use is a usage error that says so", async () => {
    const holder = createNetServer()
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve))
    const taken = (holder.address() as AddressInfo).port
    try {
      const inUse = await runCli(["serve", "--data", tempDir("serve-in-use"), "--port", String(taken)])
      expect(inUse.code).toBe(1)
      expect(inUse.stderr).toContain(`--port: 127.0.0.1:${taken} is already in use`)
      const fromEnv = await runCli(["serve", "--data", tempDir("serve-port-env")], { PORT: String(taken) })
      expect(fromEnv.code).toBe(1)
      expect(fromEnv.stderr).toContain(`127.0.0.1:${taken} is already in use`)
    } finally {
      holder.close()
    }
  }, 120_000)
})
