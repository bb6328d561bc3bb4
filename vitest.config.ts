import { defineConfig } from "vitest/config"

// `*.node.test.ts` files need Node itself (child processes, signals); `*.deno.test.ts` files need Deno's own APIs
// (its file calls, Deno KV: deno.json enables KV, which vitest's workers under Deno pick up); every other suite runs
// on both.
const onDeno = "Deno" in globalThis

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The CLI and server suites run the built CLI (Node only: Deno runs none of them).
    globalSetup: onDeno ? [] : ["test/support/buildCli.ts"],
    exclude: onDeno
      ? ["test/**/*.node.test.ts", "**/node_modules/**"]
      : ["test/**/*.deno.test.ts", "**/node_modules/**"],
    // The suites do real fsyncs and wait on child processes; the disk, not the CPU, bounds them on the 2-core machine,
    // so two files run at once (one at a time took the node suite from 427 s to 577 s, CI to 19m50s).
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
