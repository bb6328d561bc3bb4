/**
 * `npm run model-check [-- --versions=N]`: explores every reachable lifecycle state of one model with up to
 * N versions (default 4, as in CI), prints the counts, and exits 1 if any invariant is broken.
 */
import { checkLifecycle } from "../src/testing/modelChecker.ts"

const flag = process.argv.find((arg) => arg.startsWith("--versions="))
const versionsMax = flag ? Number(flag.slice("--versions=".length)) : 4
if (!Number.isInteger(versionsMax) || versionsMax < 1 || versionsMax > 6) {
  console.error("usage: npm run model-check -- [--versions=1..6]")
  process.exit(1)
}
let failed = false
for (let versions = 1; versions <= versionsMax; versions++) {
  const started = performance.now()
  const result = checkLifecycle({ versions })
  const ms = (performance.now() - started).toFixed(0)
  console.log(
    `model-check: ${versions} version(s): ${result.states} states, ${result.transitions} transitions ` +
      `(${result.accepted} accepted, ${result.unchanged} unchanged, ${result.rejected} rejected), ` +
      `${result.violations.length} violations, ${ms} ms`,
  )
  for (const violation of result.violations.slice(0, 10)) console.log(`  violation: ${violation}`)
  failed ||= result.violations.length > 0
}
process.exit(failed ? 1 : 0)
