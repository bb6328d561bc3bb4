/**
 * The executable's entry. `--version` alone is answered before anything else loads: the CLI's command tree, Effect
 * and the platform take most of a cold start (bench's cold-start scenario), and a version probe (a package manager,
 * an install script, a health check) needs none of them. Everything else loads the CLI, `--version` among other
 * words included, so its parsing and errors stay the CLI's.
 */
import packageJson from "../../package.json" with { type: "json" }

const words = process.argv.slice(2)
if (words.length === 1 && words[0] === "--version") process.stdout.write(`${packageJson.version}\n`)
else await import("./main.ts")
