import { describe, expect, it } from "vitest"
import { InvalidTransition, Overloaded } from "../../src/domain/errors.ts"
import { detailOf } from "../../src/effects/errorStatus.ts"
import { errorResponse } from "../../src/http/errorResponse.ts"

describe("error responses", () => {
  it("tell an overloaded client when to retry: 429 with Retry-After", () => {
    const response = errorResponse(detailOf(new Overloaded({ capacity: 1 })))
    expect(response.status).toBe(429)
    expect(response.headers["retry-after"]).toBe("1")
  })

  it("send Retry-After only where the table gives one", () => {
    const response = errorResponse(
      detailOf(new InvalidTransition({ name: "m", version: "1.0.0", from: "deprecated", event: "promote" })),
    )
    expect(response.status).toBe(409)
    expect(response.headers["retry-after"]).toBeUndefined()
  })
})
