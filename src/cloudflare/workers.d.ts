/**
 * The one value the Worker entry takes from the runtime's `cloudflare:workers` module: the base class RPC and
 * `fetch` dispatch require of a Durable Object. Typed loosely on purpose; the entry keeps its own typed view of
 * `ctx` and `env` (DurableObjectApi.ts), and an app that has `@cloudflare/workers-types` sees theirs instead.
 */
declare module "cloudflare:workers" {
  export abstract class DurableObject<Env = unknown> {
    constructor(ctx: unknown, env: Env)
  }
}
