/**
 * The server's tokens as `serve` is given them: `--token` values, `MODEL_REGISTRY_TOKEN`, and a tokens file.
 * The file is read here (Node), its text parsed by http/tokens.ts.
 */
import { readFile, stat } from "node:fs/promises"
import { Effect, Either, type Option } from "effect"
import { InvalidInput } from "../domain/errors.ts"
import { parseTokenSpec, parseTokensFile, type Token } from "../http/tokens.ts"

/**
 * A tokens file holds secrets: one other users may read (or write) is refused, as ssh refuses such a key, rather
 * than served from. Where the runtime reports no POSIX mode (Windows), the check cannot apply.
 */
export const readTokensFile = (file: string): Effect.Effect<Array<Token>, InvalidInput> =>
  Effect.tryPromise({
    try: async () => {
      const info = await stat(file)
      return { mode: info.mode, text: await readFile(file, "utf8") }
    },
    catch: (error) =>
      new InvalidInput({ field: "tokens-file", message: `tokens-file: cannot read ${file}: ${String(error)}` }),
  }).pipe(
    Effect.flatMap(({ mode, text }) =>
      process.platform !== "win32" && (mode & 0o007) !== 0
        ? Effect.fail(
            new InvalidInput({
              field: "tokens-file",
              message: `tokens-file: ${file} is open to other users (mode ${(mode & 0o777).toString(8)}); chmod o-rwx it`,
            }),
          )
        : parseTokensFile(text, file),
    ),
  )

/**
 * Every token given: each `--token`, else `MODEL_REGISTRY_TOKEN` as a bare secret (an environment's value was
 * always the whole secret, so existing deployments keep working whatever it holds), then the file's.
 */
export const tokensOf = (
  flags: ReadonlyArray<string>,
  env: Option.Option<string>,
  fromFile: ReadonlyArray<Token>,
): Either.Either<Array<Token>, InvalidInput> => {
  const given = flags.map((spec) => parseTokenSpec(spec))
  if (flags.length === 0 && env._tag === "Some" && env.value.length > 0)
    given.push(
      parseTokenSpec(env.value.includes(":") ? `default:admin:${env.value}` : env.value, "MODEL_REGISTRY_TOKEN"),
    )
  return Either.map(Either.all(given), (tokens) => [...tokens, ...fromFile])
}
