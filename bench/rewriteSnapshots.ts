/**
 * Rewrites every snapshot of a data directory in the state format the current code writes, leaving the log and
 * everything else as they are: the same registry in two snapshot formats, for A/B opens of a format change
 * (bench/results/issue-15-snapshot.md). Only for directories of the bench's own making; it writes in place.
 *
 *   node --import tsx bench/rewriteSnapshots.ts <directory>
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { crc32 } from "node:zlib"
import { Either } from "effect"
import { decodeIndexState, encodeIndexState } from "../src/actors/snapshotCodec.ts"
import { makeCrc32 } from "../src/storage/Checksum.ts"
import { registryIdBytes } from "../src/storage/SegmentHeader.ts"
import { decodeSnapshot, encodeSnapshot } from "../src/storage/SnapshotFormat.ts"

const directory = process.argv[2]
if (directory === undefined) throw new Error("usage: rewriteSnapshots.ts <directory>")
const checksum = makeCrc32((data, previous) => crc32(data, previous))
for (const name of readdirSync(directory).filter((file) => file.endsWith(".snap"))) {
  const file = join(directory, name)
  const bytes = new Uint8Array(readFileSync(file))
  const registryId = bytes.slice(8, 8 + registryIdBytes)
  const snapshot = decodeSnapshot(bytes, registryId, checksum)
  if (typeof snapshot === "string") throw new Error(`${file}: ${snapshot}`)
  const state = Either.getOrThrowWith(decodeIndexState(snapshot.state), (reason) => new Error(`${file}: ${reason}`))
  writeFileSync(
    file,
    encodeSnapshot({ lastSeq: snapshot.lastSeq, state: encodeIndexState(state) }, registryId, checksum),
  )
  process.stdout.write(`rewrote ${file}\n`)
}
