/** Reading outcomes in tests and in the simulator: which tagged error an Exit failed with. */
import { Cause, Exit, Option } from "effect"

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : undefined

/** The `_tag` of an Exit's typed failure; `undefined` for a success, a defect or an interruption. */
export const failureTag = (exit: Exit.Exit<unknown, unknown>): string | undefined =>
  Exit.isFailure(exit) ? tagOf(Option.getOrUndefined(Cause.failureOption(exit.cause))) : undefined

/** The typed failure of an Exit, if it has one. */
export const failureOf = <E>(exit: Exit.Exit<unknown, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
