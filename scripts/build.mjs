#!/usr/bin/env node
// The package build: the library as tsc's JavaScript, declarations and source maps (dist/, one file per module, so an
// app's bundler keeps only what it imports), and the CLI as one tree-shaken esbuild bundle (dist/bin/), because
// loading Effect's barrels module by module costs a second before `--version` could answer. Command
// implementations are imported lazily (src/cli/commands.ts), so esbuild splits them into chunks loaded on demand.
// Last, the web UI (ui/) as static assets in dist/ui/, which `serve` answers at /ui/: shipped built, so it works
// offline and needs nothing at run time.
import { execFileSync } from "node:child_process"
import { rmSync } from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"
import { build as vite } from "vite"

const root = fileURLToPath(new URL("..", import.meta.url))
const require = createRequire(import.meta.url)

rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true })
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
  cwd: root,
  stdio: "inherit",
})
await esbuild.build({
  absWorkingDir: root,
  entryPoints: { "model-registry": "src/cli/bin.ts" },
  outdir: "dist/bin",
  bundle: true,
  splitting: true,
  minify: true,
  sourcemap: "linked",
  sourcesContent: false,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
  // Some bundled dependencies are CommonJS and call `require` for Node's built-ins, which an ES module lacks.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
})
// Vite builds for whatever NODE_ENV says, and vitest's global setup runs this build with NODE_ENV=test, which made a
// bundle with Preact's devtools and development JSX (58 KB against 35 KB): the package always ships production.
process.env.NODE_ENV = "production"
await vite({ configFile: fileURLToPath(new URL("../ui/vite.config.ts", import.meta.url)), mode: "production" })
