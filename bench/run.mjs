#!/usr/bin/env node
// Starts the benchmarks. bench/ has its own package.json so that better-sqlite3, which compiles from source here
// (about 2 minutes), never slows the root `npm ci`: it is installed the first time the benchmarks run, and again
// whenever bench/package-lock.json changes. Arguments are passed to bench/main.ts (see there); `--cpu-prof`
// profiles the run into bench/results/profiles/.
import { spawnSync } from "node:child_process"
import { existsSync, statSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const bench = dirname(fileURLToPath(import.meta.url))
const lock = join(bench, "package-lock.json")
// npm ci writes this copy of the lock file last, so its presence means a completed install.
const installed = join(bench, "node_modules", ".package-lock.json")

if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  process.stderr.write("bench: installing bench/ dependencies (better-sqlite3 compiles from source, ~2 min)…\n")
  const npm = process.platform === "win32" ? "npm.cmd" : "npm"
  // npm's output goes to stderr: stdout carries only the Markdown report.
  const install = spawnSync(npm, ["ci", "--prefix", bench, "--no-audit", "--no-fund"], { stdio: ["ignore", 2, 2] })
  if (install.status !== 0) process.exit(install.status ?? 1)
}

const args = process.argv.slice(2)
const profile = args.includes("--cpu-prof")
const nodeFlags = [
  "--expose-gc",
  "--import",
  import.meta.resolve("tsx"),
  ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${join(bench, "results", "profiles")}`] : []),
]
const run = spawnSync(
  process.execPath,
  [...nodeFlags, join(bench, "main.ts"), ...args.filter((arg) => arg !== "--cpu-prof")],
  { stdio: "inherit" },
)
process.exit(run.status ?? 1)
