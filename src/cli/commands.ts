/**
 * The `model-registry` command tree (@effect/cli). Failures carry the wire error detail; `ExitWith` carries the
 * documented exit code to main.
 */
import { Command } from "@effect/cli"
import {
  aliasCommand,
  annotate,
  annotateModel,
  archive,
  deprecate,
  get,
  history,
  list,
  production,
  promote,
  register,
  restore,
  search,
  transition,
  watch,
} from "./dataCommands.ts"
import { lifecycleCommand } from "./lifecycleCommands.ts"
import { compact, verifyCommand, wal } from "./maintenanceCommands.ts"
import { serve } from "./serveCommand.ts"

export const root = Command.make("model-registry").pipe(
  Command.withDescription(
    "a crash-proof registry of ML model versions. Exit codes: 0 ok, 1 usage, 2 not found or conflict, 3 storage error",
  ),
  Command.withSubcommands([
    serve,
    register,
    promote,
    deprecate,
    get,
    production,
    list,
    search,
    watch,
    verifyCommand,
    compact,
    wal,
    transition,
    aliasCommand,
    annotate,
    annotateModel,
    archive,
    restore,
    history,
    lifecycleCommand,
  ]),
)
