/**
 * The Worker's environment: its bindings and variables read as the registry's and the server's options (once per
 * object instance), and the object a request goes to. A variable that is wrong is refused with `InvalidInput`
 * naming it, before any request is served.
 */
import { Either } from "effect"
import { builtinLifecycles } from "../actors/builtinLifecycles.ts"
import { InvalidInput } from "../domain/errors.ts"
import { type PublicRoute, publicRouteNames } from "../http/serverDefaults.ts"
import { parseTokenSpec, parseTokensFile, type Token } from "../http/tokens.ts"
import { validateWebOptions, type WebServerOptions } from "../http/webHandler.ts"
import type { DurableObjectNamespace } from "./DurableObjectApi.ts"
import type { DurableObjectRegistryOptions } from "./DurableObjectRegistry.ts"

/** The Worker's bindings and variables (wrangler.toml `[vars]`, secrets for the tokens). */
export interface RegistryEnv {
  /** The `RegistryObject` namespace. */
  readonly REGISTRY: DurableObjectNamespace
  /** The object every request goes to: one registry per name (default `default`). */
  readonly REGISTRY_NAME?: string
  /** An admin secret, or one `NAME:ROLE:SECRET` token (a secret: `wrangler secret put MODEL_REGISTRY_TOKEN`). */
  readonly MODEL_REGISTRY_TOKEN?: string
  /** Named tokens, one `NAME:ROLE:SECRET` per line, as a tokens file holds them (a secret as well). */
  readonly MODEL_REGISTRY_TOKENS?: string
  /** A built-in lifecycle by name: `default`, `mlflow-stages` or `approval`. */
  readonly MODEL_REGISTRY_LIFECYCLE?: string
  /** The request body limit in bytes (default 1 MiB). */
  readonly MODEL_REGISTRY_BODY_BYTES_MAX?: string
  /** The SSE keep-alive comments' interval (default 15,000 ms). */
  readonly MODEL_REGISTRY_KEEP_ALIVE_MS?: string
  /**
   * Records appended between snapshots (default 100,000): an evicted object's next request replays the log since the
   * last snapshot, within one request's CPU time, so a registry that is evicted often wants it lower.
   */
  readonly MODEL_REGISTRY_SNAPSHOT_THRESHOLD_RECORDS?: string
  /** The routes served without a token, comma-separated among `healthz`, `docs`, `metrics` (default `healthz,docs`). */
  readonly MODEL_REGISTRY_PUBLIC_ROUTES?: string
}

/** The object requests go to when `REGISTRY_NAME` is not set. */
export const defaultRegistryName = "default"

/** The Worker's `fetch`: every request goes to the registry's object, `REGISTRY_NAME` in the `REGISTRY` namespace. */
export const routeToRegistry = (request: Request, env: RegistryEnv): Promise<Response> =>
  env.REGISTRY.get(env.REGISTRY.idFromName(env.REGISTRY_NAME || defaultRegistryName)).fetch(request)

export interface Configuration {
  readonly registry: DurableObjectRegistryOptions
  readonly server: WebServerOptions
}

const refuse = (field: string, message: string) =>
  Either.left(new InvalidInput({ field, message: `${field}: ${message}` }))

const positiveInteger = (field: string, text: string | undefined): Either.Either<number | undefined, InvalidInput> => {
  if (text === undefined || text === "") return Either.right(undefined)
  const value = Number(text)
  return Number.isSafeInteger(value) && value > 0
    ? Either.right(value)
    : refuse(field, `must be a positive integer, got "${text}"`)
}

/**
 * The registry's and the server's options from the environment, or the first variable that is wrong; a Worker is
 * reachable from the Internet, so one without a token is refused too.
 */
export const configure = (env: RegistryEnv): Either.Either<Configuration, InvalidInput> =>
  Either.gen(function* () {
    const tokens: Array<Token> = []
    const single = env.MODEL_REGISTRY_TOKEN
    // A bare secret is the single-secret form's admin `default`, as `parseTokenSpec` reads one.
    if (single !== undefined && single !== "") tokens.push(yield* parseTokenSpec(single, "MODEL_REGISTRY_TOKEN"))
    if (env.MODEL_REGISTRY_TOKENS !== undefined)
      tokens.push(
        ...(yield* Either.mapLeft(
          parseTokensFile(env.MODEL_REGISTRY_TOKENS, "MODEL_REGISTRY_TOKENS"),
          // The file parser names its field `tokens-file`; here the variable is what is wrong.
          (refused) => new InvalidInput({ field: "MODEL_REGISTRY_TOKENS", message: refused.message }),
        )),
      )
    const lifecycleName = env.MODEL_REGISTRY_LIFECYCLE
    const lifecycle =
      lifecycleName === undefined || lifecycleName === ""
        ? undefined
        : builtinLifecycles.find((candidate) => candidate.name === lifecycleName)
    if (lifecycleName !== undefined && lifecycleName !== "" && lifecycle === undefined)
      return yield* refuse(
        "MODEL_REGISTRY_LIFECYCLE",
        `"${lifecycleName}" is not a built-in lifecycle (${builtinLifecycles.map((l) => l.name).join(", ")})`,
      )
    const bodyBytesMax = yield* positiveInteger("MODEL_REGISTRY_BODY_BYTES_MAX", env.MODEL_REGISTRY_BODY_BYTES_MAX)
    const keepAliveMs = yield* positiveInteger("MODEL_REGISTRY_KEEP_ALIVE_MS", env.MODEL_REGISTRY_KEEP_ALIVE_MS)
    const snapshotThresholdRecords = yield* positiveInteger(
      "MODEL_REGISTRY_SNAPSHOT_THRESHOLD_RECORDS",
      env.MODEL_REGISTRY_SNAPSHOT_THRESHOLD_RECORDS,
    )
    const routes = env.MODEL_REGISTRY_PUBLIC_ROUTES?.split(",")
      .map((route) => route.trim())
      .filter((route) => route !== "")
    const unknownRoute = routes?.find((route) => !(publicRouteNames as ReadonlyArray<string>).includes(route))
    if (unknownRoute !== undefined)
      return yield* refuse(
        "MODEL_REGISTRY_PUBLIC_ROUTES",
        `"${unknownRoute}" is not a public route (${publicRouteNames.join(", ")})`,
      )
    const server = yield* validateWebOptions({
      tokens,
      ...(bodyBytesMax === undefined ? {} : { bodyBytesMax }),
      ...(keepAliveMs === undefined ? {} : { keepAliveMs }),
      ...(routes === undefined ? {} : { publicRoutes: routes as ReadonlyArray<PublicRoute> }),
    })
    return {
      registry: {
        ...(lifecycle === undefined ? {} : { lifecycle }),
        ...(snapshotThresholdRecords === undefined ? {} : { snapshotThresholdRecords }),
      },
      server,
    }
  })
