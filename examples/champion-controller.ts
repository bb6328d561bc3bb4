/**
 * A promotion controller, written the way a team would write its own, and the invariants it must keep. It runs under
 * MLflow's stages: each step a training job registers a candidate with its accuracy and stages some of them; the
 * controller promotes the best staged version only if it beats production, archives staged versions that do not,
 * and keeps the `champion` alias on production. `brokenController` is the same controller without the metric check:
 * it promotes the newest staged version whatever its accuracy. examples/simulate-champion.ts runs both under the
 * simulator.
 */
import { Effect, Option } from "effect"
import type { ModelRegistry, ModelVersion } from "../src/index.ts"
import type { Invariant, Prng, RegistryView, UserWorkload } from "../src/testing/index.ts"

export const model = "churn"

const accuracy = (version: ModelVersion | undefined): number => {
  const value = version?.metrics.accuracy
  return typeof value === "number" ? value : Number.NEGATIVE_INFINITY
}

/** What a controller decides from the versions it reads: the staged version to promote, if any. */
type Choose = (staged: ReadonlyArray<ModelVersion>, production: ModelVersion | undefined) => ModelVersion | undefined

const bestThatBeatsProduction: Choose = (staged, production) => {
  const best = staged.reduce<ModelVersion | undefined>((a, b) => (accuracy(b) > accuracy(a) ? b : a), undefined)
  return best !== undefined && accuracy(best) > accuracy(production) ? best : undefined
}

/** The bug under test: the newest staged version goes to production, better or not. */
const newestStaged: Choose = (staged) => staged.at(-1)

/**
 * One reconciliation pass: read the model, promote what `choose` picks, archive the staged versions that lost, and
 * point `champion` at production. It keeps no state of its own, so a crash between two of its writes is repaired by
 * the next pass.
 */
const reconcile = (registry: ModelRegistry.ModelRegistry, choose: Choose) =>
  Effect.gen(function* () {
    const versions = yield* registry.listVersions(model)
    const staged = versions.filter((v) => v.state === "staging")
    let production = versions.find((v) => v.state === "production")
    const chosen = choose(staged, production)
    if (chosen !== undefined) {
      yield* registry.transition(model, chosen.version, "promote")
      production = chosen
    }
    for (const loser of staged)
      if (loser !== chosen && accuracy(loser) <= accuracy(production))
        yield* registry.transition(model, loser.version, "archive")
    if (production !== undefined && !production.aliases.includes("champion"))
      yield* registry.setAlias(model, "champion", production.version)
  })

/**
 * A step: the training job registers version `1.<step>.0` with a seeded accuracy and stages it half the time, then
 * the controller runs. A step that a fault or a crash interrupts just ends; the next one starts from what the
 * registry kept.
 */
const step =
  (choose: Choose): UserWorkload =>
  (registry, random: Prng, n) =>
    Effect.gen(function* () {
      const version = `1.${n}.0`
      const score = Math.round(random.next() * 1000) / 1000
      yield* registry.register({ name: model, version, metrics: { accuracy: score } })
      if (random.chance(0.5)) yield* registry.transition(model, version, "stage")
      yield* reconcile(registry, choose)
    })

export const controller: UserWorkload = step(bestThatBeatsProduction)
export const brokenController: UserWorkload = step(newestStaged)

/** Production holds the most accurate version ever promoted: no promotion ever made the model worse. */
export const productionIsTheBestEverPromoted: Invariant = (view: RegistryView) => {
  const versions = view.versions.get(model) ?? []
  const promoted = new Set(
    view.events.flatMap((e) => (e._tag === "Transitioned" && e.to === "production" ? [e.version] : [])),
  )
  const best = Math.max(...versions.filter((v) => promoted.has(v.version)).map(accuracy))
  const production = versions.find((v) => v.state === "production")
  if (production === undefined || accuracy(production) === best) return undefined
  return `production ${production.version} has accuracy ${accuracy(production)}, but ${best} was promoted before`
}

/** `champion`, when set, names the production version (the registry clears it when production is archived). */
export const championIsProduction: Invariant = (view: RegistryView) => {
  const champion = view.models.find((m) => m.name === model)?.aliases.champion
  const production = Option.fromNullable(view.models.find((m) => m.name === model)?.production)
  if (champion === undefined || Option.contains(production, champion)) return undefined
  return `champion names ${champion}, production is ${Option.getOrElse(production, () => "nobody")}`
}

export const invariants: ReadonlyArray<Invariant> = [productionIsTheBestEverPromoted, championIsProduction]
