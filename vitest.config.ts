import { defineConfig } from "vitest/config"

// `*.node.test.ts` files need Node itself (child processes, signals); every other suite runs on Node and on Deno.
const onDeno = "Deno" in globalThis

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: onDeno ? ["test/**/*.node.test.ts", "**/node_modules/**"] : ["**/node_modules/**"],
    // The suites do real fsyncs; the disk, not the CPU, bounds them on the 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
