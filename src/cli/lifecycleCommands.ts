/**
 * `lifecycle check` (the model checker on a built-in lifecycle or the user's module, before any registry runs it)
 * and `lifecycle show` (its Mermaid diagram, or the one a server runs).
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Either, Option } from "effect"
import { InvalidLifecycle } from "../domain/errors.ts"
import { type CliFailure, failure } from "./client.ts"
import { loadLifecycle } from "./lifecycleOption.ts"
import * as Output from "./output.ts"
import { json, reported, token, usage } from "./shared.ts"

const spec = Args.text({ name: "lifecycle" }).pipe(
  Args.withDescription("default, mlflow-stages, approval, or a path to a module whose default export is a lifecycle"),
)

/** The checker's state space grows fast: six versions of a five-state lifecycle already take minutes. */
const versionsMax = 6
const aliasesMax = 4
/** Each is a shortest path to its violation; a few show whether they share a cause. */
const violationsMax = 3

const bounded = (flag: string, value: number, min: number, max: number): Effect.Effect<number, CliFailure> =>
  Number.isInteger(value) && value >= min && value <= max
    ? Effect.succeed(value)
    : Effect.fail(usage(`--${flag}: must be an integer from ${min} to ${max}`))

const check = Command.make(
  "check",
  {
    spec,
    versions: Options.integer("versions").pipe(
      Options.withDescription(`versions of one model explored (1..${versionsMax})`),
      Options.withDefault(4),
    ),
    aliases: Options.integer("aliases").pipe(
      Options.withDescription(`alias names explored: the declared ones first (0..${aliasesMax})`),
      Options.withDefault(2),
    ),
    json,
  },
  (o) =>
    reported(
      o.json,
      Effect.gen(function* () {
        const versions = yield* bounded("versions", o.versions, 1, versionsMax)
        const aliases = yield* bounded("aliases", o.aliases, 0, aliasesMax)
        const definition = yield* loadLifecycle(o.spec, "lifecycle")
        const { checkLifecycle } = yield* Effect.promise(() => import("../actors/lifecycleChecker.ts"))
        const checked = checkLifecycle(definition, { versions, aliases, violationsMax })
        if (Either.isLeft(checked)) return yield* Effect.fail(failure(checked.left))
        const result = checked.right
        yield* Output.print(o.json, result, () =>
          [
            `lifecycle ${result.lifecycle}: ${result.versions} versions, aliases ${result.aliases.join(", ") || "none"}`,
            `  ${result.states} states, ${result.transitions} transitions (${result.accepted} accepted, ${result.unchanged} unchanged, ${result.rejected} rejected)`,
            `  ${result.violations.length} violations`,
            ...result.violations.flatMap((violation) => [
              `  violation: ${violation.reason}`,
              `    after: ${violation.counterexample.join(" → ") || "(start)"}`,
            ]),
          ].join("\n"),
        )
        const first = result.violations[0]
        if (first !== undefined)
          return yield* Effect.fail(failure(new InvalidLifecycle({ lifecycle: result.lifecycle, ...first })))
      }),
    ),
).pipe(
  Command.withDescription(
    "model-check a lifecycle: every reachable state of one model, counts printed; non-zero exit with the counterexample",
  ),
)

const url = Options.text("url").pipe(
  Options.withDescription("show the lifecycle this server runs (GET /lifecycle?format=mermaid)"),
  Options.optional,
)

const show = Command.make("show", { spec: Args.optional(spec), url, token }, (o) =>
  reported(
    false,
    Effect.gen(function* () {
      if (Option.isSome(o.url)) {
        if (Option.isSome(o.spec)) return yield* Effect.fail(usage("give a lifecycle or --url, not both"))
        const { remote } = yield* Effect.promise(() => import("./remoteClient.ts"))
        const client = yield* remote(o.url.value, o.token)
        return yield* Effect.flatMap(client.lifecycleDiagram, (text) => Console.log(text.trimEnd()))
      }
      const definition = yield* loadLifecycle(
        Option.getOrElse(o.spec, () => "default"),
        "lifecycle",
      )
      const [{ compileLifecycle, describeLifecycle }, { lifecycleMermaid }] = yield* Effect.promise(() =>
        Promise.all([import("../actors/lifecycleDefinition.ts"), import("../actors/lifecycleDiagram.ts")]),
      )
      const compiled = compileLifecycle(definition)
      if (Either.isLeft(compiled)) return yield* Effect.fail(failure(compiled.left))
      yield* Console.log(lifecycleMermaid(describeLifecycle(compiled.right)).trimEnd())
    }),
  ),
).pipe(Command.withDescription("print a lifecycle as a Mermaid stateDiagram-v2 (default: the default lifecycle)"))

export const lifecycleCommand = Command.make("lifecycle").pipe(
  Command.withDescription("check or draw a lifecycle"),
  Command.withSubcommands([check, show]),
)
