/**
 * Which lifecycle a command runs: `--lifecycle default|mlflow-stages|approval|./path/to/module.js` (a module whose
 * default export is a lifecycle definition) and `--lifecycle-map old=new,…` (the state mapping that moves a directory
 * written under another lifecycle). `serve`, the data commands on a directory and `lifecycle check|show` share them.
 */
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { Options } from "@effect/cli"
import { Effect, Option } from "effect"
import type { LifecycleDefinition, LifecycleMapping } from "../effects/ModelRegistry.ts"
import type { CliFailure } from "./client.ts"
import { usage } from "./shared.ts"

export const builtinNames = ["default", "mlflow-stages", "approval"] as const

export const lifecycleFlag = Options.text("lifecycle").pipe(
  Options.withDescription(
    `the lifecycle versions follow: ${builtinNames.join(", ")}, or a path to a module whose default export is one (default: default)`,
  ),
  Options.optional,
)

export const lifecycleMapFlag = Options.text("lifecycle-map").pipe(
  Options.withDescription(
    "open a directory written under another lifecycle, moving its versions' states: old=new,… (recorded as an event)",
  ),
  Options.optional,
)

const looksLikePath = (spec: string) => /[\\/]/.test(spec) || /\.[cm]?[jt]s$/.test(spec)

const isDefinition = (value: unknown): value is LifecycleDefinition =>
  typeof value === "object" && value !== null && "name" in value && "machine" in value

/** The built-in lifecycle of that name, or the default export of the module at that path; `given` names the flag. */
export const loadLifecycle = (spec: string, given = "--lifecycle"): Effect.Effect<LifecycleDefinition, CliFailure> =>
  Effect.gen(function* () {
    if (!looksLikePath(spec)) {
      const { builtinLifecycles } = yield* Effect.promise(() => import("../actors/builtinLifecycles.ts"))
      const found = builtinLifecycles.find((lifecycle) => lifecycle.name === spec)
      if (found !== undefined) return found
      return yield* Effect.fail(
        usage(
          `${given}: "${spec}" is neither a built-in lifecycle (${builtinNames.join(", ")}) nor a path to a module (./lifecycle.js)`,
        ),
      )
    }
    const url = pathToFileURL(resolve(spec)).href
    const module = yield* Effect.tryPromise({
      try: (): Promise<{ readonly default?: unknown }> => import(url),
      catch: (error) =>
        usage(`${given}: cannot load ${spec}: ${error instanceof Error ? error.message.split("\n")[0] : error}`),
    })
    if (!isDefinition(module.default))
      return yield* Effect.fail(
        usage(`${given}: ${spec} must export a lifecycle as its default export (export default defineLifecycle(…))`),
      )
    return module.default
  })

/**
 * `registered=none,production=production`: each state the directory's versions are in, and its new name. Empty
 * (`--lifecycle-map ""`) moves a directory that holds no version yet.
 */
export const parseMapping = (text: string): Effect.Effect<LifecycleMapping, CliFailure> => {
  const mapping: Record<string, string> = {}
  if (text.trim() === "") return Effect.succeed(mapping)
  for (const pair of text.split(",").map((item) => item.trim())) {
    const [from, to, ...rest] = pair.split("=").map((side) => side.trim())
    if (!from || !to || rest.length > 0)
      return Effect.fail(
        usage(`--lifecycle-map: must be old=new pairs, e.g. registered=none,deprecated=archived (got "${pair}")`),
      )
    mapping[from] = to
  }
  return Effect.succeed(mapping)
}

/** The registry options the two flags give: none when neither is set, so the default lifecycle runs. */
export const lifecycleOptions = (flags: {
  readonly lifecycle: Option.Option<string>
  readonly lifecycleMap: Option.Option<string>
}): Effect.Effect<
  { readonly lifecycle?: LifecycleDefinition; readonly lifecycleMapping?: LifecycleMapping },
  CliFailure
> =>
  Effect.all({
    lifecycle: Option.match(flags.lifecycle, {
      onNone: () => Effect.succeed(undefined),
      onSome: (spec) => loadLifecycle(spec),
    }),
    lifecycleMapping: Option.match(flags.lifecycleMap, {
      onNone: () => Effect.succeed(undefined),
      onSome: parseMapping,
    }),
  }).pipe(
    Effect.map(({ lifecycle, lifecycleMapping }) => ({
      ...(lifecycle === undefined ? {} : { lifecycle }),
      ...(lifecycleMapping === undefined ? {} : { lifecycleMapping }),
    })),
  )
