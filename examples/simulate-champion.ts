/**
 * The champion controller (examples/champion-controller.ts) under the deterministic simulator: MLflow's stages, a
 * faulty disk, power cuts during its steps, its invariants checked after every step and every reopen.
 *
 *   npx tsx examples/simulate-champion.ts                 200 seeds of the controller, then the broken one, caught
 *   npx tsx examples/simulate-champion.ts --seeds=N       N seeds of the controller
 *   npx tsx examples/simulate-champion.ts --seed=S [--broken]   replays one seed, and prints its trace hash
 *
 * Exits non-zero if the controller breaks an invariant, or if the broken controller is not caught.
 */
import { mlflowStages } from "../src/index.ts"
import { runUserSimulation, SimulationFailure, simulate, type UserWorkload } from "../src/testing/index.ts"
import { brokenController, controller, invariants } from "./champion-controller.ts"

const argument = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const broken = process.argv.includes("--broken")
const steps = 12

const options = (workload: UserWorkload, label: string) =>
  ({
    lifecycle: mlflowStages,
    workload,
    invariants,
    steps,
    reproduce: (seed: number) => `reproduce: npx tsx examples/simulate-champion.ts --seed=${seed}${label}`,
  }) as const

const replay = (seed: number) => {
  const result = runUserSimulation({
    ...options(broken ? brokenController : controller, broken ? " --broken" : ""),
    seed,
  })
  console.log(`seed ${seed}: ${result.ok ? "ok" : "FAILED"}, trace ${result.traceHash}`)
  if (!result.ok) console.log(new SimulationFailure(result).message)
  return result.ok
}

const run = () => {
  const seed = argument("seed")
  if (seed !== undefined) return replay(Number(seed)) !== broken
  const started = performance.now()
  const report = simulate({ ...options(controller, ""), seeds: Number(argument("seeds") ?? 200) })
  console.log(
    `controller: ${report.seeds.length} seeds passed (${report.steps} steps, ${report.calls} registry writes, ` +
      `${report.crashes} crashes, ${report.invariantsChecked} invariant checks, ` +
      `${report.ackedWritesChecked} acknowledged writes checked) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  )
  for (let s = 1; s <= 50; s++) {
    const result = runUserSimulation({ ...options(brokenController, " --broken"), seed: s })
    if (result.ok) continue
    console.log(`broken controller: caught at seed ${s}\n${new SimulationFailure(result).message}`)
    return true
  }
  console.log("broken controller: NOT caught in 50 seeds")
  return false
}

if (!run()) process.exitCode = 1
