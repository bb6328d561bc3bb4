/**
 * The server's tokens: who may call it and with which role. A token is `NAME:ROLE:SECRET`; its name is the actor
 * every event it writes records (domain/Actor.ts), so names take a closed alphabet that can never spell one of the
 * registry's reserved, parenthesized actors. Pure: the CLI parses flags and a tokens file's text with it, and the
 * server checks what it is given.
 */
import { Either } from "effect"
import { InvalidInput } from "../domain/errors.ts"
import { isRole, type Role, roles } from "./roles.ts"

export { isRole, type Role, roleAllows, roles } from "./roles.ts"

export interface Token {
  readonly name: string
  readonly role: Role
  readonly secret: string
}

/** The name the single-secret form (`--token SECRET`, `MODEL_REGISTRY_TOKEN`) gets, as an admin. */
export const legacyTokenName = "default"

export const tokenNameLengthMax = 64
const tokenNamePattern = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/
/**
 * A secret travels in one header value, which the edge trims: no control characters, and no space at either end,
 * which would never match. Anything else an earlier release accepted still is.
 */
const secretViolation = (secret: string): boolean => {
  if (secret.length === 0 || secret.trim() !== secret) return true
  for (let i = 0; i < secret.length; i++) if (secret.charCodeAt(i) < 0x20 || secret.charCodeAt(i) === 0x7f) return true
  return false
}

const invalid = (field: string, message: string) => Either.left(new InvalidInput({ field, message }))

/** A token from its parts, or why they do not make one (`field` names the flag or file the caller read). */
export const makeToken = (
  field: string,
  name: string,
  role: string,
  secret: string,
): Either.Either<Token, InvalidInput> => {
  if (name.length === 0 || name.length > tokenNameLengthMax || !tokenNamePattern.test(name))
    return invalid(
      field,
      `${field}: token name "${name}" must be 1 to ${tokenNameLengthMax} letters, digits, '.', '_', '@' or '-', starting with a letter or digit`,
    )
  if (!isRole(role))
    return invalid(field, `${field}: token "${name}" has role "${role}"; roles are ${roles.join(", ")}`)
  if (secretViolation(secret))
    return invalid(
      field,
      `${field}: token "${name}" needs a non-empty secret without control characters or spaces at its ends`,
    )
  return Either.right({ name, role, secret })
}

/**
 * One `--token` value: `NAME:ROLE:SECRET`, or, without any ':', the single-secret form of earlier releases, an admin
 * named `default`. A secret that itself holds a ':' is given by the tokens file or `MODEL_REGISTRY_TOKEN`.
 */
export const parseTokenSpec = (spec: string, field = "--token"): Either.Either<Token, InvalidInput> => {
  if (!spec.includes(":")) return makeToken(field, legacyTokenName, "admin", spec)
  const first = spec.indexOf(":")
  const second = spec.indexOf(":", first + 1)
  if (second < 0) return invalid(field, `${field}: expected NAME:ROLE:SECRET (or a bare SECRET without ':')`)
  return makeToken(field, spec.slice(0, first), spec.slice(first + 1, second), spec.slice(second + 1))
}

/**
 * A tokens file's text: one `NAME:ROLE:SECRET` per line (the secret is the rest of the line, so it may hold ':');
 * blank lines and lines starting with '#' are skipped.
 */
export const parseTokensFile = (text: string, file: string): Either.Either<Array<Token>, InvalidInput> => {
  const tokens: Array<Token> = []
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line.length === 0 || line.startsWith("#")) continue
    const field = `${file}:${i + 1}`
    if (!line.includes(":")) return invalid("tokens-file", `${field}: expected NAME:ROLE:SECRET`)
    const parsed = parseTokenSpec(line, field)
    if (Either.isLeft(parsed))
      return Either.left(new InvalidInput({ field: "tokens-file", message: parsed.left.message }))
    tokens.push(parsed.right)
  }
  return Either.right(tokens)
}

/** Refuses two tokens with one name (two actors alike) or one secret (the secret would name neither for sure). */
export const checkTokens = (tokens: ReadonlyArray<Token>): Either.Either<ReadonlyArray<Token>, InvalidInput> => {
  const names = new Set<string>()
  const secrets = new Set<string>()
  for (const token of tokens) {
    if (names.has(token.name)) return invalid("token", `token: the name "${token.name}" is given twice`)
    if (secrets.has(token.secret)) return invalid("token", `token: "${token.name}" has the secret of another token`)
    names.add(token.name)
    secrets.add(token.secret)
  }
  return Either.right(tokens)
}
