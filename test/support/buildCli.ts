/**
 * Vitest's global setup for Node: the suites run the CLI as users do, from the build (`npm start` and the package's
 * bin are `dist/bin/model-registry.js`), so the build is made first whenever a source is newer than it. Through
 * bin/model-registry.mjs (tsx, compiling on every start) each CLI process took about 3 s on the 2-core CI machine
 * against 0.6 s, and the CLI and server suites start hundreds of them.
 */
import { execFileSync } from "node:child_process"
import { readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))
export const builtCli = join(root, "dist", "bin", "model-registry.js")

const newestSource = (directory: string): number => {
  let newest = 0
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs)
  }
  return newest
}

export default function setup(): void {
  let built = 0
  try {
    built = statSync(builtCli).mtimeMs
  } catch {
    built = 0
  }
  const sources = Math.max(
    newestSource(join(root, "src")),
    newestSource(join(root, "ui")),
    statSync(join(root, "package.json")).mtimeMs,
  )
  if (built < sources)
    execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, stdio: "inherit" })
}
