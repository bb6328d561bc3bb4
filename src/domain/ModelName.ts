/**
 * Model names. They end up in URLs, log lines and (through observers) file names, so the alphabet is closed:
 * it can never contain a path separator, "..", a NUL or whitespace.
 */
import { Schema } from "effect"

export const modelNameLengthMax = 128

export const ModelName = Schema.String.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(modelNameLengthMax, { message: () => `must be at most ${modelNameLengthMax} characters` }),
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
    message: () => "must start with a letter or digit and contain only letters, digits, '.', '_' and '-'",
  }),
  Schema.brand("ModelName"),
)
export type ModelName = typeof ModelName.Type
