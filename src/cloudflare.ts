/**
 * The Cloudflare Workers entry (`@visutility/model-registry/cloudflare`): a Durable Object class that hosts one
 * registry on the object's SQLite storage and serves the same HTTP API as the Node server (src/http/webHandler.ts:
 * routes, typed errors, OpenAPI, SSE, token, body limit), and a Worker whose `fetch` routes every request to that
 * object. Writes are acknowledged only once the object's storage has made them durable (`storage.sync()`). The
 * object's lifetime and its options: src/cloudflare/RegistryObject.ts.
 */
export type { DurableObjectNamespace, DurableObjectState, DurableObjectStorage } from "./cloudflare/DurableObjectApi.ts"
export type { DurableObjectRegistryOptions } from "./cloudflare/DurableObjectRegistry.ts"
export type { RegistryEnv } from "./cloudflare/RegistryEnv.ts"
export { RegistryObject } from "./cloudflare/RegistryObject.ts"

import { type RegistryEnv, routeToRegistry } from "./cloudflare/RegistryEnv.ts"

// workerd reads every export of a Worker's main module as a handler or a Durable Object class, so this module
// exports nothing else (the types vanish when compiled).
/** The Worker: every request goes to the registry's object, `REGISTRY_NAME` in the `REGISTRY` namespace. */
export default {
  fetch: (request: Request, env: RegistryEnv): Promise<Response> => routeToRegistry(request, env),
}
