/**
 * `annotate`, `annotate-model`, `archive`, `restore`, `history`, `production`, `--as-of` and `--include-archived`: the same
 * commands and the same answers on a data directory and against a server.
 */
import { describe, expect, it } from "@effect/vitest"
import { runCli, startServer, tempDir } from "../http/serverProcess.ts"

// biome-ignore lint/suspicious/noExplicitAny: each step asserts the parts of an answer it relies on
type Json = any

const lines = (stdout: string): Array<Json> =>
  stdout
    .trim()
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line))

/** Every step against one registry (`--data DIR` or `--url URL`), as what a script would check of each answer. */
const scenario = async (connection: ReadonlyArray<string>) => {
  const cli = async (...args: Array<string>) => {
    const [command, ...rest] = args
    const done = await runCli([...command!.split(" "), ...connection, ...rest])
    return done
  }
  const json = async (...args: Array<string>) => {
    const done = await cli(...args, "--json")
    expect(done.code, `${args.join(" ")}: ${done.stderr}`).toBe(0)
    return lines(done.stdout)
  }
  const seen: Record<string, unknown> = {}

  await json("register", "m", "1.0.0", "--tag", "team=a")
  const [annotated] = await json(
    "annotate",
    "m",
    "1.0.0",
    "--tag",
    "stage=qa",
    "--untag",
    "team",
    "--description",
    "first cut",
  )
  seen.annotated = [annotated.version.tags, annotated.version.description, annotated.event._tag, annotated.event.seq]
  seen.before = (await json("get", "m", "1.0.0", "--as-of", "seq:1"))[0].tags

  await json("promote", "m", "1.0.0")
  seen.productionThen = (await json("production", "m", "--as-of", "seq:2"))[0]

  const [model] = await json("annotate-model", "m", "--description", "a model", "--tag", "owner=cv")
  seen.model = model.model
  seen.archived = (await json("archive", "m"))[0].model.archived
  seen.listedArchived = (await json("list", "--include-archived")).map((m) => [m.name, m.archived, m.description])
  seen.searchedArchived = (await json("search", "--include-archived", "--as-of", "1")).map((v: Json) => v.tags)
  const refused = await cli("annotate", "m", "1.0.0", "--no-description")
  seen.refused = [refused.code, refused.stderr.includes("ModelIsArchived")]
  seen.restored = (await cli("restore", "m")).stdout.trim().replace(/\d+$/, "N")

  const [versionHistory] = await json("history", "m", "1.0.0")
  seen.versionHistory = [
    versionHistory.name,
    versionHistory.version,
    versionHistory.since,
    versionHistory.events.map((e: Json) => e._tag),
  ]
  const modelHistory = (await cli("history", "m")).stdout
  seen.modelHistory = ["ModelAnnotated m", "ModelArchived m", "ModelRestored m", "VersionAnnotated m 1.0.0"].map(
    (part) => modelHistory.includes(part),
  )
  return seen
}

/**
 * What both runs answer. Each CLI run is a process (a second or more each on the 2-core CI machine), so the steps
 * are the few that differ between a directory and a server; the rest of the CLI's reads are tested in
 * cli.node.test.ts and the answers themselves in test/effects.
 */
const expected = {
  annotated: [{ stage: "qa" }, "first cut", "VersionAnnotated", 2],
  before: { team: "a" },
  productionThen: null,
  model: { name: "m", description: "a model", tags: { owner: "cv" }, archived: false },
  archived: true,
  listedArchived: [["m", true, "a model"]],
  searchedArchived: [{ team: "a" }],
  refused: [2, true],
  restored: "restored m at seq N",
  versionHistory: ["m", "1.0.0", 0, ["Registered", "VersionAnnotated", "Promoted"]],
  modelHistory: [true, true, true, true],
}

describe("annotations, archiving, history and --as-of on the command line", () => {
  it("on a data directory", { timeout: 240_000 }, async () => {
    expect(await scenario(["--data", tempDir("cli-history-local")])).toEqual(expected)
  })

  it("through a server", { timeout: 240_000 }, async () => {
    const server = await startServer(tempDir("cli-history-remote"))
    try {
      expect(await scenario(["--url", server.url])).toEqual(expected)
    } finally {
      await server.stop("SIGKILL")
    }
  })
})
