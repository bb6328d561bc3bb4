/** The models: a search by name prefix and pages that follow the server's cursor. */
import { useState } from "preact/hooks"
import { api } from "../api.ts"
import { Show, time, useLoad } from "../common.tsx"
import { href, replaceQuery } from "../router.ts"

const pageSize = 50

export const Models = () => {
  const initial = new URLSearchParams(location.search).get("q") ?? ""
  const [query, setQuery] = useState(initial)
  const [prefix, setPrefix] = useState(initial)
  // The cursors of the pages before this one, so "Previous" goes back without the server keeping anything.
  const [cursors, setCursors] = useState<ReadonlyArray<string | null>>([null])
  const cursor = cursors[cursors.length - 1] ?? null
  const [page] = useLoad(() => api.models(prefix, cursor, pageSize), [prefix, cursor])

  const search = (event: Event) => {
    event.preventDefault()
    setPrefix(query)
    setCursors([null])
    replaceQuery(new URLSearchParams(query ? { q: query } : {}))
  }

  return (
    <>
      <h1>Models</h1>
      <form class="row" aria-label="Search models" onSubmit={search}>
        <label for="search">Name starts with</label>
        <input id="search" type="search" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        <button type="submit">Search</button>
      </form>
      <Show loaded={page}>
        {({ models, next }) => (
          <>
            {models.length === 0 ? (
              <p>No models{prefix ? ` whose name starts with “${prefix}”` : ""}.</p>
            ) : (
              <table>
                <caption class="visually-hidden">Models, page {cursors.length}</caption>
                <thead>
                  <tr>
                    <th scope="col">Model</th>
                    <th scope="col">Production</th>
                    <th scope="col">Aliases</th>
                    <th scope="col" class="num">
                      Versions
                    </th>
                    <th scope="col">Last change</th>
                  </tr>
                </thead>
                <tbody>
                  {models.map((model) => (
                    <tr key={model.name}>
                      <th scope="row">
                        <a href={href.model(model.name)}>{model.name}</a>
                      </th>
                      <td>
                        {model.production ? (
                          <a href={href.version(model.name, model.production)}>{model.production}</a>
                        ) : (
                          "—"
                        )}
                      </td>
                      <td>
                        {Object.entries(model.aliases)
                          .map(([alias, version]) => `${alias} → ${version}`)
                          .join(", ") || "—"}
                      </td>
                      <td class="num">{model.versionCount}</td>
                      <td>
                        {model.lastChange
                          ? `${time(model.lastChange.at)} by ${model.lastChange.actor} (#${model.lastChange.seq})`
                          : "—"}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <nav class="row" aria-label="Pages">
              <button
                type="button"
                disabled={cursors.length === 1}
                onClick={() => setCursors((all) => all.slice(0, -1))}
              >
                Previous page
              </button>
              <span>Page {cursors.length}</span>
              <button type="button" disabled={!next} onClick={() => setCursors((all) => [...all, next])}>
                Next page
              </button>
            </nav>
          </>
        )}
      </Show>
    </>
  )
}
