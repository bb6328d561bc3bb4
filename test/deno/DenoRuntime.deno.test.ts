/**
 * The Deno primitives the storage contract does not reach on its own: the file system's error reasons (and a full
 * disk told apart through Deno's errno code), open flags and a handle's position, and this process's facts and its
 * judgment of another lock holder from `/proc`.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Option, type Scope } from "effect"
import { describe, expect, it } from "vitest"
import * as DenoFileSystem from "../../src/deno/DenoFileSystem.ts"
import * as DenoProcessInfo from "../../src/deno/DenoProcessInfo.ts"
import { deno } from "../../src/deno/denoTypes.ts"
import { ProcessInfo } from "../../src/storage/ProcessInfo.ts"
import { fromPlatformError } from "../../src/storage/StorageError.ts"
import { denoTempDirectory } from "./backends.ts"

const run = <A, E>(effect: Effect.Effect<A, E, FileSystem.FileSystem | Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(effect).pipe(Effect.provide(DenoFileSystem.layer)))

const utf8 = new TextEncoder()
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

describe("the Deno file system", () => {
  it("reports the platform's reasons, and a full disk as NoSpace through Deno's errno code", () =>
    run(
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const directory = yield* denoTempDirectory
        const reasonOf = <A>(effect: Effect.Effect<A, unknown>) =>
          Effect.map(Effect.flip(effect), (error) => (error as { readonly reason: string }).reason)
        expect(yield* reasonOf(fs.readFile(`${directory}/missing`))).toBe("NotFound")
        expect(yield* reasonOf(fs.makeDirectory(directory))).toBe("AlreadyExists")
        yield* fs.writeFile(`${directory}/file`, utf8.encode("x"))
        expect(yield* reasonOf(fs.readDirectory(`${directory}/file`))).toBe("BadResource")
        expect(yield* fs.exists(`${directory}/missing`)).toBe(false)
        const full = Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" })
        expect(fromPlatformError("write", "f", DenoFileSystem.systemError("write", "f", full)).reason).toBe("NoSpace")
      }),
    ))

  it("opens with Node's flags: w truncates, a appends, wx refuses an existing file; a handle keeps its position", () =>
    run(
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const path = `${yield* denoTempDirectory}/f`
        yield* fs.writeFileString(path, "hello world")
        yield* Effect.scoped(Effect.flatMap(fs.open(path, { flag: "a" }), (file) => file.writeAll(utf8.encode("!"))))
        expect(yield* fs.readFileString(path)).toBe("hello world!")
        const exclusive = yield* Effect.flip(Effect.scoped(fs.open(path, { flag: "wx" })))
        expect(exclusive).toMatchObject({ reason: "AlreadyExists" })
        const read = yield* Effect.scoped(
          Effect.gen(function* () {
            const file = yield* fs.open(path, { flag: "r+" })
            yield* file.seek(6, "start")
            const word = yield* file.readAlloc(5)
            yield* file.truncate(3)
            const end = yield* file.readAlloc(10)
            return { word: Option.map(word, text), end, size: (yield* file.stat).size }
          }),
        )
        expect(read).toEqual({ word: Option.some("world"), end: Option.none(), size: FileSystem.Size(3) })
        yield* Effect.scoped(Effect.flatMap(fs.open(path, { flag: "w" }), (file) => file.writeAll(utf8.encode("new"))))
        expect(yield* fs.readFileString(path)).toBe("new")
      }),
    ))
})

describe("the Deno process facts", () => {
  it("names this process and judges holders by /proc: itself alive, a pid that does not exist dead", () =>
    Effect.runPromise(
      Effect.gen(function* () {
        const info = yield* ProcessInfo
        expect(info.self.pid).toBe(deno().pid)
        expect(info.lease).toEqual({ leaseMillis: 5000, renewIntervalMillis: 1000 })
        // Linux gives the facts that make a holder judgeable: one kernel, one PID namespace, a start time.
        expect(info.self.bootId).toMatch(/^[0-9a-f-]{36}$/)
        expect(info.self.startTicks).toBeGreaterThan(0)
        expect(yield* info.judge({ ...info.self, token: "another handle" })).toBe("alive")
        // Beyond Linux's pid_max (2^22), so no process has it.
        expect(yield* info.judge({ ...info.self, pid: 2 ** 22 + 1, token: "gone" })).toBe("dead")
        expect(yield* info.judge({ ...info.self, bootId: "00000000-0000-0000-0000-000000000000", token: "x" })).toBe(
          "unknown",
        )
      }).pipe(Effect.provide(DenoProcessInfo.layer)),
    ))
})
