/**
 * `model-registry search`: the same query language and the same answers on a data directory and against a
 * server, page by page with the cursor it prints on stderr, or every page with --all; and `register --source
 * --run-id`, shown by `get`.
 */
import { describe, expect, it } from "@effect/vitest"
import { runCli, startServer, tempDir } from "../http/serverProcess.ts"

const found = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as { name: string; version: string })
    .map((v) => `${v.name}@${v.version}`)

describe("model-registry search", () => {
  // Many CLI processes, each a second or more on the 2-core CI machine beside another suite.
  it("filters, orders and pages alike on a directory and through a server", { timeout: 180_000 }, async () => {
    const data = tempDir("cli-search")
    for (let i = 0; i < 5; i++) {
      const registered = await runCli([
        "register",
        "--data",
        data,
        i < 3 ? "resnet" : "bert",
        `1.${i}.0`,
        "--metrics",
        JSON.stringify({ accuracy: 0.8 + i * 0.04 }),
        "--tag",
        `team=${i % 2 === 0 ? "vision" : "nlp"}`,
        "--source",
        `s3://bucket/models/${i}`,
        "--run-id",
        `run ${i}`,
      ])
      expect(registered.code).toBe(0)
    }
    const query = ["--tag", "team=vision", "--metric", "accuracy>=0.85", "--order-by", "metric.accuracy", "--desc"]
    const local = await runCli(["search", "--data", data, "--json", ...query])
    expect(local.code).toBe(0)
    expect(found(local.stdout)).toEqual(["bert@1.4.0", "resnet@1.2.0"])

    const shown = await runCli(["get", "--data", data, "resnet", "1.1.0"])
    expect(shown.stdout).toContain("source     s3://bucket/models/1")
    expect(shown.stdout).toContain("run        run 1")
    const table = await runCli(["search", "--data", data, "--name-prefix", "res"])
    expect(table.stdout).toContain("MODEL")
    expect(table.stdout.match(/resnet/g)?.length).toBe(3)

    const first = await runCli(["search", "--data", data, "--json", "--order-by", "createdAt", "--limit", "2"])
    expect(found(first.stdout)).toHaveLength(2)
    const cursor = /more: --cursor (\S+)/.exec(first.stderr)?.[1]
    expect(cursor).toBeDefined()
    const rest = await runCli([
      "search",
      "--data",
      data,
      "--json",
      "--order-by",
      "createdAt",
      "--limit",
      "2",
      "--all",
      "--cursor",
      cursor!,
    ])
    expect(found(rest.stdout)).toHaveLength(3)
    expect(rest.stderr).not.toContain("more:")

    const bad = await runCli(["search", "--data", data, "--metric", "accuracy>>1"])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain("metric")

    const server = await startServer(data)
    try {
      const remote = await runCli(["search", "--url", server.url, "--json", ...query])
      expect(remote.code).toBe(0)
      expect(remote.stdout).toBe(local.stdout)
      const remoteBad = await runCli(["search", "--url", server.url, "--metric", "accuracy>>1"])
      expect(remoteBad.code).toBe(1)
      expect(remoteBad.stderr).toContain("metric")
    } finally {
      await server.stop("SIGKILL")
    }
  })
})
