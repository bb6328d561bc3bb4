/**
 * The Durable Object that hosts one registry on its SQLite storage and serves the HTTP API
 * (src/http/webHandler.ts), with the options its Worker's environment gives (RegistryEnv.ts).
 *
 * The registry (its actor, lifecycle, observers and event streams) lives as long as the object's instance: it opens
 * on the first request, and an instance Cloudflare evicts or resets is simply dropped; the next request constructs
 * a new one, which opens the registry again from storage. The environment is read once per instance.
 */
import { DurableObject } from "cloudflare:workers"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Either } from "effect"
import type { InvalidInput } from "../domain/errors.ts"
import { detailOf } from "../effects/errorStatus.ts"
import { errorResponse } from "../http/errorResponse.ts"
import { makeWebHandler, type WebHandler } from "../http/webHandler.ts"
import type { DurableObjectState } from "./DurableObjectApi.ts"
import { layerDurableObject } from "./DurableObjectRegistry.ts"
import { configure, type RegistryEnv } from "./RegistryEnv.ts"

/** The answer to every request of an object whose configuration is refused: the error body, as the API gives it. */
const refusedConfiguration = (error: InvalidInput): Response => HttpServerResponse.toWeb(errorResponse(detailOf(error)))

/**
 * A Durable Object hosting one registry on its SQLite storage (declare it in `new_sqlite_classes`), serving the
 * HTTP API. A write is answered only after the object's storage made it durable; the registry refuses to start
 * without a token, since the object is reachable from the Internet through its Worker.
 */
export class RegistryObject extends DurableObject<RegistryEnv> {
  readonly #web: Either.Either<WebHandler, InvalidInput>

  constructor(ctx: DurableObjectState, env: RegistryEnv) {
    super(ctx, env)
    // `configure` refuses whatever `makeWebHandler` would throw for.
    this.#web = Either.map(configure(env), ({ registry, server }) =>
      makeWebHandler(layerDurableObject(ctx.storage, registry), server),
    )
  }

  fetch(request: Request): Promise<Response> {
    return Either.match(this.#web, {
      onLeft: (refused) => Promise.resolve(refusedConfiguration(refused)),
      onRight: (web) => web.handler(request),
    })
  }
}
