/**
 * Model names. They end up in URLs, log lines and (through observers) file names, so the alphabet is closed:
 * it can never contain a path separator, "..", a NUL or whitespace.
 */
import { Schema } from "effect"

export const modelNameLengthMax = 128

const modelNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/**
 * Why `text` is not a model name, or `undefined`. The one statement of the rule: the Schema below and the
 * register fast path (fastDecode.ts) both ask it, so they cannot drift apart.
 */
export const modelNameViolation = (text: string): string | undefined => {
  if (text.length === 0) return "must not be empty"
  if (text.length > modelNameLengthMax) return `must be at most ${modelNameLengthMax} characters`
  return modelNamePattern.test(text)
    ? undefined
    : "must start with a letter or digit and contain only letters, digits, '.', '_' and '-'"
}

export const isModelName = (value: unknown): value is string =>
  typeof value === "string" && modelNameViolation(value) === undefined

export const ModelName: Schema.brand<Schema.filter<typeof Schema.String>, "ModelName"> = Schema.String.pipe(
  Schema.filter((text) => modelNameViolation(text) ?? true, {
    identifier: "ModelName",
    jsonSchema: { minLength: 1, maxLength: modelNameLengthMax, pattern: modelNamePattern.source },
  }),
  Schema.brand("ModelName"),
)
export type ModelName = typeof ModelName.Type
