/**
 * The lifecycle the server runs as a picture: states in layers by distance from the initial state, each with the
 * count of versions in it, and transitions as labelled arrows (curved, so a pair in opposite directions stays apart).
 */
import { api, type Lifecycle } from "../api.ts"
import { Show, useLoad } from "../common.tsx"

const boxWidth = 180
const boxHeight = 56
const columnGap = 130
const rowGap = 110
const margin = 40

/** Every version in `state`, counted a page (1,000) at a time: the API has no count. */
const countIn = async (state: string): Promise<number> => {
  let count = 0
  let cursor: string | null = null
  do {
    const page: { versions: ReadonlyArray<unknown>; nextCursor: string | null } = await api.versionsInState(
      state,
      cursor,
    )
    count += page.versions.length
    cursor = page.nextCursor
  } while (cursor !== null)
  return count
}

const layout = (lifecycle: Lifecycle) => {
  const layer = new Map<string, number>([[lifecycle.initial, 0]])
  const queue = [lifecycle.initial]
  while (queue.length > 0) {
    const from = queue.shift()!
    for (const t of lifecycle.transitions)
      if (t.from === from && !layer.has(t.to)) {
        layer.set(t.to, layer.get(from)! + 1)
        queue.push(t.to)
      }
  }
  const deepest = Math.max(0, ...layer.values())
  for (const state of lifecycle.states) if (!layer.has(state)) layer.set(state, deepest + 1)
  const rows = new Map<number, number>()
  const position = new Map<string, { x: number; y: number }>()
  for (const state of lifecycle.states) {
    const column = layer.get(state)!
    const row = rows.get(column) ?? 0
    rows.set(column, row + 1)
    position.set(state, { x: margin + column * (boxWidth + columnGap), y: margin + row * (boxHeight + rowGap) })
  }
  const columns = Math.max(...layer.values()) + 1
  const height = Math.max(...rows.values())
  return {
    position,
    width: 2 * margin + columns * boxWidth + (columns - 1) * columnGap,
    height: 2 * margin + height * boxHeight + (height - 1) * rowGap,
  }
}

/** The point where the segment from the box's centre towards (tx, ty) leaves the box. */
const edgePoint = (cx: number, cy: number, tx: number, ty: number) => {
  const [dx, dy] = [tx - cx, ty - cy]
  const scale = Math.min(
    dx === 0 ? Number.POSITIVE_INFINITY : boxWidth / 2 / Math.abs(dx),
    dy === 0 ? Number.POSITIVE_INFINITY : boxHeight / 2 / Math.abs(dy),
  )
  return { x: cx + dx * scale, y: cy + dy * scale }
}

const Picture = ({ lifecycle, counts }: { readonly lifecycle: Lifecycle; readonly counts: ReadonlyArray<number> }) => {
  const { position, width, height } = layout(lifecycle)
  const centre = (state: string) => {
    const p = position.get(state)!
    return { x: p.x + boxWidth / 2, y: p.y + boxHeight / 2 }
  }
  const summary = lifecycle.states.map((s, i) => `${s}: ${counts[i]} versions`).join("; ")
  const arrows = lifecycle.transitions.map((t) => `${t.from} —${t.event}→ ${t.to}`).join("; ")
  return (
    <svg
      class="lifecycle"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-labelledby="lc-title lc-desc"
    >
      <title id="lc-title">The lifecycle's statechart</title>
      <desc id="lc-desc">{`${summary}. Transitions: ${arrows}.`}</desc>
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
        </marker>
      </defs>
      {lifecycle.transitions.map((t) => {
        const [a, b] = [centre(t.from), centre(t.to)]
        const [dx, dy] = [b.x - a.x, b.y - a.y]
        const length = Math.hypot(dx, dy) || 1
        // Bend to the right of the direction of travel, so a → b and b → a take different sides.
        const bend = 36
        const control = { x: (a.x + b.x) / 2 - (dy / length) * bend, y: (a.y + b.y) / 2 + (dx / length) * bend }
        const start = edgePoint(a.x, a.y, control.x, control.y)
        const end = edgePoint(b.x, b.y, control.x, control.y)
        const label = { x: (start.x + 2 * control.x + end.x) / 4, y: (start.y + 2 * control.y + end.y) / 4 }
        return (
          <g key={`${t.from}-${t.event}`}>
            <path
              class="transition"
              d={`M${start.x},${start.y} Q${control.x},${control.y} ${end.x},${end.y}`}
              marker-end="url(#arrow)"
            />
            <text class="edge-label" x={label.x} y={label.y - 6} text-anchor="middle">
              {t.event}
              {t.guarded ? " [guarded]" : ""}
            </text>
          </g>
        )
      })}
      {lifecycle.states.map((state, i) => {
        const p = position.get(state)!
        const terminal = lifecycle.terminal.includes(state)
        return (
          <g key={state}>
            <rect
              class={terminal ? "state-box terminal" : "state-box"}
              x={p.x}
              y={p.y}
              width={boxWidth}
              height={boxHeight}
              rx={10}
            />
            <text class="state-name" x={p.x + boxWidth / 2} y={p.y + 23} text-anchor="middle">
              {state}
              {state === lifecycle.initial ? " (initial)" : ""}
            </text>
            <text class="state-count" x={p.x + boxWidth / 2} y={p.y + 44} text-anchor="middle">
              {counts[i]} version{counts[i] === 1 ? "" : "s"}
            </text>
          </g>
        )
      })}
    </svg>
  )
}

export const LifecyclePage = () => {
  const [data] = useLoad(async () => {
    const lifecycle = await api.lifecycle()
    return { lifecycle, counts: await Promise.all(lifecycle.states.map(countIn)) }
  }, [])
  return (
    <>
      <h1>Lifecycle</h1>
      <Show loaded={data}>
        {({ lifecycle, counts }) => (
          <>
            <Picture lifecycle={lifecycle} counts={counts} />
            <table>
              <caption>Versions in each state</caption>
              <thead>
                <tr>
                  <th scope="col">State</th>
                  <th scope="col" class="num">
                    Versions
                  </th>
                  <th scope="col">Events allowed from it</th>
                </tr>
              </thead>
              <tbody>
                {lifecycle.states.map((state, i) => (
                  <tr key={state}>
                    <th scope="row">{state}</th>
                    <td class="num">{counts[i]}</td>
                    <td>
                      {lifecycle.transitions
                        .filter((t) => t.from === state)
                        .map((t) => `${t.event} → ${t.to}`)
                        .join(", ") || "none (terminal)"}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </Show>
    </>
  )
}
