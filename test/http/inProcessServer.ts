/**
 * The HTTP server in this process over a memory registry, on a free loopback port: for tests that read what the
 * server itself serves (its metrics, its OpenAPI document, its routing) and need no disk or child process.
 */
import { HttpServer } from "@effect/platform"
import { Context, Deferred, Effect, Exit, Layer, Option, Scope } from "effect"
import * as Registry from "../../src/effects/ModelRegistry.ts"
import * as Server from "../../src/http/Server.ts"

export interface InProcessServer {
  readonly url: string
  readonly close: () => Promise<void>
}

/** `registryOptions` configure the memory registry (its lifecycle, say); `serverOptions` override the server's. */
export const serveMemory = (
  registryOptions: Registry.RegistryOptions = {},
  serverOptions: Partial<Server.ServerOptions> = {},
): Promise<InProcessServer> => serveRegistry(Registry.layerMemory(registryOptions), serverOptions)

/** The server over the registry `registry` opens (one on a data directory, say). */
export const serveRegistry = async <E>(
  registry: Layer.Layer<Registry.ModelRegistry, E>,
  serverOptions: Partial<Server.ServerOptions> = {},
): Promise<InProcessServer> => {
  const scope = Effect.runSync(Scope.make())
  const options: Server.ServerOptions = {
    host: "127.0.0.1",
    port: 0,
    token: Option.none(),
    bodyBytesMax: 1024 * 1024,
    keepAliveMs: 15_000,
    ...serverOptions,
  }
  const settings = Layer.effect(
    Server.ServerSettings,
    Effect.map(Deferred.make<void>(), (stopping) => ({
      bodyBytesMax: options.bodyBytesMax,
      keepAliveMs: 15_000,
      stopping,
    })),
  )
  const context = await Effect.runPromise(
    Layer.buildWithScope(Server.layer(options).pipe(Layer.provide(settings), Layer.provide(registry)), scope),
  )
  return {
    url: Server.addressOf(Context.get(context, HttpServer.HttpServer).address),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
  }
}
