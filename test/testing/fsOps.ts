/**
 * A small language of FileSystem operations, its fast-check generator and its interpreter.
 *
 * The differential test runs the same programs on the simulated disk and on a real directory, and the determinism
 * test runs them twice under faults; both need programs that reach every code path (handles, flags, renames over
 * files and directories, errors) and outcomes normalized so that two file systems can be compared.
 */
import type { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Option } from "effect"
import fc from "fast-check"

export const names = ["a", "b", "d", "d/a", "d/c", "e", "e/d"] as const
export type Name = (typeof names)[number]

export type HandleAction =
  | { readonly _tag: "write"; readonly bytes: Uint8Array }
  | { readonly _tag: "writeAll"; readonly bytes: Uint8Array }
  | { readonly _tag: "seek"; readonly offset: number }
  | { readonly _tag: "read"; readonly size: number }
  | { readonly _tag: "readAlloc"; readonly size: number }
  | { readonly _tag: "truncate"; readonly length: number }
  | { readonly _tag: "stat" }
  | { readonly _tag: "sync" }

export type Op =
  | { readonly _tag: "writeFile"; readonly path: Name; readonly bytes: Uint8Array; readonly flag: "w" | "a" | "wx" }
  | {
      readonly _tag: "handle"
      readonly path: Name
      readonly flag: FileSystem.OpenFlag
      readonly actions: ReadonlyArray<HandleAction>
    }
  | { readonly _tag: "truncate"; readonly path: Name; readonly length: number }
  | { readonly _tag: "rename"; readonly from: Name; readonly to: Name }
  | { readonly _tag: "remove"; readonly path: Name; readonly recursive: boolean; readonly force: boolean }
  | { readonly _tag: "mkdir"; readonly path: Name; readonly recursive: boolean }
  | { readonly _tag: "readFile"; readonly path: Name }
  | { readonly _tag: "stat"; readonly path: Name }
  | { readonly _tag: "exists"; readonly path: Name }
  | { readonly _tag: "readDirectory"; readonly path: Name | "."; readonly recursive: boolean }
  | { readonly _tag: "copyFile"; readonly from: Name; readonly to: Name }

const name = fc.constantFrom(...names)
const bytes = fc.uint8Array({ minLength: 0, maxLength: 40 })
const flags: ReadonlyArray<FileSystem.OpenFlag> = ["r", "r+", "w", "wx", "w+", "wx+", "a", "ax", "a+", "ax+"]

// A 0-byte write on a read-only descriptor is EBADF on Node and a 0-byte success on Deno's node:fs, a runtime
// quirk rather than disk semantics, so handle writes are never empty.
const payload = fc.uint8Array({ minLength: 1, maxLength: 40 })

const action: fc.Arbitrary<HandleAction> = fc.oneof(
  payload.map((b) => ({ _tag: "write", bytes: b }) as const),
  payload.map((b) => ({ _tag: "writeAll", bytes: b }) as const),
  fc.nat(60).map((n) => ({ _tag: "seek", offset: n }) as const),
  fc.nat(50).map((n) => ({ _tag: "read", size: n }) as const),
  fc.nat(50).map((n) => ({ _tag: "readAlloc", size: n }) as const),
  fc.nat(60).map((n) => ({ _tag: "truncate", length: n }) as const),
  fc.constant({ _tag: "stat" } as const),
  fc.constant({ _tag: "sync" } as const),
)

export const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      _tag: fc.constant("writeFile" as const),
      path: name,
      bytes,
      flag: fc.constantFrom("w" as const, "a" as const, "wx" as const),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      _tag: fc.constant("handle" as const),
      path: name,
      flag: fc.constantFrom(...flags),
      actions: fc.array(action, { maxLength: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("truncate" as const), path: name, length: fc.nat(60) }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("rename" as const), from: name, to: name }) },
  {
    weight: 1,
    arbitrary: fc.record({
      _tag: fc.constant("remove" as const),
      path: name,
      recursive: fc.boolean(),
      force: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("mkdir" as const), path: name, recursive: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("readFile" as const), path: name }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("stat" as const), path: name }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("exists" as const), path: name }) },
  {
    weight: 1,
    arbitrary: fc.record({
      _tag: fc.constant("readDirectory" as const),
      path: fc.constantFrom<Name | ".">(".", "d", "e", "a"),
      recursive: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ _tag: fc.constant("copyFile" as const), from: name, to: name })
      .filter((o) => o.from !== o.to),
  },
)

export const program = fc.array(op, { minLength: 1, maxLength: 25 })

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")

/** An outcome both file systems must agree on: a value, or the error's tag and reason (messages carry paths). */
const outcome = <A>(effect: Effect.Effect<A, PlatformError>, show: (a: A) => string): Effect.Effect<string> =>
  Effect.match(effect, {
    onFailure: (e) => `err:${e._tag}:${e._tag === "SystemError" ? e.reason : e.method}`,
    onSuccess: (a) => `ok:${show(a)}`,
  })

const statText = (info: FileSystem.File.Info): string =>
  // A directory's size depends on the real file system (tmpfs reports entries, ext4 blocks), so it is not compared.
  info.type === "Directory" ? "Directory" : `${info.type}:${info.size}`

const runAction = (file: FileSystem.File, a: HandleAction): Effect.Effect<string> => {
  switch (a._tag) {
    case "write":
      return outcome(file.write(a.bytes), String)
    case "writeAll":
      return outcome(file.writeAll(a.bytes), () => "")
    case "seek":
      return outcome(file.seek(a.offset, "start"), () => "")
    case "read": {
      const buffer = new Uint8Array(a.size)
      return outcome(file.read(buffer), (n) => `${n}:${hex(buffer.subarray(0, Number(n)))}`)
    }
    case "readAlloc":
      return outcome(file.readAlloc(a.size), (o) => (Option.isSome(o) ? hex(o.value) : "none"))
    case "truncate":
      return outcome(file.truncate(a.length), () => "")
    case "stat":
      return outcome(file.stat, statText)
    case "sync":
      return outcome(file.sync, () => "")
  }
}

/** Runs one operation under `base` and returns its normalized outcome lines. */
export const runOp = (fs: FileSystem.FileSystem, base: string, o: Op): Effect.Effect<ReadonlyArray<string>> => {
  const p = (n: Name | ".") => (n === "." ? base : `${base}/${n}`)
  const one = (e: Effect.Effect<string>) => Effect.map(e, (line) => [line])
  switch (o._tag) {
    case "writeFile":
      return one(outcome(fs.writeFile(p(o.path), o.bytes, { flag: o.flag }), () => ""))
    case "handle":
      return Effect.scoped(
        Effect.matchEffect(fs.open(p(o.path), { flag: o.flag }), {
          onFailure: (e) => Effect.succeed([`err:${e._tag}:${e._tag === "SystemError" ? e.reason : ""}`]),
          onSuccess: (file) => Effect.forEach(o.actions, (a) => runAction(file, a)),
        }),
      )
    case "truncate":
      return one(outcome(fs.truncate(p(o.path), o.length), () => ""))
    case "rename":
      return one(outcome(fs.rename(p(o.from), p(o.to)), () => ""))
    case "remove":
      return one(outcome(fs.remove(p(o.path), { recursive: o.recursive, force: o.force }), () => ""))
    case "mkdir":
      return one(outcome(fs.makeDirectory(p(o.path), { recursive: o.recursive }), () => ""))
    case "readFile":
      return one(outcome(fs.readFile(p(o.path)), hex))
    case "stat":
      return one(outcome(fs.stat(p(o.path)), statText))
    case "exists":
      return one(outcome(fs.exists(p(o.path)), String))
    case "readDirectory":
      return one(outcome(fs.readDirectory(p(o.path), { recursive: o.recursive }), (xs) => [...xs].sort().join(",")))
    case "copyFile":
      // Copying a directory fails differently on Node (EISDIR, destination unlinked) and Deno's node:fs; that is a
      // runtime quirk, not disk semantics, so the program does not ask it.
      return Effect.flatMap(Effect.option(fs.stat(p(o.from))), (info) =>
        Option.isSome(info) && info.value.type === "Directory"
          ? Effect.succeed(["skip:directory source"])
          : one(outcome(fs.copyFile(p(o.from), p(o.to)), () => "")),
      )
  }
}

/** Every path under `base` with its type and, for files, its bytes, sorted: the final state to compare. */
export const tree = (fs: FileSystem.FileSystem, base: string): Effect.Effect<ReadonlyArray<string>, PlatformError> =>
  Effect.gen(function* () {
    const entries = [...(yield* fs.readDirectory(base, { recursive: true }))].sort()
    return yield* Effect.forEach(entries, (rel) =>
      Effect.gen(function* () {
        const info = yield* fs.stat(`${base}/${rel}`)
        if (info.type === "Directory") return `${rel}/`
        return `${rel}=${hex(yield* fs.readFile(`${base}/${rel}`))}`
      }),
    )
  })

/** Runs a whole program; returns every outcome line, then the final tree. */
export const runProgram = (
  fs: FileSystem.FileSystem,
  base: string,
  ops: ReadonlyArray<Op>,
): Effect.Effect<{ readonly outcomes: ReadonlyArray<string>; readonly tree: ReadonlyArray<string> }, PlatformError> =>
  Effect.gen(function* () {
    const outcomes: Array<string> = []
    for (const o of ops) outcomes.push(...(yield* runOp(fs, base, o)))
    return { outcomes, tree: yield* tree(fs, base) }
  })
