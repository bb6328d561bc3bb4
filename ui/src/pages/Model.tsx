/** A model: its versions (sortable by any column, metrics included) and a chart of one metric across them. */
import { useState } from "preact/hooks"
import { api, type Version } from "../api.ts"
import { Show, time, useLoad } from "../common.tsx"
import { href } from "../router.ts"
import { Chart } from "./Chart.tsx"

type Sort = { readonly key: string; readonly descending: boolean }

const numeric = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null)

/** Versions without the sorted metric come last, whichever the order, as the server's search does. */
const compare = (sort: Sort, order: ReadonlyMap<string, number>) => (a: Version, b: Version) => {
  const sign = sort.descending ? -1 : 1
  if (sort.key.startsWith("metric:")) {
    const name = sort.key.slice(7)
    const [x, y] = [numeric(a.metrics[name]), numeric(b.metrics[name])]
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1
    return sign * (x - y)
  }
  // The server lists versions in SemVer order, which `order` keeps.
  if (sort.key === "version") return sign * (order.get(a.version)! - order.get(b.version)!)
  const [x, y] = sort.key === "state" ? [a.state, b.state] : [a.createdAt, b.createdAt]
  return sign * x.localeCompare(y)
}

const SortHeader = ({
  label,
  id,
  sort,
  setSort,
  numericColumn,
}: {
  readonly label: string
  readonly id: string
  readonly sort: Sort
  readonly setSort: (sort: Sort) => void
  readonly numericColumn?: boolean
}) => {
  const active = sort.key === id
  return (
    <th
      scope="col"
      class={numericColumn ? "num" : undefined}
      aria-sort={active ? (sort.descending ? "descending" : "ascending") : "none"}
    >
      <button
        type="button"
        class="sort"
        onClick={() => setSort({ key: id, descending: active ? !sort.descending : false })}
      >
        {label}
        <span aria-hidden="true">{active ? (sort.descending ? " ▼" : " ▲") : ""}</span>
      </button>
    </th>
  )
}

export const ModelPage = ({ name }: { readonly name: string }) => {
  const [model] = useLoad(() => api.model(name), [name])
  const [sort, setSort] = useState<Sort>({ key: "version", descending: false })
  const [chosen, setChosen] = useState<string | null>(null)
  return (
    <>
      <h1>Model {name}</h1>
      <Show loaded={model}>
        {({ production, versions }) => {
          const metrics = [...new Set(versions.flatMap((v) => Object.keys(v.metrics)))]
            .filter((metric) => versions.some((v) => numeric(v.metrics[metric]) !== null))
            .sort()
          const metric = chosen !== null && metrics.includes(chosen) ? chosen : (metrics[0] ?? null)
          const order = new Map(versions.map((v, i) => [v.version, i]))
          const sorted = [...versions].sort(compare(sort, order))
          const header = { sort, setSort }
          return (
            <>
              <p>
                Production:{" "}
                {production ? <a href={href.version(name, production.version)}>{production.version}</a> : "none"} ·{" "}
                {versions.length} version{versions.length === 1 ? "" : "s"}
              </p>
              <h2>Versions</h2>
              <div class="scroll">
                <table>
                  <thead>
                    <tr>
                      <SortHeader label="Version" id="version" {...header} />
                      <SortHeader label="State" id="state" {...header} />
                      <th scope="col">Aliases</th>
                      {metrics.map((m) => (
                        <SortHeader key={m} label={m} id={`metric:${m}`} numericColumn {...header} />
                      ))}
                      <th scope="col">Tags</th>
                      <th scope="col">Source</th>
                      <th scope="col">Description</th>
                      <SortHeader label="Created" id="createdAt" {...header} />
                    </tr>
                  </thead>
                  <tbody>
                    {sorted.map((v) => (
                      <tr key={v.version}>
                        <th scope="row">
                          <a href={href.version(name, v.version)}>{v.version}</a>
                        </th>
                        <td>
                          <span class={`state state-${v.state}`}>{v.state}</span>
                        </td>
                        <td>{v.aliases.join(", ") || "—"}</td>
                        {metrics.map((m) => (
                          <td key={m} class="num">
                            {numeric(v.metrics[m]) ?? "—"}
                          </td>
                        ))}
                        <td>
                          {Object.entries(v.tags)
                            .map(([k, value]) => `${k}=${value}`)
                            .join(", ") || "—"}
                        </td>
                        <td class="wrap">{v.source ?? "—"}</td>
                        <td class="wrap">{v.description ?? "—"}</td>
                        <td>{time(v.createdAt)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <h2>Metric chart</h2>
              {metric === null ? (
                <p>No version has a numeric metric.</p>
              ) : (
                <>
                  <div class="row">
                    <label for="metric">Metric</label>
                    <select id="metric" value={metric} onChange={(e) => setChosen(e.currentTarget.value)}>
                      {metrics.map((m) => (
                        <option key={m} value={m}>
                          {m}
                        </option>
                      ))}
                    </select>
                  </div>
                  <Chart
                    metric={metric}
                    points={versions.flatMap((v) => {
                      const value = numeric(v.metrics[metric])
                      return value === null ? [] : [{ version: v.version, value }]
                    })}
                  />
                </>
              )}
            </>
          )
        }}
      </Show>
    </>
  )
}
