import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import {
  DirectoryLocked,
  InvalidInput,
  ModelNotFound,
  RegistryClosed,
  StorageFailed,
  StorageFailureReason,
  VersionConflict,
  WalCorrupt,
} from "../../src/domain/errors.ts"
import { detailOf, ExitCode, edgeError, translate } from "../../src/effects/errorStatus.ts"

describe("the error table", () => {
  it.each([
    ["InvalidInput", 400, ExitCode.usage, undefined],
    ["ModelNotFound", 404, ExitCode.notFoundOrConflict, undefined],
    ["VersionConflict", 409, ExitCode.notFoundOrConflict, undefined],
    ["PositionCompacted", 410, ExitCode.notFoundOrConflict, undefined],
    ["AliasNotFound", 404, ExitCode.notFoundOrConflict, undefined],
    ["AliasNotAllowed", 409, ExitCode.notFoundOrConflict, undefined],
    ["InvalidTransition", 409, ExitCode.notFoundOrConflict, undefined],
    ["InvalidLifecycle", 500, ExitCode.usage, undefined],
    ["LifecycleMismatch", 500, ExitCode.notFoundOrConflict, undefined],
    ["Overloaded", 429, ExitCode.storage, 1],
    ["RegistryClosed", 503, ExitCode.storage, 5],
    ["StorageFailed", 503, ExitCode.storage, 5],
    ["DirectoryLocked", 503, ExitCode.storage, 5],
    ["SomethingNew", 500, ExitCode.storage, undefined],
  ])("%s answers HTTP %i and exits %i (Retry-After: %s)", (tag, status, exit, retryAfterSeconds) => {
    expect(translate(tag)).toEqual(
      retryAfterSeconds === undefined ? { status, exit } : { status, exit, retryAfterSeconds },
    )
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
    expect(detailOf(new DirectoryLocked({ directory: "/d", pid: 7 }), "local")).toMatchObject({
      directory: "/d",
      pid: 7,
    })
    expect(
      detailOf(
        new StorageFailed({ operation: "append", path: "/d/x", reason: "PortFailed", message: "closed" }),
        "local",
      ),
    ).toEqual({ operation: "append", path: "/d/x", reason: "PortFailed", tag: "StorageFailed", message: "closed" })
  })

  it("gives the wire no server path: a StorageFailed carries its operation and reason only", () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/).filter((s) => s !== "." && s !== "..")
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 1, maxLength: 5 }),
        fc.constantFrom(...StorageFailureReason.literals),
        fc.constantFrom("append", "fsync", "rename", "write"),
        (parts, reason, operation) => {
          const directory = `/${parts.join("/")}`
          const path = `${directory}/wal-0000000000000001.seg`
          const errors = [
            new StorageFailed({ operation, path, reason, message: `${operation} ${path}: ENOSPC, write '${path}'` }),
            new WalCorrupt({ file: path, offset: 64, seq: 3, reason: `${directory}/snap-2.snap covers seq 2` }),
            new DirectoryLocked({ directory, pid: 7 }),
          ]
          for (const error of errors) expect(JSON.stringify(detailOf(error))).not.toContain(`${directory}/`)
          expect(detailOf(errors[0])).toEqual({
            tag: "StorageFailed",
            operation,
            reason,
            message: `storage ${operation} failed: ${reason}`,
          })
          expect(detailOf(errors[1])).toMatchObject({ tag: "WalCorrupt", file: "wal-0000000000000001.seg", seq: 3 })
        },
      ),
    )
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
