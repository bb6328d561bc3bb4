import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { parseMapping } from "../../src/cli/lifecycleOption.ts"

describe("--lifecycle-map", () => {
  it("reads old=new pairs, and an empty text as the empty mapping that moves a directory holding no version", () => {
    expect(Effect.runSync(parseMapping("registered=none, production=production"))).toEqual({
      registered: "none",
      production: "production",
    })
    expect(Effect.runSync(parseMapping(""))).toEqual({})
    expect(Effect.runSync(parseMapping("  "))).toEqual({})
  })

  it.each(["registered", "a=b=c", "=none", "registered=,production=production"])("refuses %j as usage", (text) => {
    const exit = Effect.runSyncExit(parseMapping(text))
    expect(Exit.isFailure(exit)).toBe(true)
  })
})
