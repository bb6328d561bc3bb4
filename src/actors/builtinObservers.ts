/**
 * The built-in observers: an NDJSON audit log and Effect metrics by event type. Both are plain
 * deliveries run by the supervised ObserverActor, so they get cursors, retries and dead letters like any
 * user observer, and can never slow the registry.
 */
import { Effect, FiberRef, Metric, MetricLabel } from "effect"
import type { StorageFailed } from "../domain/errors.ts"
import type { RegistryEvent } from "../domain/RegistryEvent.ts"
import type { AppendSink } from "../storage/AppendSink.ts"
import type { Delivery } from "./ObserverActor.ts"

export const eventsCounter = Metric.counter("registry_events_total", {
  description: "committed events, by type, as seen by the metrics observer",
})

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder()

/** The seq of the newest readable line of an NDJSON audit file (0 when there is none). */
const lastSeqIn = (bytes: Uint8Array): number => {
  const lines = utf8Decoder.decode(bytes).split("\n")
  // Only newline-terminated lines count: an unfinished last line (even one that parses) is cut by the sink before
  // its next append, so its event must be written again.
  lines.pop()
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const parsed: unknown = JSON.parse(lines[i]!)
      if (typeof parsed === "object" && parsed !== null && "seq" in parsed && typeof parsed.seq === "number")
        return parsed.seq
    } catch {
      // Not JSON: look further back.
    }
  }
  return 0
}

/**
 * One line per event, appended and fsynced once per chunk. Redelivery after a crash is deduplicated by seq
 * against the file's last line, so the file is exactly the event stream: no gap, no duplicate.
 */
export const auditLog = (sink: AppendSink, file: string): Delivery<StorageFailed> => {
  let written: number | undefined
  return {
    _tag: "Chunk",
    handle: (events: ReadonlyArray<RegistryEvent>) =>
      Effect.gen(function* () {
        written ??= lastSeqIn(yield* sink.readAll(file))
        const fresh = events.filter((event) => event.seq > written!)
        if (fresh.length === 0) return
        yield* sink.append(file, utf8Encoder.encode(fresh.map((event) => `${JSON.stringify(event)}\n`).join("")))
        written = fresh[fresh.length - 1]!.seq
      }),
  }
}

type Labels = ReadonlyArray<MetricLabel.MetricLabel>

/**
 * Label sets by the fiber's own labels (one array for an observer's whole life) and event type, made once: a metric
 * finds its series by the identity of the label array it is given, where `Metric.tagged` per event built and hashed
 * a new key every time (a few percent of a served register's CPU, bench/results/issue-15-server.md).
 */
const typeLabels = new WeakMap<Labels, Map<string, Labels>>()
const labelsOfType = (type: string, fiberLabels: Labels): Labels => {
  let byType = typeLabels.get(fiberLabels)
  if (byType === undefined) {
    byType = new Map()
    typeLabels.set(fiberLabels, byType)
  }
  let labels = byType.get(type)
  if (labels === undefined) {
    labels = [...fiberLabels, MetricLabel.make("type", type)]
    byType.set(type, labels)
  }
  return labels
}

/** Counts events by type in `registry_events_total{type=…}`, with the labels the fiber's metrics carry. */
export const metrics: Delivery<never> = {
  _tag: "Counter",
  count: (events) =>
    FiberRef.getWith(FiberRef.currentMetricLabels, (fiberLabels) =>
      Effect.sync(() => {
        // One update per run of equal types: a chunk is mostly one type.
        for (let i = 0; i < events.length; ) {
          const type = events[i]!._tag
          let end = i + 1
          while (end < events.length && events[end]!._tag === type) end++
          eventsCounter.unsafeUpdate(end - i, labelsOfType(type, fiberLabels))
          i = end
        }
      }),
    ),
}
