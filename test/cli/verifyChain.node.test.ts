/**
 * `model-registry verify --chain` through a real process: a record rewritten with a recomputed checksum (a version
 * string changed, so every event still decodes) passes the plain `verify` but fails `verify --chain` with exit 3,
 * naming its seq; a directory of an earlier release verifies and says where its chain starts.
 */
import { cpSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { crc32 } from "node:zlib"
import { Context, Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { layerFile, ModelRegistry } from "../../src/node.ts"
import { segmentFileName } from "../../src/storage/FileNames.ts"
import { recordHeaderBytes } from "../../src/storage/RecordCodec.ts"
import { segmentHeaderBytes } from "../../src/storage/SegmentHeader.ts"
import { runCli, tempDir } from "../http/serverProcess.ts"

/** Replaces `from` by `to` (same length) inside the one record that holds it, and recomputes that record's CRC. */
const rewriteRecord = (file: string, from: string, to: string): number => {
  const bytes = readFileSync(file)
  const at = bytes.indexOf(from)
  bytes.write(to, at)
  const salt = bytes.readUInt32LE(24)
  let seq = 0
  for (let offset = segmentHeaderBytes; offset < bytes.length; ) {
    const end = offset + recordHeaderBytes + bytes.readUInt32LE(offset)
    if (offset <= at && at < end) {
      bytes.writeUInt32LE(crc32(bytes.subarray(offset + 8, end), salt), offset + 4)
      seq = Number(bytes.readBigUInt64LE(offset + 40))
    }
    offset = end
  }
  writeFileSync(file, bytes)
  return seq
}

describe("verify --chain", () => {
  it("fails with exit 3 at the seq of a record rewritten with a valid CRC, which plain verify accepts", async () => {
    const data = tempDir("cli-chain")
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const registry = Context.get(yield* Layer.build(layerFile({ directory: data })), ModelRegistry.ModelRegistry)
          for (const version of ["1.0.0", "1.1.0", "1.2.0"]) yield* registry.register({ name: "resnet", version })
        }),
      ),
    )
    const tampered = tempDir("cli-chain-tampered")
    cpSync(data, tampered, { recursive: true })
    const seq = rewriteRecord(join(tampered, segmentFileName(1)), "1.1.0", "1.1.9")
    expect(seq).toBe(2)

    const [intact, plain, chained] = await Promise.all([
      runCli(["verify", "--data", data, "--chain"]),
      runCli(["verify", "--data", tampered]),
      runCli(["verify", "--data", tampered, "--chain"]),
    ])
    expect(intact.code).toBe(0)
    expect(intact.stdout).toMatch(/chain\s+intact, seq 1\.\.3, head [0-9a-f]{64}/)
    expect(plain.code).toBe(0)
    expect(chained.code).toBe(3)
    expect(chained.stderr).toContain("WalCorrupt")
    expect(chained.stderr).toContain(
      "hash chain broken at seq 2: the record's bytes do not produce its stored chain value",
    )
  })

  it("says where the chain starts in a directory an earlier release wrote", async () => {
    const data = tempDir("cli-chain-old")
    cpSync("test/fixtures/release-0.1.0", data, { recursive: true })
    const verified = await runCli(["verify", "--data", data, "--chain"])
    expect(verified.code).toBe(0)
    expect(verified.stdout).toContain(
      "records 6..18 are not chained (written by an earlier release); the chain starts at seq 19",
    )
  })
})
