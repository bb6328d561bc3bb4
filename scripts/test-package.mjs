#!/usr/bin/env node
// The package as a user gets it: `npm pack`, installed from the tarball in a fresh directory outside the repository,
// then used the ways the README says: a plain Node ESM script, a strict TypeScript consumer, Deno, the CLI, and
// every code block of the README (a block that is not meant to run says so in a comment before it:
// `<!-- readme-blocks: not run: why -->`). Prints what it did; exits non-zero at the first failure.
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const own = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
const keep = process.argv.includes("--keep")
const work = mkdtempSync(join(tmpdir(), "registry-consumer-"))
const deno = join(root, "node_modules", ".bin", "deno")

const step = (title) => console.log(`\n== ${title}`)
const run = (command, args, options = {}) => {
  const output = execFileSync(command, args, {
    cwd: work,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    ...options,
  })
  return output
}
const expectIncludes = (text, expected, what) => {
  if (!text.includes(expected))
    throw new Error(`${what}: expected output to include ${JSON.stringify(expected)}, got:\n${text}`)
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

try {
  step("npm pack")
  const packed = JSON.parse(
    run("npm", ["pack", "--json", "--pack-destination", work, root], { stdio: ["ignore", "pipe", "inherit"] }),
  )[0]
  const files = packed.files.map((file) => file.path).sort()
  console.log(`${packed.filename}: ${files.length} files, ${packed.size} bytes packed`)
  const unexpected = files.filter((path) => !/^(dist\/|README\.md$|LICENSE$|package\.json$)/.test(path))
  if (unexpected.length > 0) throw new Error(`the tarball ships files outside its allow-list: ${unexpected.join(", ")}`)
  for (const needed of [
    "LICENSE",
    "README.md",
    "dist/index.js",
    "dist/index.d.ts",
    "dist/node.js",
    "dist/deno.js",
    "dist/testing/index.js",
    "dist/bin/model-registry.js",
    "dist/ui/index.html",
  ])
    if (!files.includes(needed)) throw new Error(`the tarball lacks ${needed}`)

  step("install the tarball in a fresh directory")
  writeFileSync(
    join(work, "package.json"),
    JSON.stringify({
      name: "registry-consumer",
      private: true,
      type: "module",
      dependencies: {
        [own.name]: `file:./${packed.filename}`,
        typescript: own.devDependencies.typescript,
        "@types/node": own.devDependencies["@types/node"],
      },
    }),
  )
  run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline"], { stdio: ["ignore", "ignore", "inherit"] })

  step("(a) a plain Node ESM script")
  writeFileSync(
    join(work, "plain.mjs"),
    `import { openRegistry } from "${own.name}/node"
const directory = process.argv[2]
const first = await openRegistry({ directory })
await first.register({ name: "bert", version: "1.0.0", metrics: { f1: 0.9 } })
await first.register({ name: "bert", version: "1.10.0", metrics: { f1: 0.93 } })
await first.promote("bert", "1.10.0")
await first.close()
const again = await openRegistry({ directory })
console.log((await again.listVersions("bert")).map((v) => v.version + ":" + v.state).join(" "))
await again.close()
`,
  )
  const plain = run(process.execPath, ["plain.mjs", join(work, "plain-data")])
  expectIncludes(plain, "1.0.0:registered 1.10.0:production", "plain Node script")
  console.log(plain.trim())

  step("the README's code blocks")
  const blocks = readmeBlocks(readFileSync(join(root, "README.md"), "utf8"))
  const tsBlocks = blocks.filter((block) => block.run && block.language === "ts")
  const shBlocks = blocks.filter((block) => block.run && block.language === "sh")
  for (const block of blocks.filter((b) => !b.run)) console.log(`not run: README line ${block.line} (${block.why})`)
  mkdirSync(join(work, "readme"))
  const tsFiles = tsBlocks.map((block) => {
    const file = `readme/line-${block.line}.ts`
    writeFileSync(join(work, file), block.code)
    return file
  })

  step("(b) a strict TypeScript consumer type-checks the README's TypeScript (module NodeNext, strict)")
  writeFileSync(
    join(work, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: false,
        types: ["node"],
        outDir: "out",
      },
      include: ["readme"],
    }),
  )
  run(process.execPath, [join(work, "node_modules", "typescript", "bin", "tsc"), "-p", "."], {
    stdio: ["ignore", "inherit", "inherit"],
  })
  console.log(`tsc: ${tsFiles.length} README blocks type-check`)

  step("the README's TypeScript blocks run on Node (compiled by the consumer's tsc)")
  for (const file of tsFiles) {
    const cwd = mkdtempSync(join(work, "run-"))
    const output = run(process.execPath, [join(work, "out", file.replace(/^readme\//, "").replace(/\.ts$/, ".js"))], {
      cwd,
      timeout: 120_000,
    })
    console.log(`${file}: ok\n${indent(output)}`)
  }

  step("(c) Deno runs the README's TypeScript blocks against the installed package")
  writeFileSync(join(work, "deno.json"), JSON.stringify({ nodeModulesDir: "manual" }))
  for (const file of tsFiles) {
    const cwd = mkdtempSync(join(work, "deno-"))
    const output = run(deno, ["run", "-A", "--config", join(work, "deno.json"), join(work, file)], {
      cwd,
      timeout: 120_000,
      env: { ...process.env, NO_COLOR: "1" },
    })
    console.log(`${file}: ok\n${indent(output)}`)
  }

  step("(c') Deno without Node compatibility: the installed package's /deno entry on Deno.serve, files and KV")
  writeFileSync(
    join(work, "deno-serve.ts"),
    `import { layerFile, layerKv, serve } from "${own.name}/deno"
const [directory, kvPath] = Deno.args
for (const registry of [layerFile({ directory }), layerKv({ path: kvPath })]) {
  const server = await serve({ port: 0 }, registry)
  const written = await fetch(\`\${server.url}/models/bert/versions\`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ version: "1.0.0", metrics: { f1: 0.9 } }),
  })
  const read = await (await fetch(\`\${server.url}/models/bert\`)).json()
  console.log(written.status, read.versions.length, read.versions[0].version)
  await server.shutdown()
}
`,
  )
  {
    const cwd = mkdtempSync(join(work, "deno-native-"))
    const output = run(
      deno,
      [
        "run",
        "--allow-net=127.0.0.1",
        `--allow-read=${work}`,
        `--allow-write=${cwd}`,
        "--unstable-kv",
        "--config",
        join(work, "deno.json"),
        join(work, "deno-serve.ts"),
        join(cwd, "data"),
        join(cwd, "registry.kv"),
      ],
      { cwd, timeout: 120_000, env: { ...process.env, NO_COLOR: "1" } },
    )
    if (output.trim() !== "201 1 1.0.0\n201 1 1.0.0") throw new Error(`the Deno server answered:\n${output}`)
    console.log("Deno.serve over a data directory and over Deno KV, with no --allow-env and no Node module: ok")
  }

  step("(d) the CLI from the installed tarball")
  const bin = join(work, "node_modules", ".bin", "model-registry")
  const version = run(bin, ["--version"]).trim()
  if (version !== own.version) throw new Error(`model-registry --version printed ${version}, not ${own.version}`)
  const times = []
  for (let i = 0; i < 5; i++) {
    const started = performance.now()
    run(bin, ["--version"])
    times.push(performance.now() - started)
  }
  console.log(
    `model-registry --version: ${version}, cold start median of 5: ${median(times).toFixed(0)} ms (${times.map((t) => t.toFixed(0)).join(", ")})`,
  )
  const data = join(work, "cli-data")
  run(bin, ["register", "--data", data, "resnet", "1.2.0", "--metrics", '{"accuracy":0.91}', "--tag", "team=vision"])
  run(bin, ["promote", "--data", data, "resnet", "1.2.0"])
  expectIncludes(run(bin, ["list", "--data", data, "resnet"]), "production", "model-registry list")
  run(bin, ["verify", "--data", data])
  console.log("register, promote, list, verify: ok")

  step("(e) JSR: deno publish --dry-run, without --allow-slow-types")
  const jsr = spawnSync(deno, ["publish", "--dry-run", "--allow-dirty"], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  })
  if (jsr.status !== 0) throw new Error(`deno publish --dry-run failed:\n${jsr.stdout}${jsr.stderr}`)
  console.log(
    indent(
      `${jsr.stdout}${jsr.stderr}`
        .split("\n")
        .filter((line) => !line.includes("file:///"))
        .join("\n"),
    ),
  )

  step("(f) the Worker from the installed tarball, bundled as wrangler bundles it, in workerd (Miniflare)")
  writeFileSync(join(work, "worker.mjs"), `export { default, RegistryObject } from "${own.name}/cloudflare"\n`)
  const { bundleWorker } = await import("./bundleWorker.mjs")
  const { Miniflare } = await import("miniflare")
  const worker = new Miniflare({
    modules: true,
    script: await bundleWorker(join(work, "worker.mjs")),
    compatibilityDate: "2026-07-30",
    durableObjects: { REGISTRY: { className: "RegistryObject", useSQLite: true } },
    bindings: { MODEL_REGISTRY_TOKEN: "package-token" },
  })
  try {
    const headers = { authorization: "Bearer package-token", "content-type": "application/json" }
    const created = await worker.dispatchFetch("http://registry.test/models/edge/versions", {
      method: "POST",
      headers,
      body: JSON.stringify({ version: "1.0.0" }),
    })
    const read = await worker.dispatchFetch("http://registry.test/models/edge/versions/1.0.0", { headers })
    const body = await read.json()
    if (created.status !== 201 || body.version !== "1.0.0")
      throw new Error(`the Worker answered ${created.status}, then ${read.status} ${JSON.stringify(body)}`)
    console.log(indent(`POST /models/edge/versions → ${created.status}; GET → ${read.status} ${body.version}`))
  } finally {
    await worker.dispose()
  }

  step("the README's shell blocks, against a server from the installed tarball")
  for (const block of shBlocks) await runAgainstServer(bin, block)
  console.log("\npackage test: ok")
} finally {
  if (keep) console.log(`kept ${work}`)
  else rmSync(work, { recursive: true, force: true })
}

/** The fenced blocks of a Markdown text, each with its language, first line, and whether it is meant to run. */
function readmeBlocks(markdown) {
  const lines = markdown.split("\n")
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i])
    if (open === null) continue
    const end = lines.findIndex((line, j) => j > i && line.startsWith("```"))
    const marker =
      /<!-- readme-blocks: not run: (.*) -->/.exec(lines[i - 1] ?? "") ??
      /<!-- readme-blocks: not run: (.*) -->/.exec(lines[i - 2] ?? "")
    const language = open[1] || "text"
    const why = marker?.[1] ?? (language === "text" ? "" : undefined)
    if (language === "text" && marker === null)
      throw new Error(`README line ${i + 1}: a block without a language must say why it is not run`)
    blocks.push({ language, line: i + 1, code: `${lines.slice(i + 1, end).join("\n")}\n`, run: why === undefined, why })
    i = end
  }
  return blocks
}

/** The first lines of a block's output, indented: enough to see it ran, not the whole metrics page. */
function indent(text) {
  const lines = text.trim().split("\n")
  const shown = lines.slice(0, 12).map((line) => `    ${line.slice(0, 160)}`)
  if (lines.length > shown.length) shown.push(`    … ${lines.length - shown.length} more lines`)
  return shown.join("\n")
}

/**
 * Runs a shell block against `serve` on a free port in a fresh directory: `localhost:8080` in the block becomes the
 * server's address, and curl gets a time limit, because `/events` streams until the client leaves (a timed-out
 * `curl -N` counts as success).
 */
async function runAgainstServer(bin, block) {
  const cwd = mkdtempSync(join(work, "sh-"))
  const server = spawn(bin, ["serve", "--data", join(cwd, "data"), "--port", "0", "--json"], { cwd })
  try {
    const url = await new Promise((resolve, reject) => {
      let out = ""
      server.stdout.on("data", (chunk) => {
        out += chunk
        const match = /"url":"(http:\/\/[^"]+)"/.exec(out)
        if (match) resolve(match[1])
      })
      server.on("exit", (code) => reject(new Error(`serve exited with ${code} before listening: ${out}`)))
    })
    const script = `set -euo pipefail
curl() {
  local streaming=0; for arg in "$@"; do [ "$arg" = "-N" ] && streaming=1; done
  if [ $streaming = 1 ]; then command curl --silent --show-error --max-time 2 "$@" || [ $? = 28 ]; else command curl --silent --show-error --fail-with-body --max-time 10 "$@"; fi
  echo
}
${block.code.replaceAll("localhost:8080", url.replace(/^http:\/\//, ""))}`
    const output = execFileSync("bash", ["-c", script], { cwd, encoding: "utf8", timeout: 60_000 })
    console.log(`README line ${block.line}: ok\n${indent(output)}`)
  } finally {
    server.kill("SIGTERM")
    await new Promise((resolve) => (server.exitCode === null ? server.on("exit", resolve) : resolve()))
  }
}
