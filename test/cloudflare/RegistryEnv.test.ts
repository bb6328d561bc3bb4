import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import type { DurableObjectNamespace } from "../../src/cloudflare/DurableObjectApi.ts"
import { configure, defaultRegistryName, type RegistryEnv, routeToRegistry } from "../../src/cloudflare/RegistryEnv.ts"

/** A namespace that records the names it was asked for and answers with them. */
const namespace = (asked: Array<string>): DurableObjectNamespace => ({
  idFromName: (name) => {
    asked.push(name)
    return { toString: () => name }
  },
  get: (id) => ({ fetch: async () => new Response(id.toString()) }),
})

const env = (vars: Omit<RegistryEnv, "REGISTRY">): RegistryEnv => ({ REGISTRY: namespace([]), ...vars })

describe("the Worker's environment", () => {
  it("reads a bare secret as the admin token and leaves every other option at its default", () => {
    const configured = Either.getOrThrow(configure(env({ MODEL_REGISTRY_TOKEN: "s3cret" })))
    expect(configured.registry).toEqual({})
    expect(configured.server.tokens).toEqual([{ name: "default", role: "admin", secret: "s3cret" }])
    expect(configured.server.bodyBytesMax).toBeUndefined()
  })

  it("reads named tokens, a built-in lifecycle, the limits and the public routes", () => {
    const configured = Either.getOrThrow(
      configure(
        env({
          MODEL_REGISTRY_TOKEN: "ci:writer:w-secret",
          MODEL_REGISTRY_TOKENS: "ops:admin:a-secret\ndash:reader:r-secret\n",
          MODEL_REGISTRY_LIFECYCLE: "mlflow-stages",
          MODEL_REGISTRY_BODY_BYTES_MAX: "4096",
          MODEL_REGISTRY_KEEP_ALIVE_MS: "250",
          MODEL_REGISTRY_PUBLIC_ROUTES: "healthz, metrics",
          MODEL_REGISTRY_SNAPSHOT_THRESHOLD_RECORDS: "500",
        }),
      ),
    )
    expect(configured.registry).toEqual({ lifecycle: mlflowStages, snapshotThresholdRecords: 500 })
    expect(configured.server.tokens?.map((t) => `${t.name}:${t.role}`)).toEqual([
      "ci:writer",
      "ops:admin",
      "dash:reader",
    ])
    expect(configured.server).toMatchObject({
      bodyBytesMax: 4096,
      keepAliveMs: 250,
      publicRoutes: ["healthz", "metrics"],
    })
  })

  it("refuses a wrong variable with InvalidInput naming it, and a Worker without a token", () => {
    const refusals: Array<[Omit<RegistryEnv, "REGISTRY">, string]> = [
      [{}, "token"],
      [{ MODEL_REGISTRY_TOKEN: "" }, "token"],
      [{ MODEL_REGISTRY_TOKEN: "a:superuser:secret" }, "MODEL_REGISTRY_TOKEN"],
      [{ MODEL_REGISTRY_TOKEN: "s", MODEL_REGISTRY_TOKENS: "not a token" }, "MODEL_REGISTRY_TOKENS"],
      [{ MODEL_REGISTRY_TOKEN: "s", MODEL_REGISTRY_LIFECYCLE: "kanban" }, "MODEL_REGISTRY_LIFECYCLE"],
      [{ MODEL_REGISTRY_TOKEN: "s", MODEL_REGISTRY_BODY_BYTES_MAX: "lots" }, "MODEL_REGISTRY_BODY_BYTES_MAX"],
      [{ MODEL_REGISTRY_TOKEN: "s", MODEL_REGISTRY_KEEP_ALIVE_MS: "-5" }, "MODEL_REGISTRY_KEEP_ALIVE_MS"],
      [{ MODEL_REGISTRY_TOKEN: "s", MODEL_REGISTRY_PUBLIC_ROUTES: "healthz,models" }, "MODEL_REGISTRY_PUBLIC_ROUTES"],
      [
        { MODEL_REGISTRY_TOKEN: "s", MODEL_REGISTRY_SNAPSHOT_THRESHOLD_RECORDS: "0" },
        "MODEL_REGISTRY_SNAPSHOT_THRESHOLD_RECORDS",
      ],
    ]
    for (const [vars, field] of refusals) {
      const refused = configure(env(vars))
      expect(Either.isLeft(refused) && refused.left).toMatchObject({ _tag: "InvalidInput", field })
    }
  })

  it("routes every request to the object REGISTRY_NAME names, `default` without one", async () => {
    const asked: Array<string> = []
    const request = new Request("http://registry.example/healthz")
    expect(await (await routeToRegistry(request, { REGISTRY: namespace(asked) })).text()).toBe(defaultRegistryName)
    expect(await (await routeToRegistry(request, { REGISTRY: namespace(asked), REGISTRY_NAME: "team-a" })).text()).toBe(
      "team-a",
    )
    expect(asked).toEqual(["default", "team-a"])
  })
})
