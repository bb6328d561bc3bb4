/**
 * Token specs: `NAME:ROLE:SECRET` parses to its parts (the secret may hold ':'), a bare secret is the admin
 * `default`, and no token name can spell one of the registry's reserved actors.
 */
import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { actorOptionViolation } from "../../src/domain/Actor.ts"
import {
  checkTokens,
  legacyTokenName,
  makeToken,
  parseTokenSpec,
  parseTokensFile,
  roleAllows,
  roles,
} from "../../src/http/tokens.ts"

const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/)
const role = fc.constantFrom(...roles)
const secret = fc
  .string({ minLength: 1, maxLength: 40 })
  .filter((text) => text.trim() === text && [...text].every((unit) => unit >= " " && unit !== "\u007f"))

describe("token specs", () => {
  it("NAME:ROLE:SECRET parses to its parts, whatever the secret holds", () => {
    fc.assert(
      fc.property(name, role, secret, (n, r, s) => {
        expect(Either.getOrThrow(parseTokenSpec(`${n}:${r}:${s}`))).toEqual({ name: n, role: r, secret: s })
      }),
    )
  })

  it("a bare secret is the admin named default, as earlier releases' single token", () => {
    fc.assert(
      fc.property(
        secret.filter((s) => !s.includes(":")),
        (s) => {
          expect(Either.getOrThrow(parseTokenSpec(s))).toEqual({ name: legacyTokenName, role: "admin", secret: s })
        },
      ),
    )
  })

  it("no accepted token name is a reserved actor, and every one is a valid actor", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), (n) => {
        const made = makeToken("--token", n, "reader", "s")
        if (Either.isRight(made)) {
          expect(n.startsWith("(")).toBe(false)
          expect(actorOptionViolation(n)).toBeUndefined()
        }
      }),
    )
  })

  it("refuses an unknown role, a missing part, a bad name or secret, with the field it read", () => {
    for (const spec of ["ci:writr:s", "ci:writer", "(x):admin:s", "ci:admin:", "ci:admin: padded", ":admin:s"])
      expect(Either.getLeft(parseTokenSpec(spec, "--token"))).toMatchObject({
        _tag: "Some",
        value: { _tag: "InvalidInput", field: "--token" },
      })
  })

  it("reads a tokens file line by line, skipping comments and blank lines, naming the line at fault", () => {
    expect(Either.getOrThrow(parseTokensFile("# ops\n\nops:admin:a:b\r\nci:writer:c\n", "t"))).toEqual([
      { name: "ops", role: "admin", secret: "a:b" },
      { name: "ci", role: "writer", secret: "c" },
    ])
    expect(Either.getLeft(parseTokensFile("ci:writer:c\nbare-secret\n", "t"))).toMatchObject({
      _tag: "Some",
      value: { field: "tokens-file", message: expect.stringContaining("t:2") },
    })
  })

  it("refuses two tokens with one name or one secret", () => {
    const a = { name: "a", role: "reader", secret: "x" } as const
    expect(Either.isLeft(checkTokens([a, { ...a, secret: "y" }]))).toBe(true)
    expect(Either.isLeft(checkTokens([a, { ...a, name: "b" }]))).toBe(true)
    expect(Either.isRight(checkTokens([a, { name: "b", role: "admin", secret: "y" }]))).toBe(true)
  })

  it("orders the roles: each may do what the ones before it may", () => {
    expect(roles.map((held) => roles.filter((required) => roleAllows(held, required)))).toEqual([
      ["reader"],
      ["reader", "writer"],
      ["reader", "writer", "admin"],
    ])
  })
})
