/**
 * Read-only opens (what `verify` and `wal dump` use): they see exactly what a writable open would recover, change
 * no byte on disk, take no lock, and refuse every write.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import fc from "fast-check"
import { segmentFileName } from "../../src/storage/FileNames.ts"
import { layerFileSystem } from "../../src/storage/FileStorage.ts"
import { collect, listing, makeTempDirectory, nodeLayer, type Ports, records, withPorts } from "./harness.ts"

const open = (directory: string, readOnly: boolean) =>
  layerFileSystem({ directory, readOnly, segmentBytesMax: 512, recordBytesMax: 128 }).pipe(Layer.provide(nodeLayer))

/** Everything an opener can observe, with the directory name taken out so two copies compare equal. */
const observe = (directory: string, readOnly: boolean) =>
  Effect.gen(function* () {
    const exit = yield* withPorts(open(directory, readOnly), ({ wal, snapshots }: Ports) =>
      Effect.gen(function* () {
        const firstSeq = yield* wal.firstSeq
        const { brokenFile: _torn, ...tornTail } = Option.getOrUndefined(wal.recovery.tornTail) ?? {}
        return {
          firstSeq,
          lastSeq: yield* wal.lastSeq,
          seqs: (yield* collect(wal.read(firstSeq))).map((r) => r.seq),
          snapshot: Option.getOrUndefined(Option.map(yield* snapshots.latest, (s) => s.lastSeq)),
          tornTail,
          fallbacks: wal.recovery.snapshotFallbacks.map(({ brokenFile: _moved, ...f }) => f),
        }
      }),
    ).pipe(Effect.exit)
    const json = JSON.stringify(Exit.isSuccess(exit) ? exit.value : { failed: Cause.squash(exit.cause) })
    return JSON.parse(json.replaceAll(directory, "<dir>")) as unknown
  })

/** A log of three-plus segments with two snapshots and the compaction they allow. */
const populate = (directory: string) =>
  withPorts(open(directory, false), ({ wal, snapshots }) =>
    Effect.gen(function* () {
      for (const upTo of [10, 20]) {
        yield* wal.append(records(upTo - 9, 10))
        yield* wal.rotate
        yield* snapshots.write({ lastSeq: upTo, state: new TextEncoder().encode(`state@${upTo}`) })
        yield* wal.deleteSegmentsUpTo(upTo)
      }
      yield* wal.append(records(21, 6))
    }),
  )

type Damage =
  | { readonly kind: "none" }
  | { readonly kind: "cut-newest"; readonly drop: number }
  | { readonly kind: "append-garbage"; readonly bytes: ReadonlyArray<number> }
  | { readonly kind: "flip"; readonly file: number; readonly at: number }
  | { readonly kind: "tmp-file" }

const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.constant({ kind: "none" as const }),
  fc.record({ kind: fc.constant("cut-newest" as const), drop: fc.integer({ min: 1, max: 240 }) }),
  fc.record({
    kind: fc.constant("append-garbage" as const),
    bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 40 }),
  }),
  fc.record({
    kind: fc.constant("flip" as const),
    file: fc.nat(),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  fc.constant({ kind: "tmp-file" as const }),
)

const damage = (directory: string, d: Damage) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const names = (yield* fs.readDirectory(directory)).filter((n) => n !== "LOCK").sort()
    const segments = names.filter((n) => n.endsWith(".seg"))
    const newest = `${directory}/${segments.at(-1)!}`
    const bytes = yield* fs.readFile(newest)
    switch (d.kind) {
      case "none":
        return
      case "cut-newest":
        return yield* fs.writeFile(newest, bytes.subarray(0, Math.max(0, bytes.length - d.drop)))
      case "append-garbage":
        return yield* fs.writeFile(newest, new Uint8Array([...bytes, ...d.bytes]))
      case "flip": {
        const file = `${directory}/${names[d.file % names.length]!}`
        const content = yield* fs.readFile(file)
        const at = Math.min(content.length - 1, Math.floor(d.at * content.length))
        content[at]! ^= 0xff
        return yield* fs.writeFile(file, content)
      }
      case "tmp-file":
        return yield* fs.writeFile(`${directory}/${segmentFileName(27)}.tmp`, new Uint8Array([1, 2, 3]))
    }
  })

layer(NodeContext.layer)("read-only open", (it) => {
  it.scoped(
    "sees what a writable open would recover, and changes nothing (any damage)",
    () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.array(damageArb, { minLength: 1, maxLength: 2 }), (damages) =>
              Effect.runPromise(
                Effect.scoped(
                  Effect.gen(function* () {
                    const original = yield* makeTempDirectory
                    const copy = yield* makeTempDirectory
                    yield* populate(original)
                    for (const d of damages) yield* damage(original, d)
                    yield* fs.remove(copy, { recursive: true })
                    yield* fs.copy(original, copy)
                    const before = yield* listing(original)
                    const seen = yield* observe(original, true)
                    expect(yield* listing(original)).toEqual(before)
                    expect(yield* observe(copy, false)).toEqual(seen)
                  }),
                ).pipe(Effect.provide(NodeContext.layer)),
              ),
            ),
            { numRuns: 60 },
          ),
        )
      }),
    60_000,
  )

  it.scoped("takes no lock, so it works beside a writer that holds one, and sees what was durable", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      yield* populate(directory)
      yield* withPorts(open(directory, false), ({ wal }) =>
        Effect.gen(function* () {
          yield* wal.append(records(27, 1))
          const seqs = yield* withPorts(open(directory, true), ({ wal: reader }) =>
            Effect.flatMap(reader.firstSeq, (first) => collect(reader.read(first))),
          )
          expect(seqs.map((r) => r.seq).at(-1)).toBe(27)
        }),
      )
    }),
  )

  it.scoped("refuses every write with StorageFailed ReadOnly", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      yield* populate(directory)
      const before = yield* listing(directory)
      yield* withPorts(open(directory, true), ({ wal, snapshots }) =>
        Effect.gen(function* () {
          const refusals = yield* Effect.all(
            [
              Effect.flip(wal.append(records(27, 1))),
              Effect.flip(wal.rotate),
              Effect.flip(wal.deleteSegmentsUpTo(20)),
              Effect.flip(snapshots.write({ lastSeq: 26, state: new Uint8Array([1]) })),
            ],
            { concurrency: 1 },
          )
          for (const refusal of refusals) expect(refusal).toMatchObject({ _tag: "StorageFailed", reason: "ReadOnly" })
          expect(yield* wal.lastSeq).toBe(26)
        }),
      )
      expect(yield* listing(directory)).toEqual(before)
    }),
  )

  it.scoped("a missing directory fails with NotFound and is not created", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const directory = `${yield* makeTempDirectory}/absent`
      const exit = yield* withPorts(open(directory, true), () => Effect.void).pipe(Effect.exit)
      expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toMatchObject({
        _tag: "StorageFailed",
        reason: "NotFound",
      })
      expect(yield* fs.exists(directory)).toBe(false)
    }),
  )

  it.scoped("a directory without segments is reported, not initialised", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      const exit = yield* withPorts(open(directory, true), () => Effect.void).pipe(Effect.exit)
      expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toMatchObject({ _tag: "WalCorrupt" })
      expect(yield* listing(directory)).toEqual([])
    }),
  )
})
