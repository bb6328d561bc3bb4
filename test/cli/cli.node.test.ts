/**
 * The CLI through real processes (bin/model-registry.mjs): register, promote, list, get, verify (also on a
 * deliberately corrupted copy), wal dump, the documented exit codes, and the same commands against a server.
 */
import { spawn } from "node:child_process"
import { cpSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { type AddressInfo, createServer as createNetServer } from "node:net"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { binPath, runCli, startServer, tempDir } from "../http/serverProcess.ts"

/** Runs `watch` until it has printed `lines` lines, then interrupts it; resolves with those lines. */
const watchLines = (args: ReadonlyArray<string>, lines: number): Promise<ReadonlyArray<string>> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, "watch", ...args])
    let stdout = ""
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
      if (stdout.split("\n").length > lines) child.kill("SIGINT")
    })
    child.on("error", reject)
    child.on("close", () => {
      const got = stdout.split("\n").filter((line) => line.length > 0)
      if (got.length >= lines) resolve(got)
      else reject(new Error(`watch ended after ${got.length} lines: ${stderr}`))
    })
  })

const pad = "x".repeat(2048)

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
