/**
 * A version's artifact location (`source`) and training run (`runId`): validated at registration, part of the
 * idempotency comparison, and kept unchanged through the log, compaction's snapshot and a restart.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { layerMemory, makeMemoryRegistryStore } from "../../src/effects/ModelRegistry.ts"
import { layerFile } from "../../src/node.ts"
import { failureOf, failureTag } from "../../src/testing/exits.ts"
import { open, tempDirectory } from "../support/harness.ts"

/** Any character but a control one: printable ASCII, quotes and backslashes included, and beyond ASCII. */
const printable = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  fc.constantFrom("é", "日", "😀", "\u00a0"),
)
const provenance = fc.record(
  {
    source: fc.oneof(fc.webUrl(), fc.constantFrom("s3://bucket/m/1", "file:///models/m", "gs://b/o%20k")),
    runId: fc.oneof(fc.uuid(), fc.string({ unit: printable, minLength: 1, maxLength: 64 })),
  },
  { requiredKeys: [] },
)

describe("source and runId", () => {
  it("survive the log, a snapshot and a restart exactly as registered, on both storages", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(provenance, { minLength: 1, maxLength: 8 }), fc.boolean(), async (given, onFile) => {
        const directory = tempDirectory("provenance")
        const store = makeMemoryRegistryStore()
        const layer = () => (onFile ? layerFile({ directory: directory.path }) : layerMemory({ store }))
        try {
          let opened = await open(layer())
          for (const [i, fields] of given.entries()) {
            const { version } = await opened.run(
              opened.registry.register({ name: "m", version: `1.0.${i}`, ...fields }),
            )
            expect({ source: version.source, runId: version.runId }).toEqual({
              source: fields.source,
              runId: fields.runId,
            })
          }
          // Half of them before a compaction (the snapshot's bodies), half after (the log's tail).
          await opened.run(opened.registry.compact)
          for (const [i, fields] of given.entries())
            await opened.run(opened.registry.register({ name: "n", version: `1.0.${i}`, ...fields }))
          const before = await opened.run(opened.registry.search({ limit: 1000 }))
          await opened.close()
          opened = await open(layer())
          const after = await opened.run(opened.registry.search({ limit: 1000 }))
          expect(after.versions).toEqual(before.versions)
          for (const [i, fields] of given.entries())
            for (const name of ["m", "n"]) {
              const version = await opened.run(opened.registry.get(name, `1.0.${i}`))
              // In the Schema's and the wire's order: a local CLI prints the record as a server would answer it.
              expect(Object.keys(version)).toEqual(
                ["id", "name", "version", "createdAt", "metrics", "tags", "source", "runId", "state", "aliases"].filter(
                  (key) => Object.hasOwn(version, key),
                ),
              )
              expect(Object.hasOwn(version, "source")).toBe(fields.source !== undefined)
              expect(Object.hasOwn(version, "runId")).toBe(fields.runId !== undefined)
              expect({ source: version.source, runId: version.runId }).toEqual({
                source: fields.source,
                runId: fields.runId,
              })
            }
          await opened.close()
        } finally {
          directory.remove()
        }
      }),
      { numRuns: 25 },
    )
  })

  it("are part of the idempotency comparison", async () => {
    const opened = await open(layerMemory())
    try {
      const { registry } = opened
      const first = { name: "m", version: "1.0.0", source: "s3://b/m/1", runId: "run-1" }
      expect((await opened.run(registry.register(first))).event).not.toBeNull()
      expect((await opened.run(registry.register(first))).event).toBeNull()
      for (const changed of [
        { ...first, source: "s3://b/m/2" },
        { ...first, runId: "run-2" },
        { name: "m", version: "1.0.0", runId: "run-1" },
        { name: "m", version: "1.0.0", source: "s3://b/m/1" },
      ])
        expect(failureTag(await opened.exitOf(registry.register(changed)))).toBe("VersionConflict")
    } finally {
      await opened.close()
    }
  })

  it("refuse what is not an absolute URI or a printable run id, naming the field, and write nothing", async () => {
    const opened = await open(layerMemory())
    try {
      const { registry } = opened
      for (const [field, value] of [
        ["source", "models/resnet"],
        ["source", "s3://bucket/with space"],
        ["source", "s3://bucket/%zz"],
        ["source", `s3://${"a".repeat(2044)}`],
        ["runId", ""],
        ["runId", "run\n1"],
        ["runId", "r".repeat(257)],
      ] as const) {
        const failure = failureOf(
          await opened.exitOf(registry.register({ name: "m", version: "1.0.0", [field]: value })),
        )
        expect(failure).toMatchObject({ _tag: "InvalidInput", field })
      }
      expect((await opened.run(registry.stats)).lastSeq).toBe(0)
    } finally {
      await opened.close()
    }
  })
})
