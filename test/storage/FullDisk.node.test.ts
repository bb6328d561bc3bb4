/**
 * A real full disk at a segment roll: the data directory on a small tmpfs (mounting needs root, which CI has), the
 * disk filled up by another file, and registers go on until the next one must roll to a new segment. That batch
 * fails with `StorageFailed { reason: "NoSpace" }`, the registry stays available (it is not latched failed), and
 * once space is freed the next register rolls and is acknowledged; a reopen finds every acknowledged version.
 * The injected-ENOSPC tests in Failure.test.ts and ModelRegistry.test.ts pin the exact step; this one shows the
 * kernel's own ENOSPC takes the same path.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { openRegistry } from "../../src/node.ts"

const isRoot = process.getuid?.() === 0

/** Writes 1 KiB chunks to `file` until the file system refuses one. */
const fillUp = (file: string) => {
  const chunk = new Uint8Array(1024)
  for (let i = 0; ; i++) {
    try {
      writeFileSync(file, chunk, { flag: "a" })
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe("ENOSPC")
      return i
    }
  }
}

describe("a real full disk at a segment roll (tmpfs)", () => {
  it.runIf(isRoot)(
    "fails the batch that rolls with NoSpace, stays available, rolls once space is freed, and loses nothing",
    async () => {
      const mountPoint = mkdtempSync(join(tmpdir(), "mr-full-disk-"))
      const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint])
      if (mounted.status !== 0) throw new Error(`mount -t tmpfs failed here: ${mounted.error ?? mounted.stderr}`)
      try {
        const directory = join(mountPoint, "data")
        mkdirSync(directory)
        // One tmpfs page per segment: appends within a segment need no new space, and a roll needs a new page.
        const options = { directory, segmentBytesMax: 4096, recordBytesMax: 1024 }
        const registry = await openRegistry(options)
        const acknowledged: Array<string> = []
        const register = (version: string) =>
          registry.register({ name: "full-disk", version, metrics: { accuracy: 0.9 } }).then(
            () => {
              acknowledged.push(version)
              return undefined
            },
            (error: unknown) => error,
          )
        expect(await register("1.0.0")).toBeUndefined()
        fillUp(join(mountPoint, "filler"))

        let refused: unknown
        let minor = 1
        for (; minor < 100 && refused === undefined; minor++) refused = await register(`1.${minor}.0`)
        expect(refused).toMatchObject({ _tag: "StorageFailed", reason: "NoSpace" })
        // The kernel refused the new segment's first write: the full disk struck at the roll.
        expect((refused as { readonly path: string }).path).toMatch(/wal-\d+\.seg\.tmp$/)
        expect(acknowledged.length).toBeGreaterThan(1)
        // Still full: the roll is tried again and refused again, without latching the registry.
        expect(await register(`1.${minor}.0`)).toMatchObject({ _tag: "StorageFailed", reason: "NoSpace" })

        rmSync(join(mountPoint, "filler"))
        expect(await register(`2.0.0`)).toBeUndefined()
        expect(await register(`2.1.0`)).toBeUndefined()
        await registry.close()

        const reopened = await openRegistry(options)
        const versions = (await reopened.listVersions("full-disk")).map((v) => v.version)
        await reopened.close()
        expect(versions.sort()).toEqual([...acknowledged].sort())
      } finally {
        spawnSync("umount", ["-l", mountPoint])
        rmSync(mountPoint, { recursive: true, force: true })
      }
    },
    60_000,
  )

  it.runIf(!isRoot)("NOT RUN without root: mounting a small tmpfs needs root, which CI has", () => {
    expect(process.getuid?.()).not.toBe(0)
  })
})
