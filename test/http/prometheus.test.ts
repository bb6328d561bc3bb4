import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric, MetricBoundaries } from "effect"
import { familiesOf, renderFamilies } from "../../src/http/prometheus.ts"
import { promtoolProblems } from "./promtoolRules.ts"

describe("Prometheus rendering of Effect's metrics", () => {
  it.effect("renders each kind of metric state as its Prometheus family", () =>
    Effect.gen(function* () {
      yield* Metric.incrementBy(Metric.counter("t_prom_requests").pipe(Metric.tagged("route", "/a")), 3)
      yield* Metric.set(Metric.gauge("t_prom_depth"), 7)
      const latency = Metric.histogram("t_prom_seconds", MetricBoundaries.linear({ start: 1, width: 1, count: 2 }))
      yield* Metric.update(latency, 0.5)
      yield* Metric.update(latency, 5)
      yield* Metric.update(Metric.frequency("t_prom_kinds"), "x")
      yield* Metric.update(
        Metric.summary({ name: "t_prom_sizes", maxAge: "1 minute", maxSize: 10, error: 0, quantiles: [0.5] }),
        4,
      )
      const text = renderFamilies(familiesOf(yield* Metric.snapshot))
      expect(text).toContain("# TYPE t_prom_requests_total counter")
      expect(text).toContain('t_prom_requests_total{route="/a"} 3')
      expect(text).toContain("# TYPE t_prom_depth gauge\nt_prom_depth 7")
      expect(text).toContain("# TYPE t_prom_seconds histogram")
      expect(text).toContain('t_prom_seconds_bucket{le="1"} 1')
      expect(text).toContain('t_prom_seconds_bucket{le="+Inf"} 2')
      expect(text).toContain("t_prom_seconds_sum 5.5")
      expect(text).toContain("t_prom_seconds_count 2")
      expect(text).toContain('t_prom_kinds_total{key="x"} 1')
      expect(text).toContain("# TYPE t_prom_sizes summary")
      expect(text).toContain('t_prom_sizes{quantile="0.5"} 4')
      expect(text).toContain("t_prom_sizes_count 1")
      expect(promtoolProblems(text)).toEqual([])
    }),
  )

  it.effect("exposes Effect's runtime metrics under promtool's rules: `_total`, HELP, the active count a gauge", () =>
    Effect.gen(function* () {
      yield* Metric.increment(Metric.fiberStarted)
      yield* Metric.increment(Metric.fiberSuccesses)
      yield* Metric.increment(Metric.fiberFailures)
      yield* Metric.increment(Metric.fiberActive)
      yield* Metric.update(Metric.fiberLifetimes, 12)
      const text = renderFamilies(familiesOf(yield* Metric.snapshot))
      expect(promtoolProblems(text)).toEqual([])
      expect(text).toContain("# HELP effect_fiber_started_total Effect fibers started\n")
      expect(text).toMatch(/^effect_fiber_successes_total \d+$/m)
      expect(text).toMatch(/^effect_fiber_failures_total \d+$/m)
      expect(text).toContain("# TYPE effect_fiber_active gauge\n")
      expect(text).not.toContain("effect_fiber_lifetimes")
    }),
  )

  it.effect("gives a counter declared without `_total` or a description both", () =>
    Effect.gen(function* () {
      yield* Metric.increment(Metric.counter("t_prom_bare"))
      const text = renderFamilies(familiesOf(yield* Metric.snapshot))
      expect(text).toContain(
        "# HELP t_prom_bare_total Effect metric t_prom_bare (declared without a description)\n# TYPE t_prom_bare_total counter\nt_prom_bare_total 1\n",
      )
      expect(promtoolProblems(text)).toEqual([])
    }),
  )
})

describe("the promtool rules the tests check expositions against", () => {
  const family = (lines: string) => `${lines}\n`
  it.each([
    ["a counter without _total", "# HELP a_x x\n# TYPE a_x counter\na_x 1", 'a_x counter metrics should have "_total"'],
    ["a family without HELP", "# TYPE a_total counter\na_total 1", "a_total no help text"],
    ["a family without TYPE", "# HELP a x\na 1", "a has no TYPE line"],
    ["a gauge named _total", "# HELP a_total x\n# TYPE a_total gauge\na_total 1", "non-counter metrics"],
    [
      "a family twice",
      "# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na 2",
      'family "a" appears twice',
    ],
    ["a second TYPE", "# HELP a x\n# TYPE a gauge\n# TYPE a gauge\na 1", 'second TYPE line for metric name "a"'],
    ["a bad label name", '# HELP a x\n# TYPE a gauge\na{0x="1"} 1', 'invalid label name "0x"'],
    ["an unquoted label value", "# HELP a x\n# TYPE a gauge\na{x=1} 1", "malformed label set"],
    ["a duplicate label", '# HELP a x\n# TYPE a gauge\na{x="1",x="2"} 1', 'duplicate label name "x"'],
    [
      "a non-base unit",
      "# HELP a_milliseconds x\n# TYPE a_milliseconds gauge\na_milliseconds 1",
      'base unit "seconds"',
    ],
    ["an abbreviated unit", "# HELP a_ms x\n# TYPE a_ms gauge\na_ms 1", "abbreviated units"],
    ["camelCase", "# HELP aB x\n# TYPE aB gauge\naB 1", "'snake_case' not 'camelCase'"],
    [
      "a histogram whose +Inf bucket differs from its count",
      '# HELP wait_seconds x\n# TYPE wait_seconds histogram\nwait_seconds_bucket{le="1"} 1\nwait_seconds_bucket{le="+Inf"} 2\nwait_seconds_sum 1\nwait_seconds_count 3',
      "+Inf bucket differs from _count",
    ],
    [
      "a histogram whose buckets are not cumulative",
      '# HELP wait_seconds x\n# TYPE wait_seconds histogram\nwait_seconds_bucket{le="1"} 2\nwait_seconds_bucket{le="+Inf"} 1\nwait_seconds_sum 1\nwait_seconds_count 1',
      "not cumulative",
    ],
  ])("refuses %s", (_, text, problem) => {
    expect(promtoolProblems(family(text)).join("\n")).toContain(problem)
  })

  it("accepts a well-formed exposition", () => {
    expect(
      promtoolProblems(
        family(
          '# HELP a_total x\n# TYPE a_total counter\na_total{k="v\\"\\n\\\\"} 1\n# HELP wait_seconds x\n# TYPE wait_seconds histogram\nwait_seconds_bucket{le="1"} 1\nwait_seconds_bucket{le="+Inf"} 2\nwait_seconds_sum 3.5\nwait_seconds_count 2',
        ),
      ),
    ).toEqual([])
  })
})
