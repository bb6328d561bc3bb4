/**
 * The rules `promtool check metrics` enforces on a text exposition (0.0.4), for tests: promtool is a Go binary that
 * no package registry this project installs from ships, so its parser's refusals and its linter's (client_golang's
 * promlint) problems are restated here, each message quoting promlint's where promlint has one. Three rules go
 * further than promtool 2.42, which lets them pass: every family has a TYPE line, a family's lines form one group
 * (the format requires it; a scraper may drop the second group), and a histogram's series are consistent
 * (increasing bounds, cumulative counts, a `+Inf` bucket equal to `_count`, a `_sum`).
 */

type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped"

interface FamilyState {
  type?: MetricType
  help?: string
  /** Whether a sample of another family came after this family's samples started. */
  closed: boolean
  samples: Array<{ name: string; labels: Map<string, string>; value: number }>
}

const metricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const types = new Set(["counter", "gauge", "histogram", "summary", "untyped"])
const unitAbbreviations = new Set(["s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d"])
const nonBaseUnits = new Map([
  ["milliseconds", "seconds"],
  ["microseconds", "seconds"],
  ["nanoseconds", "seconds"],
  ["minutes", "seconds"],
  ["hours", "seconds"],
  ["days", "seconds"],
  ["weeks", "seconds"],
  ["kilobytes", "bytes"],
  ["megabytes", "bytes"],
  ["gigabytes", "bytes"],
  ["bits", "bytes"],
  ["kilograms", "grams"],
  ["kilometers", "meters"],
  ["celsius", "kelvin"],
])

const parseValue = (text: string): number | undefined => {
  if (text === "+Inf" || text === "Inf") return Infinity
  if (text === "-Inf") return -Infinity
  if (text === "NaN") return Number.NaN
  return /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text) ? Number(text) : undefined
}

/** Parses `{a="x",b="y"}` (the braces included) into a map; a string is the syntax error. */
const parseLabels = (text: string): Map<string, string> | string => {
  const labels = new Map<string, string>()
  let rest = text.slice(1)
  while (!rest.startsWith("}")) {
    const match = rest.match(/^([^=,}]*)="((?:[^"\\\n]|\\[\\"n])*)"(,?)/)
    if (!match) return `malformed label set ${text}`
    const [whole, name, value, comma] = match as unknown as [string, string, string, string]
    if (!labelNamePattern.test(name) || name.startsWith("__")) return `invalid label name "${name}"`
    if (labels.has(name)) return `duplicate label name "${name}"`
    labels.set(
      name,
      value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c)),
    )
    rest = rest.slice(whole.length)
    if (comma === "" && !rest.startsWith("}")) return `malformed label set ${text}`
  }
  return rest === "}" ? labels : `text after the label set ${text}`
}

/** The family a sample name belongs to, given the families declared so far. */
const familyOf = (name: string, families: Map<string, FamilyState>): string => {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue
    const base = name.slice(0, -suffix.length)
    const type = families.get(base)?.type
    if (type === "histogram" || (type === "summary" && suffix !== "_bucket")) return base
  }
  return name
}

/** Every problem promtool (or the histogram rules) finds in `text`; empty when it passes. */
export const promtoolProblems = (text: string): Array<string> => {
  const problems: Array<string> = []
  const families = new Map<string, FamilyState>()
  let current: string | undefined
  const family = (name: string) => {
    let state = families.get(name)
    if (!state) {
      state = { closed: false, samples: [] }
      families.set(name, state)
    }
    return state
  }
  if (!text.endsWith("\n")) problems.push("the exposition must end with a newline")
  for (const line of text.split("\n").slice(0, -1)) {
    if (line.trim() === "") continue
    const comment = line.match(/^#\s*(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/)
    if (comment) {
      const [, keyword, name, rest = ""] = comment as unknown as [string, string, string, string?]
      if (!metricNamePattern.test(name)) problems.push(`invalid metric name "${name}"`)
      const state = family(name)
      if (keyword === "HELP") {
        if (state.help !== undefined) problems.push(`second HELP line for metric name "${name}"`)
        state.help = rest
      } else {
        if (state.type !== undefined) problems.push(`second TYPE line for metric name "${name}"`)
        else if (state.samples.length > 0) problems.push(`TYPE line for "${name}" after its samples`)
        if (!types.has(rest.trim())) problems.push(`unknown metric type "${rest}"`)
        state.type = rest.trim() as MetricType
      }
      if (current !== name && current !== undefined) families.get(current)!.closed = true
      if (state.closed && current !== name) problems.push(`metric family "${name}" appears twice`)
      current = name
      continue
    }
    if (line.startsWith("#")) continue
    const sample = line.match(/^([^\s{]+)(\{[^}]*(?:"[^"]*"[^}]*)*\})?\s+(\S+)(?:\s+(-?\d+))?$/)
    if (!sample) {
      problems.push(`malformed sample line: ${line}`)
      continue
    }
    const [, name, labelText, valueText] = sample as unknown as [string, string, string | undefined, string]
    if (!metricNamePattern.test(name)) problems.push(`invalid metric name "${name}"`)
    const labels = labelText ? parseLabels(labelText) : new Map<string, string>()
    if (typeof labels === "string") {
      problems.push(`${name}: ${labels}`)
      continue
    }
    const value = parseValue(valueText)
    if (value === undefined) problems.push(`${name}: invalid value "${valueText}"`)
    const familyName = familyOf(name, families)
    if (current !== familyName) {
      if (current !== undefined) families.get(current)!.closed = true
      if (families.get(familyName)?.closed) problems.push(`metric family "${familyName}" appears twice`)
      current = familyName
    }
    family(familyName).samples.push({ name, labels, value: value ?? Number.NaN })
  }
  for (const [name, state] of families) problems.push(...lint(name, state))
  return problems
}

/** promlint's problems with one family, and the histogram consistency rules. */
const lint = (name: string, state: FamilyState): Array<string> => {
  const problems: Array<string> = []
  const type = state.type ?? "untyped"
  if (state.type === undefined) problems.push(`${name} has no TYPE line`)
  if (state.help === undefined || state.help.trim() === "") problems.push(`${name} no help text`)
  if (type === "counter" && !name.endsWith("_total"))
    problems.push(`${name} counter metrics should have "_total" suffix`)
  if (type !== "counter" && name.endsWith("_total"))
    problems.push(`${name} non-counter metrics should not have "_total" suffix`)
  if (name.includes(":")) problems.push(`${name} metric names should not contain ':'`)
  if (/[a-z][A-Z]/.test(name)) problems.push(`${name} metric names should be written in 'snake_case' not 'camelCase'`)
  const parts = name.split("_")
  for (const part of parts) {
    if (unitAbbreviations.has(part)) problems.push(`${name} metric names should not contain abbreviated units`)
    const base = nonBaseUnits.get(part)
    if (base) problems.push(`${name} use base unit "${base}" instead of "${part}"`)
    if (types.has(part)) problems.push(`${name} metric name should not include type '${part}'`)
  }
  for (const sample of state.samples) {
    for (const label of sample.labels.keys())
      if (/[a-z][A-Z]/.test(label))
        problems.push(`${name} label names should be written in 'snake_case' not 'camelCase'`)
    if (type !== "histogram" && (sample.name.endsWith("_bucket") || sample.labels.has("le")))
      problems.push(`${name} non-histogram metrics should not have "_bucket" suffix or "le" label`)
    if (type !== "histogram" && type !== "summary" && /_(count|sum)$/.test(sample.name))
      problems.push(`${name} non-histogram and non-summary metrics should not have "_count" or "_sum" suffix`)
    if (type !== "summary" && sample.labels.has("quantile"))
      problems.push(`${name} non-summary metrics should not have "quantile" label`)
  }
  if (type === "histogram") problems.push(...histogramProblems(name, state))
  return problems
}

const seriesKey = (labels: Map<string, string>) =>
  JSON.stringify([...labels].filter(([key]) => key !== "le").sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))

const histogramProblems = (name: string, state: FamilyState): Array<string> => {
  const problems: Array<string> = []
  const series = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>()
  for (const sample of state.samples) {
    const key = seriesKey(sample.labels)
    const entry = series.get(key) ?? { buckets: [] }
    series.set(key, entry)
    if (sample.name === `${name}_bucket`) {
      const bound = parseValue(sample.labels.get("le") ?? "")
      if (bound === undefined) problems.push(`${name}${key}: bucket without a numeric "le"`)
      else entry.buckets.push([bound, sample.value])
    } else if (sample.name === `${name}_sum`) entry.sum = sample.value
    else if (sample.name === `${name}_count`) entry.count = sample.value
    else problems.push(`${name}: unexpected sample ${sample.name} in a histogram`)
  }
  for (const [key, { buckets, sum, count }] of series) {
    for (let i = 1; i < buckets.length; i++) {
      if (buckets[i]![0] <= buckets[i - 1]![0]) problems.push(`${name}${key}: bucket bounds not increasing`)
      if (buckets[i]![1] < buckets[i - 1]![1]) problems.push(`${name}${key}: bucket counts not cumulative`)
    }
    const last = buckets.at(-1)
    if (last?.[0] !== Infinity) problems.push(`${name}${key}: no le="+Inf" bucket`)
    if (sum === undefined) problems.push(`${name}${key}: no _sum`)
    if (count === undefined) problems.push(`${name}${key}: no _count`)
    else if (last !== undefined && last[1] !== count) problems.push(`${name}${key}: +Inf bucket differs from _count`)
  }
  return problems
}
