/**
 * Bundles a Worker module for workerd, as wrangler would: one ES module, resolved with the conditions Cloudflare's
 * own bundler uses, and `cloudflare:*` left to the runtime. The tests load it into Miniflare (test/cloudflare), and
 * so do the package test and the benchmarks; a deploy goes through wrangler, which bundles the same way itself.
 * Plain JavaScript, so that scripts run by Node alone (scripts/test-package.mjs) can use it.
 */
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"

const root = fileURLToPath(new URL("..", import.meta.url))

/**
 * esbuild's options for a Worker module, as wrangler bundles one; the bench adds `minify` and a metafile to them.
 * @type {import("esbuild").BuildOptions}
 */
export const workerBuildOptions = {
  bundle: true,
  format: "esm",
  platform: "neutral",
  conditions: ["workerd", "worker", "browser"],
  // Neutral resolves no `main` by default; `semver` has nothing else.
  mainFields: ["module", "main"],
  target: "es2022",
  external: ["cloudflare:*"],
}

/**
 * The bundled module's source, for `new Miniflare({ modules: true, script })`. `entry` is relative to the repository,
 * or absolute (its imports resolve from where it is, e.g. an app's own node_modules).
 * @param {string} entry
 * @returns {Promise<string>}
 */
export const bundleWorker = async (entry) => {
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [entry],
    ...workerBuildOptions,
    write: false,
    logLevel: "warning",
  })
  const [output] = result.outputFiles
  if (output === undefined) throw new Error(`esbuild produced no output for ${entry}`)
  return output.text
}
