/**
 * Memory: heap bytes per stored version beyond the size of its JSON, at each registry size, measured two ways:
 *
 * - **reopened**: a fresh process opens the log-only directory (no snapshot, compaction disabled), collects
 *   garbage twice and reads heapUsed; before minus after, over the versions it holds. Median over repetitions.
 *   This is the registry's steady state: every version is its own parsed object, as after any restart. When the
 *   recovery scenario ran in the same run, its log-only opens are reused rather than repeated.
 * - **after registering**: the loader process itself, right after registering N versions through the Effect API
 *   (compaction disabled), after two full collections. One sample per size. It includes what only a live writer
 *   holds, such as the in-memory tail of recent events kept for subscribers.
 *
 * "Its JSON" is the UTF-8 length of `JSON.stringify` of the version: as `listVersions` returns it (with its
 * lifecycle state) for reopened registries, as the client sent it for the registering process.
 */
import type { OpenProbe } from "../children/openRegistry.ts"
import type { RunContext } from "../harness/context.ts"
import { probeOpen, recordedOpens, registryDataset } from "../harness/registryData.ts"
import { median } from "../harness/stats.ts"

export interface MemoryCell {
  readonly versions: number
  readonly source: "reopened" | "after registering"
  readonly samples: number
  readonly heapDeltaBytes: number
  readonly jsonBytesPerVersion: number
  readonly heapBytesPerVersion: number
  /** heapBytesPerVersion − jsonBytesPerVersion: what the issue's ≤ 400 B target is about. */
  readonly beyondJsonBytesPerVersion: number
  readonly repetitions?: ReadonlyArray<Pick<OpenProbe, "heapBeforeBytes" | "heapAfterBytes" | "jsonBytes" | "versions">>
}

export interface MemoryResult {
  readonly cells: ReadonlyArray<MemoryCell>
}

export const runMemory = async (context: RunContext): Promise<MemoryResult> => {
  const { sizes, tail, coldRepetitions } = context.options
  const cells: Array<MemoryCell> = []
  for (const versions of sizes) {
    const dataset = await registryDataset(context, versions, tail)
    let probes = recordedOpens(dataset, "log")
    if (probes.length < coldRepetitions) {
      await probeOpen(dataset, "log")
      const fresh: Array<OpenProbe> = []
      for (let rep = 1; rep <= coldRepetitions; rep++) {
        fresh.push(await probeOpen(dataset, "log"))
        context.log(`  ${versions.toLocaleString("en-US")} versions, reopened, rep ${rep}/${coldRepetitions}`)
      }
      probes = fresh
    }
    const perVersion = (probe: OpenProbe) => (probe.heapAfterBytes - probe.heapBeforeBytes) / probe.versions
    const jsonPerVersion = (probe: OpenProbe) => probe.jsonBytes / probe.versions
    const heapBytesPerVersion = median(probes.map(perVersion))
    const jsonBytesPerVersion = median(probes.map(jsonPerVersion))
    cells.push({
      versions,
      source: "reopened",
      samples: probes.length,
      heapDeltaBytes: median(probes.map((probe) => probe.heapAfterBytes - probe.heapBeforeBytes)),
      jsonBytesPerVersion,
      heapBytesPerVersion,
      beyondJsonBytesPerVersion: median(probes.map((probe) => perVersion(probe) - jsonPerVersion(probe))),
      repetitions: probes.map(({ heapBeforeBytes, heapAfterBytes, jsonBytes, versions: held }) => ({
        heapBeforeBytes,
        heapAfterBytes,
        jsonBytes,
        versions: held,
      })),
    })
    const { beforeBytes, afterBytes, jsonBytes } = dataset.registerHeap
    const delta = afterBytes - beforeBytes
    cells.push({
      versions,
      source: "after registering",
      samples: 1,
      heapDeltaBytes: delta,
      jsonBytesPerVersion: jsonBytes / versions,
      heapBytesPerVersion: delta / versions,
      beyondJsonBytesPerVersion: (delta - jsonBytes) / versions,
    })
    context.log(
      `  ${versions.toLocaleString("en-US")} versions: ${heapBytesPerVersion.toFixed(0)} B/version reopened, ` +
        `${(delta / versions).toFixed(0)} B/version after registering (JSON ${jsonBytesPerVersion.toFixed(0)} B)`,
    )
  }
  return { cells }
}
