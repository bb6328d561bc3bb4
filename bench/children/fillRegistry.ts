/**
 * Fills a data directory with `versions` registers through the Effect API, log only (automatic compaction off),
 * for measurements of the maintenance commands on a large directory (bench/results/issue-12-wal-dump-memory.md).
 * The CLI's `register` starts a process per version, far too slow for 200,000.
 *
 *   node --import tsx bench/children/fillRegistry.ts <directory> <versions>
 */

import { makeRecordSource } from "../harness/records.ts"
import { loadConcurrency } from "../harness/registryData.ts"
import { loadRecords, openRegistryAt } from "../harness/registryLoad.ts"

const [directory, count] = process.argv.slice(2)
const versions = Number(count)
if (directory === undefined || !Number.isSafeInteger(versions) || versions < 1)
  throw new Error("usage: fillRegistry.ts <directory> <versions>")

const registry = await openRegistryAt(directory)
try {
  const loaded = await loadRecords(registry, makeRecordSource(), versions, loadConcurrency)
  console.log(`${versions} versions in ${loaded.seconds.toFixed(1)} s`)
} finally {
  await registry.close()
}
