/**
 * `npm run model-check [-- --versions=N --aliases=K]`: explores every reachable state of one model with N versions
 * (default 4, as in CI) and K aliases (default 2) under each built-in lifecycle, prints the counts, and exits 1 if
 * any invariant is broken.
 */
import { Either } from "effect"
import { builtinLifecycles } from "../src/actors/builtinLifecycles.ts"
import { checkLifecycle } from "../src/testing/modelChecker.ts"

const numberFlag = (name: string, fallback: number) => {
  const flag = process.argv.find((arg) => arg.startsWith(`--${name}=`))
  return flag ? Number(flag.slice(name.length + 3)) : fallback
}
const versions = numberFlag("versions", 4)
const aliases = numberFlag("aliases", 2)
if (!Number.isInteger(versions) || versions < 1 || versions > 6 || !Number.isInteger(aliases) || aliases < 0) {
  console.error("usage: npm run model-check -- [--versions=1..6] [--aliases=0..]")
  process.exit(1)
}
let failed = false
for (const lifecycle of builtinLifecycles) {
  const started = performance.now()
  const checked = checkLifecycle(lifecycle, { versions, aliases })
  if (Either.isLeft(checked)) {
    console.log(`model-check: ${lifecycle.name}: ${checked.left.message}`)
    failed = true
    continue
  }
  const result = checked.right
  const ms = (performance.now() - started).toFixed(0)
  console.log(
    `model-check: ${result.lifecycle}: ${versions} versions, aliases ${result.aliases.join(", ")}: ` +
      `${result.states} states, ${result.transitions} transitions ` +
      `(${result.accepted} accepted, ${result.unchanged} unchanged, ${result.rejected} rejected), ` +
      `${result.violations.length} violations, ${ms} ms`,
  )
  for (const violation of result.violations)
    console.log(`  violation: ${violation.reason}\n    after: ${violation.counterexample.join(" → ") || "(start)"}`)
  failed ||= result.violations.length > 0
}
process.exit(failed ? 1 : 0)
