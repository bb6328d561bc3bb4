/** Error responses: the table's status, and a `Retry-After` on every "not now" (429, 503) and on nothing else. */
import { describe, expect, it } from "vitest"
import { edgeError } from "../../src/effects/errorStatus.ts"
import { errorResponse } from "../../src/http/errorResponse.ts"

describe("errorResponse", () => {
  it.each([
    ["Overloaded", 429],
    ["RegistryClosed", 503],
    ["StorageFailed", 503],
    ["WalCorrupt", 503],
    ["DirectoryLocked", 503],
    ["Unavailable", 503],
  ])("%s answers %i with a Retry-After", (tag, status) => {
    const response = errorResponse(edgeError(tag, "not now"))
    expect(response.status).toBe(status)
    expect(response.headers["retry-after"]).toMatch(/^[1-9][0-9]*$/)
  })

  it.each([
    ["InvalidInput", 400],
    ["VersionConflict", 409],
    ["SomethingNew", 500],
  ])("%s answers %i without one: retrying the same request cannot help", (tag, status) => {
    const response = errorResponse(edgeError(tag, "no"))
    expect(response.status).toBe(status)
    expect(response.headers["retry-after"]).toBeUndefined()
  })

  it("keeps the headers the caller gives", () => {
    const response = errorResponse(edgeError("Unauthorized", "no"), { "www-authenticate": "Bearer" })
    expect(response.headers["www-authenticate"]).toBe("Bearer")
  })
})
