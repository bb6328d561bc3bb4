/**
 * The `model-registry` entry point. Exit codes are part of the interface: 0 ok, 1 usage (bad arguments or
 * input), 2 not found or conflict, 3 storage error (or server unreachable). A SIGTERM or SIGINT interrupts
 * the command, whose finalizers shut it down cleanly (for `serve`: end event streams, drain, fsync, unlock),
 * and a clean shutdown exits 0.
 */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import { ExitCode } from "../effects/errorStatus.ts"
import { root } from "./commands.ts"
import { ExitWith } from "./shared.ts"

let exitCode: number = ExitCode.ok

const program = Command.run(root, { name: "model-registry", version: "0.1.0" })(process.argv).pipe(
  Effect.catchAll((error) =>
    Effect.sync(() => {
      // @effect/cli has already printed its own usage errors; ours were printed by the command.
      exitCode = error instanceof ExitWith ? error.code : ExitCode.usage
    }),
  ),
  Effect.provide(NodeContext.layer),
)

NodeRuntime.runMain(program, {
  disableErrorReporting: false,
  teardown: (exit, onExit) => {
    const failed = Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)
    onExit(failed ? ExitCode.storage : exitCode)
  },
})
