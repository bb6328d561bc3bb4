/**
 * Renders Effect's metric registry (`Metric.snapshot`) in the Prometheus text exposition format (0.0.4), so
 * any counter, gauge or histogram the core records shows up on `/metrics` without the server knowing of it.
 */
import { Option } from "effect"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"

export interface Sample {
  readonly name: string
  readonly labels: ReadonlyArray<readonly [string, string]>
  readonly value: number
}

export interface Family {
  readonly name: string
  readonly type: "counter" | "gauge" | "histogram" | "summary"
  readonly help: string
  readonly samples: ReadonlyArray<Sample>
}

const metricName = (name: string) => name.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/^([0-9])/, "_$1")
const labelName = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, "_").replace(/^([0-9])/, "_$1")
const labelValue = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')

const formatNumber = (value: number) =>
  Number.isNaN(value) ? "NaN" : value === Infinity ? "+Inf" : value === -Infinity ? "-Inf" : String(value)

const formatLabels = (labels: ReadonlyArray<readonly [string, string]>) =>
  labels.length === 0 ? "" : `{${labels.map(([k, v]) => `${labelName(k)}="${labelValue(v)}"`).join(",")}}`

export const renderFamilies = (families: ReadonlyArray<Family>): string => {
  const lines: Array<string> = []
  for (const family of families) {
    const name = metricName(family.name)
    if (family.help) lines.push(`# HELP ${name} ${family.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`)
    lines.push(`# TYPE ${name} ${family.type}`)
    for (const sample of family.samples)
      lines.push(`${metricName(sample.name)}${formatLabels(sample.labels)} ${formatNumber(sample.value)}`)
  }
  return `${lines.join("\n")}\n`
}

type AnyPair = MetricPair.MetricPair.Untyped

/** Groups the snapshot by metric name (each tag set of a metric is its own pair) and converts each state. */
export const familiesOf = (pairs: Iterable<AnyPair>): ReadonlyArray<Family> => {
  const byName = new Map<string, { type: Family["type"]; help: string; samples: Array<Sample> }>()
  for (const pair of pairs) {
    const key = pair.metricKey
    const name = metricName(key.name)
    const labels = key.tags.map((tag) => [tag.key, tag.value] as const)
    const converted = convert(name, labels, pair.metricState)
    if (!converted) continue
    const family = byName.get(name) ?? {
      type: converted.type,
      help: Option.getOrElse(key.description, () => ""),
      samples: [],
    }
    family.samples.push(...converted.samples)
    byName.set(name, family)
  }
  return [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, family]) => ({ name, ...family }))
}

const convert = (
  name: string,
  labels: ReadonlyArray<readonly [string, string]>,
  state: MetricState.MetricState.Untyped,
): { type: Family["type"]; samples: Array<Sample> } | undefined => {
  if (MetricState.isHistogramState(state)) {
    const histogram = state
    const buckets = histogram.buckets
    const samples: Array<Sample> = buckets
      .filter(([bound]) => bound !== Infinity)
      .map(([bound, cumulative]) => ({
        name: `${name}_bucket`,
        labels: [...labels, ["le", formatNumber(bound)]],
        value: cumulative,
      }))
    samples.push({ name: `${name}_bucket`, labels: [...labels, ["le", "+Inf"]], value: histogram.count })
    samples.push({ name: `${name}_sum`, labels, value: histogram.sum })
    samples.push({ name: `${name}_count`, labels, value: histogram.count })
    return { type: "histogram", samples }
  }
  if (MetricState.isSummaryState(state)) {
    const summary = state
    const samples: Array<Sample> = summary.quantiles.flatMap(
      ([q, value]): Array<Sample> =>
        Option.isSome(value)
          ? [{ name, labels: [...labels, ["quantile", String(q)] as const], value: value.value }]
          : [],
    )
    samples.push({ name: `${name}_sum`, labels, value: summary.sum })
    samples.push({ name: `${name}_count`, labels, value: summary.count })
    return { type: "summary", samples }
  }
  if (MetricState.isFrequencyState(state)) {
    const frequency = state
    const samples = [...frequency.occurrences.entries()].map(([word, count]) => ({
      name,
      labels: [...labels, ["key", word] as const],
      value: count,
    }))
    return { type: "counter", samples }
  }
  if (MetricState.isCounterState(state)) {
    const value = state.count
    return { type: "counter", samples: [{ name, labels, value: Number(value) }] }
  }
  if (MetricState.isGaugeState(state)) {
    const value = state.value
    return { type: "gauge", samples: [{ name, labels, value: Number(value) }] }
  }
  return undefined
}
