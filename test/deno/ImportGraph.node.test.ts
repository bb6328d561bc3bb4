/**
 * The Deno composition runs without Deno's Node compatibility: `deno info` lists no `node:` module and no module of
 * `@effect/platform-node` (or of the PostgreSQL driver) anywhere in the graphs of src/deno.ts and the runnable
 * entry. `deno info` stops at npm packages (it lists their entry files, not their own imports), so a package's
 * internals are not checked here; the Biome override on src/deno/** keeps our own modules honest.
 */
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../..", import.meta.url))
const denoBin = join(root, "node_modules", ".bin", "deno")

interface Graph {
  readonly modules: ReadonlyArray<{
    readonly specifier: string
    readonly dependencies?: ReadonlyArray<{ readonly specifier: string }>
  }>
}

const graphOf = (entry: string): Graph =>
  JSON.parse(execFileSync(denoBin, ["info", "--json", entry], { cwd: root, encoding: "utf8" })) as Graph

const forbidden = (specifier: string) =>
  specifier.startsWith("node:") || /@effect\/platform-node|@effect\/sql-pg|\/node_modules\/pg\//.test(specifier)

describe("the Deno composition's import graph", () => {
  for (const entry of ["src/deno.ts", "src/deno/main.ts"])
    it(`has no node: module and nothing of @effect/platform-node in ${entry}`, () => {
      const graph = graphOf(entry)
      const specifiers = graph.modules.flatMap((m) => [m.specifier, ...(m.dependencies ?? []).map((d) => d.specifier)])
      expect(graph.modules.some((m) => m.specifier.endsWith("/src/storage/WalCore.ts"))).toBe(true)
      expect(specifiers.filter(forbidden)).toEqual([])
    })

  it("would see a node: import if one were there (the Node composition has them)", () => {
    const specifiers = graphOf("src/node.ts").modules.flatMap((m) => (m.dependencies ?? []).map((d) => d.specifier))
    expect(specifiers.filter(forbidden).length).toBeGreaterThan(0)
  })
})
