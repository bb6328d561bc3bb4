/**
 * One metric across a model's versions as an SVG line chart, drawn here: a charting library would be most of the
 * bundle for one polyline and two axes.
 */
const width = 640
const height = 240
const pad = { left: 56, right: 16, top: 16, bottom: 48 }

export const Chart = ({
  metric,
  points,
}: {
  readonly metric: string
  readonly points: ReadonlyArray<{ readonly version: string; readonly value: number }>
}) => {
  if (points.length === 0) return <p>No version has the metric “{metric}”.</p>
  const values = points.map((p) => p.value)
  let min = Math.min(...values)
  let max = Math.max(...values)
  if (min === max) {
    min -= 1
    max += 1
  }
  const x = (i: number) =>
    pad.left + (points.length === 1 ? 0.5 : i / (points.length - 1)) * (width - pad.left - pad.right)
  const y = (v: number) => pad.top + (1 - (v - min) / (max - min)) * (height - pad.top - pad.bottom)
  const line = points.map((p, i) => `${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ")
  const ticks = [min, (min + max) / 2, max]
  return (
    <figure>
      <svg class="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="chart-title chart-desc">
        <title id="chart-title">{metric} across versions</title>
        <desc id="chart-desc">{points.map((p) => `${p.version}: ${p.value}`).join("; ")}</desc>
        <line class="axis" x1={pad.left} y1={height - pad.bottom} x2={width - pad.right} y2={height - pad.bottom} />
        <line class="axis" x1={pad.left} y1={pad.top} x2={pad.left} y2={height - pad.bottom} />
        {ticks.map((t) => (
          <text key={t} class="tick" x={pad.left - 6} y={y(t) + 4} text-anchor="end">
            {Number(t.toPrecision(4))}
          </text>
        ))}
        <polyline class="series" points={line} />
        {points.map((p, i) => (
          <g key={p.version}>
            <circle class="point" cx={x(i)} cy={y(p.value)} r={4} />
            <text class="tick" x={x(i)} y={height - pad.bottom + 18} text-anchor="middle">
              {p.version}
            </text>
          </g>
        ))}
      </svg>
      <figcaption>
        {metric} of {points.length} version{points.length === 1 ? "" : "s"}, in SemVer order
      </figcaption>
    </figure>
  )
}
