/**
 * Renders Effect's metric registry (`Metric.snapshot`) in the Prometheus text exposition format (0.0.4), so
 * any counter, gauge or histogram the core records shows up on `/metrics` without the server knowing of it. The
 * output keeps the rules `promtool check metrics` enforces whatever a metric was declared with: a counter's name
 * ends in `_total`, and every family has HELP and TYPE.
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

/**
 * Effect's own runtime metrics, as exposed. Effect declares them without `_total` and without a description, and
 * `effect_fiber_active` is a counter it also decrements, so it goes out as a gauge. Its fiber lifetime histogram
 * is left out: 33 buckets in milliseconds, up to 50 days, for a figure no dashboard of a registry reads.
 */
interface Exposed {
  readonly name: string
  readonly type?: Family["type"]
  readonly help: string
}
const effectRuntime: Readonly<Record<string, Exposed | null>> = {
  effect_fiber_started: { name: "effect_fiber_started_total", help: "Effect fibers started" },
  effect_fiber_successes: { name: "effect_fiber_successes_total", help: "Effect fibers that completed successfully" },
  effect_fiber_failures: { name: "effect_fiber_failures_total", help: "Effect fibers that failed" },
  effect_fiber_active: { name: "effect_fiber_active", type: "gauge", help: "Effect fibers running now" },
  effect_fiber_lifetimes: null,
}

/** How any other metric goes out: Prometheus' convention (OpenMetrics' rule) is that a counter's name ends in `_total`. */
const exposed = (key: MetricPair.MetricPair.Untyped["metricKey"], type: Family["type"]): Exposed => {
  const name = metricName(key.name)
  return {
    name: type === "counter" && !name.endsWith("_total") ? `${name}_total` : name,
    help: Option.getOrElse(key.description, () => `Effect metric ${key.name} (declared without a description)`),
  }
}

/** Groups the snapshot by metric name (each tag set of a metric is its own pair) and converts each state. */
export const familiesOf = (pairs: Iterable<AnyPair>): ReadonlyArray<Family> => {
  const byName = new Map<string, { type: Family["type"]; help: string; samples: Array<Sample> }>()
  for (const pair of pairs) {
    const key = pair.metricKey
    const declaredType = typeOf(pair.metricState)
    const runtime = effectRuntime[key.name]
    if (declaredType === undefined || runtime === null) continue
    const { name, type = declaredType, help } = runtime ?? exposed(key, declaredType)
    const labels = key.tags.map((tag) => [tag.key, tag.value] as const)
    const family = byName.get(name) ?? { type, help, samples: [] }
    family.samples.push(...samplesOf(name, labels, pair.metricState))
    byName.set(name, family)
  }
  return [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, family]) => ({ name, ...family }))
}

const typeOf = (state: MetricState.MetricState.Untyped): Family["type"] | undefined =>
  MetricState.isHistogramState(state)
    ? "histogram"
    : MetricState.isSummaryState(state)
      ? "summary"
      : MetricState.isFrequencyState(state) || MetricState.isCounterState(state)
        ? "counter"
        : MetricState.isGaugeState(state)
          ? "gauge"
          : undefined

const samplesOf = (
  name: string,
  labels: ReadonlyArray<readonly [string, string]>,
  state: MetricState.MetricState.Untyped,
): Array<Sample> => {
  if (MetricState.isHistogramState(state)) {
    const buckets: Array<Sample> = state.buckets
      .filter(([bound]) => bound !== Infinity)
      .map(([bound, cumulative]) => ({
        name: `${name}_bucket`,
        labels: [...labels, ["le", formatNumber(bound)]],
        value: cumulative,
      }))
    return [
      ...buckets,
      { name: `${name}_bucket`, labels: [...labels, ["le", "+Inf"]], value: state.count },
      { name: `${name}_sum`, labels, value: state.sum },
      { name: `${name}_count`, labels, value: state.count },
    ]
  }
  if (MetricState.isSummaryState(state)) {
    const quantiles = state.quantiles.flatMap(
      ([q, value]): Array<Sample> =>
        Option.isSome(value)
          ? [{ name, labels: [...labels, ["quantile", String(q)] as const], value: value.value }]
          : [],
    )
    return [
      ...quantiles,
      { name: `${name}_sum`, labels, value: state.sum },
      { name: `${name}_count`, labels, value: state.count },
    ]
  }
  if (MetricState.isFrequencyState(state))
    return [...state.occurrences.entries()].map(([word, count]) => ({
      name,
      labels: [...labels, ["key", word] as const],
      value: count,
    }))
  if (MetricState.isCounterState(state)) return [{ name, labels, value: Number(state.count) }]
  if (MetricState.isGaugeState(state)) return [{ name, labels, value: Number(state.value) }]
  return []
}
