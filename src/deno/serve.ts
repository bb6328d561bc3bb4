/**
 * The HTTP API on `Deno.serve`: the runtime-neutral web handler (src/http/webHandler.ts: the Node server's routes,
 * typed errors, OpenAPI, `/docs`, SSE `/events`, tokens and body limit) over any registry layer. Like the Node
 * server it binds to loopback unless told otherwise, and a bind beyond this machine needs a token.
 */
import type { Layer } from "effect"
import type { ModelRegistry } from "../effects/ModelRegistry.ts"
import { defaultDrainMs, loopbackHosts } from "../http/serverDefaults.ts"
import { makeWebHandler, type WebServerOptions } from "../http/webHandler.ts"
import { deno } from "./denoTypes.ts"

export interface ServeOptions extends Omit<WebServerOptions, "loopbackOnly"> {
  /** 0 (the default) takes a free port; read it from the result. */
  readonly port?: number
  /** `127.0.0.1` if not given: reachable from this machine alone, where no token is required. */
  readonly hostname?: string
  /**
   * How long `shutdown` waits for connections to finish (5,000 ms if not given), like the Node server's drain time.
   * Deno's graceful shutdown has no deadline of its own: a client still sending a body the server refused (a 413)
   * would hold it forever.
   */
  readonly drainMs?: number
}

export interface DenoServer {
  /** The bound address, e.g. `http://127.0.0.1:8080`. */
  readonly url: string
  readonly hostname: string
  readonly port: number
  /**
   * Stops taking connections, ends open event streams, and closes the registry (durably: its lock released);
   * resolves once the connections are done or the drain time has passed. Connections left open after it end with the
   * process.
   */
  readonly shutdown: () => Promise<void>
}

/**
 * Serves the registry `registry` opens (on the first request) until `shutdown`. Throws `InvalidInput` for options
 * the web handler refuses, among them a non-loopback `hostname` without a token.
 */
export const serve = <E>(options: ServeOptions, registry: Layer.Layer<ModelRegistry, E>): Promise<DenoServer> => {
  const { port = 0, hostname = "127.0.0.1", drainMs = defaultDrainMs, ...webOptions } = options
  const web = makeWebHandler(registry, { ...webOptions, loopbackOnly: loopbackHosts.has(hostname) })
  return new Promise((resolve) => {
    const server = deno().serve(
      {
        port,
        hostname,
        onListen: (address) => {
          const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname
          resolve({
            url: `http://${host}:${address.port}`,
            hostname: address.hostname,
            port: address.port,
            shutdown: async () => {
              // Stops taking connections first; the handler's dispose then ends the event streams it waits for.
              const stopped = server.shutdown()
              await web.dispose()
              let deadline: ReturnType<typeof setTimeout> | undefined
              await Promise.race([stopped, new Promise((resolve) => (deadline = setTimeout(resolve, drainMs)))])
              clearTimeout(deadline)
            },
          })
        },
      },
      web.handler,
    )
  })
}
