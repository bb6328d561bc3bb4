import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric, MetricBoundaries } from "effect"
import { familiesOf, renderFamilies } from "../../src/http/prometheus.ts"

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
      expect(text).toContain("# TYPE t_prom_requests counter")
      expect(text).toContain('t_prom_requests{route="/a"} 3')
      expect(text).toContain("# TYPE t_prom_depth gauge\nt_prom_depth 7")
      expect(text).toContain("# TYPE t_prom_seconds histogram")
      expect(text).toContain('t_prom_seconds_bucket{le="1"} 1')
      expect(text).toContain('t_prom_seconds_bucket{le="+Inf"} 2')
      expect(text).toContain("t_prom_seconds_sum 5.5")
      expect(text).toContain("t_prom_seconds_count 2")
      expect(text).toContain('t_prom_kinds{key="x"} 1')
      expect(text).toContain("# TYPE t_prom_sizes summary")
      expect(text).toContain('t_prom_sizes{quantile="0.5"} 4')
      expect(text).toContain("t_prom_sizes_count 1")
    }),
  )
})
