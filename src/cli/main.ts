/**
 * The `model-registry` entry point. Exit codes are part of the interface: 0 ok, 1 usage (bad arguments or
 * input), 2 not found or conflict, 3 storage error (or server unreachable). A SIGTERM or SIGINT interrupts
 * the command, whose finalizers shut it down cleanly (for `serve`: end event streams, drain, fsync, unlock),
 * and a clean shutdown exits 0.
 */
import { Command } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, type Console, Effect, Exit } from "effect"
import packageJson from "../../package.json" with { type: "json" }
import { ExitCode } from "../effects/errorStatus.ts"
import { root } from "./commands.ts"
import { ExitWith } from "./shared.ts"

let exitCode: number = ExitCode.ok

const name = "model-registry"
const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g")
const wantsColour = process.stdout.isTTY === true && (process.env.NO_COLOR ?? "") === ""
const words = process.argv.slice(2)
const helpAsked = words.includes("--help") || words.includes("-h")

/**
 * @effect/cli 0.77.2 prints a subcommand's usage under that subcommand's name alone (`$ dump …`), which runs
 * nothing; the usage line names it in full (`$ model-registry wal dump …`), from the words that chose it.
 */
const fullUsage = (text: string) =>
  text.replace(new RegExp(`^\\$ (?!${name}\\b)(\\S+)`, "m"), (_, leaf: string) => {
    const at = words.indexOf(leaf)
    const path = at > 0 && words.slice(0, at).every((word) => !word.startsWith("-")) ? words.slice(0, at) : []
    return `$ ${[name, ...path, leaf].join(" ")}`
  })

/**
 * @effect/cli colours its help and usage errors whatever the output is. Colour is for a person at a terminal, so
 * it is removed when stdout is not one, and whenever NO_COLOR is set (no-color.org).
 */
const rendered = (arg: unknown) => {
  if (typeof arg !== "string") return arg
  const text = wantsColour ? arg : arg.replace(ansi, "")
  return helpAsked ? fullUsage(text) : text
}

const helpful = (console: Console.Console): Console.Console => ({
  ...console,
  log: (...args) => console.log(...args.map(rendered)),
  error: (...args) => console.error(...args.map(rendered)),
  info: (...args) => console.info(...args.map(rendered)),
  warn: (...args) => console.warn(...args.map(rendered)),
})

const program = Command.run(root, { name, version: packageJson.version })(process.argv).pipe(
  Effect.catchAll((error) =>
    Effect.sync(() => {
      // @effect/cli has already printed its own usage errors; ours were printed by the command.
      exitCode = error instanceof ExitWith ? error.code : ExitCode.usage
    }),
  ),
  (cli) =>
    wantsColour && !helpAsked
      ? cli
      : Effect.flatMap(Effect.console, (console) => Effect.withConsole(cli, helpful(console))),
  Effect.provide(NodeContext.layer),
)

NodeRuntime.runMain(program, {
  disableErrorReporting: false,
  teardown: (exit, onExit) => {
    const failed = Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)
    onExit(failed ? ExitCode.storage : exitCode)
  },
})
