/**
 * The lifecycle check a registry runs at open: a definition that passed is not checked again (a supervisor or the
 * simulator reopens many times), and one that failed is refused at every open.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import { defineLifecycle } from "../../src/actors/lifecycleDefinition.ts"
import { prepareLifecycle } from "../../src/effects/ModelRegistry.ts"

describe("prepareLifecycle", () => {
  it.effect("reuses the check of a definition that passed", () =>
    Effect.gen(function* () {
      const first = yield* prepareLifecycle(mlflowStages)
      const again = yield* prepareLifecycle(mlflowStages)
      expect(again).toBe(first)
      // Another definition object with the same content is checked on its own.
      expect(yield* prepareLifecycle(defineLifecycle({ ...mlflowStages }))).not.toBe(first)
    }),
  )

  it.effect("refuses a definition that fails the check at every open", () =>
    Effect.gen(function* () {
      // "stage" does not leave production, so a promotion could never displace the holder.
      const broken = defineLifecycle({ ...mlflowStages, name: "broken-stages", exclusive: { production: "stage" } })
      for (let open = 0; open < 2; open++) {
        const result = yield* Effect.either(prepareLifecycle(broken))
        expect(Either.isLeft(result) && result.left._tag).toBe("InvalidLifecycle")
      }
    }),
  )
})
