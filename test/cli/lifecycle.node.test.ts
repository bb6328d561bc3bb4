/**
 * The lifecycle commands through real processes: `lifecycle check` on the three built-in lifecycles (4 versions, 2
 * aliases, counts printed) and on a broken module (refused with its counterexample), `serve --lifecycle` refusing the
 * same module, `transition` and `alias set|get|rm` on a directory under MLflow's stages and against a server running
 * them, a directory opened without its lifecycle by a command or by `serve` (LifecycleMismatch, saying how to open
 * it), and `lifecycle show`.
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { runCli, startServer, tempDir } from "../http/serverProcess.ts"

const broken = fileURLToPath(new URL("./fixtures/broken-stages.mjs", import.meta.url))
const counterexample = "register 1.0.0 → promote 1.0.0 → register 1.1.0 → promote 1.1.0"

describe("model-registry lifecycle commands", () => {
  it("checks the three built-in lifecycles at 4 versions and 2 aliases, printing their counts", async () => {
    const runs = await Promise.all(
      ["default", "mlflow-stages", "approval"].map((name) =>
        runCli(["lifecycle", "check", name, "--versions", "4", "--aliases", "2"]),
      ),
    )
    for (const run of runs) {
      expect(run.stderr).toBe("")
      expect(run.code).toBe(0)
      expect(run.stdout).toMatch(/^lifecycle [a-z-]+: 4 versions, aliases \S+, \S+\n {2}\d+ states, \d+ transitions/)
      expect(run.stdout).toContain("  0 violations")
      console.log(run.stdout.trim())
    }
    const json = await runCli(["lifecycle", "check", "approval", "--versions", "2", "--json"])
    expect(JSON.parse(json.stdout)).toMatchObject({ lifecycle: "approval", versions: 2, violations: [] })
  }, 240_000)

  it("refuses a broken lifecycle module with its counterexample, in check and in serve", async () => {
    const [checked, served, unknown, tooBig] = await Promise.all([
      runCli(["lifecycle", "check", broken]),
      runCli(["serve", "--data", tempDir("serve-broken"), "--port", "0", "--lifecycle", broken]),
      runCli(["lifecycle", "check", "nope"]),
      runCli(["lifecycle", "check", "default", "--versions", "9"]),
    ])
    expect(checked.code).toBe(1)
    expect(checked.stdout).toContain(
      'violation: exclusive state "production" displaces its holder with "stage", which "production" does not accept',
    )
    expect(checked.stdout).toContain(`after: ${counterexample}`)
    expect(checked.stderr).toContain('InvalidLifecycle: lifecycle "broken-stages" is invalid')
    expect(served.code).toBe(1)
    expect(served.stdout).not.toContain("listening")
    expect(served.stderr).toContain(`InvalidLifecycle: lifecycle "broken-stages" is invalid`)
    expect(served.stderr).toContain(counterexample)
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('lifecycle: "nope" is neither a built-in lifecycle')
    expect(tooBig.code).toBe(1)
    expect(tooBig.stderr).toContain("--versions: must be an integer from 1 to 6")
    console.log(`serve --lifecycle ${broken} → exit ${served.code}: ${served.stderr.trim()}`)
  }, 120_000)

  it("transitions and moves aliases on a directory under its lifecycle; without it, says how to open it", async () => {
    const data = tempDir("cli-stages")
    const under = ["--data", data, "--lifecycle", "mlflow-stages"]
    for (const version of ["1.0.0", "2.0.0"])
      expect((await runCli(["register", ...under, "bert", version])).code).toBe(0)
    const staged = await runCli(["transition", ...under, "bert", "1.0.0", "stage"])
    expect(staged.stdout.trim()).toMatch(/^bert 1\.0\.0: none → staging at seq \d+$/)
    const set = await runCli(["alias", "set", ...under, "bert", "champion", "1.0.0"])
    expect(set.stdout.trim()).toMatch(/^bert champion → 1\.0\.0 at seq \d+$/)
    const refused = await runCli(["alias", "set", ...under, "bert", "champion", "2.0.0"])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain("AliasNotAllowed")
    expect((await runCli(["transition", ...under, "bert", "1.0.0", "promote"])).code).toBe(0)
    const displacing = await runCli(["transition", ...under, "--json", "bert", "2.0.0", "promote"])
    expect(JSON.parse(displacing.stdout)).toMatchObject({
      version: { version: "2.0.0", state: "production" },
      event: { _tag: "Transitioned", displaced: [{ version: "1.0.0", to: "archived" }] },
    })
    const invalid = await runCli(["transition", ...under, "bert", "1.0.0", "stage"])
    expect(invalid.code).toBe(2)
    expect(invalid.stderr).toContain("InvalidTransition")

    expect((await runCli(["alias", "set", ...under, "bert", "champion", "2.0.0"])).code).toBe(0)
    // One at a time: each local command takes the directory's lock.
    const got = await runCli(["alias", "get", ...under, "--json", "bert", "champion"])
    const list = await runCli(["list", ...under])
    const versions = await runCli(["list", ...under, "bert"])
    const mismatch = await runCli(["list", "--data", data])
    const serveMismatch = await runCli(["serve", "--data", data, "--port", "0"])
    expect(JSON.parse(got.stdout)).toMatchObject({ version: "2.0.0", state: "production", aliases: ["champion"] })
    expect(list.stdout).toMatch(/ALIASES\nbert\s+2\.0\.0\s+2\.0\.0\s+2\s+champion=2\.0\.0/)
    expect(versions.stdout).toMatch(/1\.0\.0\s+archived\s+-\s/)
    expect(versions.stdout).toMatch(/2\.0\.0\s+production\s+champion\s/)
    expect(mismatch.code).toBe(2)
    expect(mismatch.stderr).toContain(
      'LifecycleMismatch: the data directory is written under lifecycle "mlflow-stages"',
    )
    expect(mismatch.stderr).toContain("Open it with --lifecycle mlflow-stages, or move it with --lifecycle default")
    expect(serveMismatch.code).toBe(2)
    expect(serveMismatch.stdout).not.toContain("listening")
    expect(serveMismatch.stderr).toContain('not "default"')
    expect(serveMismatch.stderr).toContain("--lifecycle-map old=new")

    const removed = await runCli(["alias", "rm", ...under, "bert", "champion"])
    expect(removed.stdout.trim()).toMatch(/^bert champion removed \(was 2\.0\.0\) at seq \d+$/)
    const again = await runCli(["alias", "rm", ...under, "bert", "champion"])
    expect(again.code).toBe(0)
    expect(again.stdout.trim()).toBe("bert has no alias champion; nothing written")
    const missing = await runCli(["alias", "get", ...under, "bert", "champion"])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain("AliasNotFound")
  }, 240_000)

  it("runs the same commands against a server started with --lifecycle, and shows its diagram", async () => {
    const server = await startServer(tempDir("serve-stages"), { args: ["--lifecycle", "mlflow-stages"] })
    try {
      const remote = ["--url", server.url]
      expect((await runCli(["register", ...remote, "gpt", "1.0.0"])).code).toBe(0)
      const staged = await runCli(["transition", ...remote, "--json", "gpt", "1.0.0", "stage"])
      expect(JSON.parse(staged.stdout)).toMatchObject({ event: { _tag: "Transitioned", to: "staging" } })
      const set = await runCli(["alias", "set", ...remote, "--json", "gpt", "champion", "1.0.0"])
      expect(JSON.parse(set.stdout)).toMatchObject({ alias: "champion", event: { _tag: "AliasSet" } })
      const [got, shown, flagged, local] = await Promise.all([
        runCli(["alias", "get", ...remote, "gpt", "champion"]),
        runCli(["lifecycle", "show", ...remote]),
        runCli(["list", ...remote, "--lifecycle", "approval"]),
        runCli(["lifecycle", "show"]),
      ])
      expect(got.stdout).toMatch(/^gpt 1\.0\.0 {2}\[staging\] {2}aliases: champion\n/)
      expect(shown.code).toBe(0)
      expect(shown.stdout).toMatch(/^stateDiagram-v2\n {2}%% lifecycle mlflow-stages /)
      expect(shown.stdout).toContain("  [*] --> none\n")
      expect(shown.stdout).toContain("  archived --> [*]\n")
      expect(flagged.code).toBe(1)
      expect(flagged.stderr).toContain("--lifecycle and --lifecycle-map open a data directory")
      expect(local.stdout).toMatch(/^stateDiagram-v2\n {2}%% lifecycle default /)
      const removed = await runCli(["alias", "rm", ...remote, "gpt", "champion"])
      expect(removed.stdout.trim()).toMatch(/^gpt champion removed \(was 1\.0\.0\) at seq \d+$/)
    } finally {
      await server.stop("SIGKILL")
    }
  }, 240_000)
})
