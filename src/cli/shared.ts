/**
 * What every command shares: the common options and arguments, and how a failure is reported (printed the
 * way the user asked, then `ExitWith` carries the documented exit code to main).
 */
import { Args, Options } from "@effect/cli"
import { Config, Data, Effect, Option } from "effect"
import { translate } from "../effects/errorStatus.ts"
import { CliFailure } from "./client.ts"
import * as Output from "./output.ts"

/** Ends the program with this exit code after the command printed its own message. */
export class ExitWith extends Data.TaggedError("ExitWith")<{ readonly code: number }> {}

/**
 * `Options.withDefault` with the default shown in the help: @effect/cli 0.77.2 prints "Defaults to" only for a
 * fallback that is itself an `Option`, so the default goes in as one and comes out as the value.
 */
export const withShownDefault =
  <A>(fallback: A) =>
  (self: Options.Options<A>): Options.Options<A> =>
    self.pipe(
      Options.withDefault(Option.some(fallback)),
      Options.map((value) => (Option.isOption(value) ? Option.getOrElse(value, () => fallback) : value)),
    )

export const json = Options.boolean("json").pipe(Options.withDescription("machine output: one JSON document per line"))
const data = Options.text("data").pipe(
  Options.withDescription("data directory (local mode; takes the directory's lock; default: ./data without --url)"),
  Options.optional,
)
export const dataRequired = Options.text("data").pipe(Options.withDescription("data directory"))
const url = Options.text("url").pipe(
  Options.withDescription("server URL, e.g. http://127.0.0.1:8080 (remote mode)"),
  Options.optional,
)
export const token = Options.text("token").pipe(
  Options.withDescription("bearer token (default: $MODEL_REGISTRY_TOKEN)"),
  Options.withFallbackConfig(Config.string("MODEL_REGISTRY_TOKEN")),
  Options.optional,
)
export const connection = { data, url, token, json }

export const name = Args.text({ name: "name" }).pipe(Args.withDescription("model name"))
export const version = Args.text({ name: "version" }).pipe(Args.withDescription("SemVer 2.0.0 version, e.g. 1.2.0"))

export const usage = (message: string) => new CliFailure({ detail: { tag: "InvalidInput", message } })

/** Prints the failure the way the user asked and turns it into the documented exit code. */
export const reported = <A, R>(asJson: boolean, effect: Effect.Effect<A, CliFailure, R>) =>
  Effect.catchAll(effect, (error) =>
    Effect.zipRight(
      Output.errorOutput(error.detail, asJson),
      Effect.fail(new ExitWith({ code: translate(error.detail.tag).exit })),
    ),
  )
