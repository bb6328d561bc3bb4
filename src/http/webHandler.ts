/**
 * The HTTP API as a fetch handler, `(Request) => Promise<Response>`, for runtimes that serve with one: `Deno.serve`
 * (src/deno.ts) and a Cloudflare Durable Object (src/cloudflare.ts). It is the same API as the Node server, the same
 * declaration, edge and handlers (src/http/edge.ts), through `HttpApiBuilder.toWebHandler`; only the body reading
 * differs (src/http/webHost.ts). Runtime-neutral: no `node:` module, no runtime global.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Cause, type Context, Deferred, Effect, Either, Exit, Layer, Option, Scope } from "effect"
import { InvalidInput, RegistryClosed } from "../domain/errors.ts"
import { detailOf } from "../effects/errorStatus.ts"
import type { ModelRegistry } from "../effects/ModelRegistry.ts"
import { makeAuthenticator } from "./bearerToken.ts"
import {
  apiLayer,
  configuredTokens,
  type EdgeOptions,
  edge,
  routerConfig,
  rulesOf,
  validateEdgeOptions,
} from "./edge.ts"
import { errorResponse } from "./errorResponse.ts"
import { ServerSettings } from "./handlers.ts"
import { defaultBodyBytesMax, defaultKeepAliveMs, type PublicRoute } from "./serverDefaults.ts"
import type { Token } from "./tokens.ts"
import { layerWebHost } from "./webHost.ts"

export interface WebServerOptions {
  /** The single-secret form: an admin token named `default`. */
  readonly token?: string
  /** Named tokens and their roles (src/http/tokens.ts); each token's name is the actor of the events it writes. */
  readonly tokens?: ReadonlyArray<Token>
  /** 1 MiB if not given. */
  readonly bodyBytesMax?: number
  /** Interval of SSE keep-alive comments, so proxies do not drop idle streams. */
  readonly keepAliveMs?: number
  readonly allowOrigins?: ReadonlyArray<string>
  readonly allowHosts?: ReadonlyArray<string>
  readonly publicRoutes?: ReadonlyArray<PublicRoute>
  /**
   * The handler is reachable from this machine alone (a `Deno.serve` on a loopback address): no token is required,
   * and only loopback host names are served. Otherwise, as at the edge, a token is required.
   */
  readonly loopbackOnly?: boolean
}

export interface WebHandler {
  /** The HTTP API: routes, typed errors, OpenAPI, `/docs`, SSE `/events`, token and body limit. */
  readonly handler: (request: Request) => Promise<Response>
  /** Ends open event streams, answers later requests 503 `RegistryClosed`, and closes the registry. */
  readonly dispose: () => Promise<void>
}

const edgeOptionsOf = (options: WebServerOptions): EdgeOptions => ({
  token: Option.fromNullable(options.token),
  bodyBytesMax: options.bodyBytesMax ?? defaultBodyBytesMax,
  ...(options.tokens === undefined ? {} : { tokens: options.tokens }),
  ...(options.allowOrigins === undefined ? {} : { allowOrigins: options.allowOrigins }),
  ...(options.allowHosts === undefined ? {} : { allowHosts: options.allowHosts }),
  ...(options.publicRoutes === undefined ? {} : { publicRoutes: options.publicRoutes }),
})

/** Refuses options the handler cannot serve, and a handler reachable beyond this machine without a token. */
export const validateWebOptions = (options: WebServerOptions): Either.Either<WebServerOptions, InvalidInput> => {
  const checked = validateEdgeOptions(edgeOptionsOf(options))
  if (Either.isLeft(checked)) return Either.left(checked.left)
  if (options.loopbackOnly !== true && checked.right.tokenCount === 0)
    return Either.left(
      new InvalidInput({
        field: "token",
        message: "token: a registry reachable beyond this machine needs a token (MODEL_REGISTRY_TOKEN)",
      }),
    )
  const keepAliveMs = options.keepAliveMs ?? defaultKeepAliveMs
  if (!Number.isInteger(keepAliveMs) || keepAliveMs < 1)
    return Either.left(new InvalidInput({ field: "keepAliveMs", message: "keepAliveMs: must be a positive integer" }))
  return Either.right({ ...options, allowOrigins: checked.right.allowOrigins, allowHosts: checked.right.allowHosts })
}

/** The error body of a failure, typed (the registry's open errors are) or not (then a plain 500). */
const answer = (error: unknown): Response => HttpServerResponse.toWeb(errorResponse(detailOf(error)))

/**
 * The API over the registry `registry` opens, opened on the first request. A registry that fails to open answers
 * that request, and every one while it fails, with the error body of its failure (503 for storage); the next request
 * tries again, so a registry whose storage comes back serves without a restart. Throws `InvalidInput` for options
 * `validateWebOptions` refuses.
 */
export const makeWebHandler = <E>(
  registry: Layer.Layer<ModelRegistry, E>,
  options: WebServerOptions = {},
): WebHandler => {
  const checked = Either.getOrThrowWith(validateWebOptions(options), (refused) => refused)
  const edgeOptions = edgeOptionsOf(checked)
  const auth = makeAuthenticator(Either.getOrThrow(configuredTokens(edgeOptions)))
  const stopping = Deferred.unsafeMake<void>(Effect.runSync(Effect.fiberId))
  let disposed = false
  const middleware = edge(edgeOptions, rulesOf(checked.loopbackOnly === true, edgeOptions), auth, () => disposed)
  const settings = Layer.succeed(ServerSettings, {
    bodyBytesMax: edgeOptions.bodyBytesMax,
    keepAliveMs: checked.keepAliveMs ?? defaultKeepAliveMs,
    stopping,
  })

  interface Open {
    readonly scope: Scope.CloseableScope
    readonly web: ReturnType<typeof HttpApiBuilder.toWebHandler>
  }
  let opening: Promise<Either.Either<Open, unknown>> | undefined
  const open = (): Promise<Either.Either<Open, unknown>> => {
    opening ??= Effect.runPromise(
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const built = yield* Effect.exit(Layer.buildWithScope(registry, scope))
        if (Exit.isFailure(built)) {
          yield* Scope.close(scope, built)
          opening = undefined
          return Either.left(Cause.squash(built.cause))
        }
        const context: Context.Context<ModelRegistry> = built.value
        const web = HttpApiBuilder.toWebHandler(
          apiLayer.pipe(
            Layer.provide(Layer.mergeAll(Layer.succeedContext(context), settings, layerWebHost)),
            Layer.merge(HttpRouter.setRouterConfig(routerConfig)),
            Layer.merge(HttpServer.layerContext),
          ),
          { middleware },
        )
        return Either.right({ scope, web })
      }),
    )
    return opening
  }

  return {
    handler: async (request) => {
      if (disposed) return answer(new RegistryClosed())
      const opened = await open()
      if (Either.isLeft(opened)) return answer(opened.left)
      return opened.right.web.handler(request)
    },
    dispose: async () => {
      if (disposed) return
      disposed = true
      await Effect.runPromise(Deferred.succeed(stopping, undefined))
      const opened = opening === undefined ? undefined : await opening
      if (opened === undefined || Either.isLeft(opened)) return
      await opened.right.web.dispose()
      await Effect.runPromise(Scope.close(opened.right.scope, Exit.void))
    },
  }
}
