import { describe, expect, it } from "@effect/vitest"
import {
  DirectoryLocked,
  InvalidInput,
  ModelNotFound,
  RegistryClosed,
  StorageFailed,
  VersionConflict,
} from "../../src/domain/errors.ts"
import { detailOf, ExitCode, edgeError, translate } from "../../src/effects/errorStatus.ts"

describe("the error table", () => {
  it.each([
    ["InvalidInput", 400, ExitCode.usage],
    ["ModelNotFound", 404, ExitCode.notFoundOrConflict],
    ["VersionConflict", 409, ExitCode.notFoundOrConflict],
    ["Overloaded", 429, ExitCode.storage],
    ["RegistryClosed", 503, ExitCode.storage],
    ["StorageFailed", 503, ExitCode.storage],
    ["DirectoryLocked", 503, ExitCode.storage],
    ["SomethingNew", 500, ExitCode.storage],
  ])("%s answers HTTP %i and exits %i", (tag, status, exit) => {
    expect(translate(tag)).toEqual({ status, exit })
  })

  it("flattens a registry error to the wire detail, fields first, message from the error", () => {
    expect(detailOf(new ModelNotFound({ name: "m" }))).toEqual({
      name: "m",
      tag: "ModelNotFound",
      message: 'model "m" not found',
    })
    expect(detailOf(new InvalidInput({ field: "name", message: "name: must not be empty" }))).toEqual({
      field: "name",
      tag: "InvalidInput",
      message: "name: must not be empty",
    })
    expect(detailOf(new RegistryClosed())).toEqual({ tag: "RegistryClosed", message: "the registry is closed" })
    expect(detailOf(new VersionConflict({ name: "m", version: "1.0.0" })).tag).toBe("VersionConflict")
    expect(detailOf(new DirectoryLocked({ directory: "/d", pid: 7 }))).toMatchObject({ directory: "/d", pid: 7 })
    expect(
      detailOf(new StorageFailed({ operation: "append", path: "/d/x", reason: "PortFailed", message: "closed" })),
    ).toEqual({ operation: "append", path: "/d/x", reason: "PortFailed", tag: "StorageFailed", message: "closed" })
  })

  it("never puts an unknown error, or a non-error, on the wire", () => {
    const internal = { tag: "Internal", message: "internal error" }
    expect(detailOf(new Error("secret stack"))).toEqual(internal)
    expect(detailOf({ _tag: "NotInTheTable", secret: 1 })).toEqual(internal)
    expect(detailOf(undefined)).toEqual(internal)
  })

  it("builds edge errors with their fields", () => {
    expect(edgeError("PayloadTooLarge", "too big", { limitBytes: 1 })).toEqual({
      limitBytes: 1,
      tag: "PayloadTooLarge",
      message: "too big",
    })
  })
})
