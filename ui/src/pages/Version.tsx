/**
 * A version: its fields, its history as a timeline, and the changes the signed-in role may make: a writer annotates,
 * an admin also transitions and sets aliases. The server checks the role again on every change.
 */
import { useState } from "preact/hooks"
import { api, type Lifecycle, type Version } from "../api.ts"
import { ErrorMessage, Show, time, useLoad } from "../common.tsx"
import { describe } from "../describeEvent.ts"
import { useAllows } from "../identity.ts"
import { href } from "../router.ts"

/** Runs one action at a time and keeps its error on screen until the next one. */
const useAction = (done: () => void) => {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [said, setSaid] = useState("")
  const run = (what: string, action: () => Promise<unknown>) => {
    setBusy(true)
    setError(null)
    setSaid("")
    action().then(
      () => {
        setBusy(false)
        setSaid(`${what}: done`)
        done()
      },
      (failure: unknown) => {
        setBusy(false)
        setError(failure)
      },
    )
  }
  return { busy, error, said, run }
}

const Actions = ({
  version,
  lifecycle,
  done,
}: {
  readonly version: Version
  readonly lifecycle: Lifecycle
  readonly done: () => void
}) => {
  const { busy, error, said, run } = useAction(done)
  const administers = useAllows("admin")
  const [alias, setAlias] = useState("")
  const [description, setDescription] = useState(version.description ?? "")
  const [tagKey, setTagKey] = useState("")
  const [tagValue, setTagValue] = useState("")
  const allowed = lifecycle.transitions.filter((t) => t.from === version.state)
  const { name } = version
  return (
    <section aria-labelledby="actions">
      <h2 id="actions">Actions</h2>
      <ErrorMessage error={error} />
      <p aria-live="polite" class="said">
        {said}
      </p>
      {administers && (
        <>
          <h3>Transition</h3>
          {allowed.length === 0 ? (
            <p>The lifecycle allows no transition from {version.state}.</p>
          ) : (
            <div class="row transitions">
              {allowed.map((t) => (
                <button
                  key={t.event}
                  type="button"
                  disabled={busy}
                  onClick={() => run(t.event, () => api.transition(name, version.version, t.event))}
                >
                  {t.event} (→ {t.to})
                </button>
              ))}
            </div>
          )}
          <h3>Aliases</h3>
          <form
            class="row"
            onSubmit={(e) => {
              e.preventDefault()
              run(`alias ${alias}`, () => api.setAlias(name, alias, version.version))
            }}
          >
            <label for="alias">Alias</label>
            <input id="alias" value={alias} required onInput={(e) => setAlias(e.currentTarget.value)} />
            <button type="submit" disabled={busy}>
              Set alias to {version.version}
            </button>
          </form>
          {version.aliases.length > 0 && (
            <ul class="plain">
              {version.aliases.map((a) => (
                <li key={a}>
                  {a}{" "}
                  <button
                    type="button"
                    disabled={busy}
                    onClick={() => run(`remove ${a}`, () => api.removeAlias(name, a))}
                  >
                    Remove alias {a}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
      <h3>Description</h3>
      <form
        class="column"
        onSubmit={(e) => {
          e.preventDefault()
          run("description", () =>
            api.annotate(name, version.version, { description: description === "" ? null : description }),
          )
        }}
      >
        <label for="description">Description (empty removes it)</label>
        <textarea
          id="description"
          rows={3}
          value={description}
          onInput={(e) => setDescription(e.currentTarget.value)}
        />
        <button type="submit" disabled={busy}>
          Save description
        </button>
      </form>
      <h3>Tags</h3>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault()
          run(`tag ${tagKey}`, () => api.annotate(name, version.version, { tags: { [tagKey]: tagValue } }))
        }}
      >
        <label for="tag-key">Tag</label>
        <input id="tag-key" value={tagKey} required onInput={(e) => setTagKey(e.currentTarget.value)} />
        <label for="tag-value">Value</label>
        <input id="tag-value" value={tagValue} onInput={(e) => setTagValue(e.currentTarget.value)} />
        <button type="submit" disabled={busy}>
          Set tag
        </button>
      </form>
      {Object.keys(version.tags).length > 0 && (
        <ul class="plain">
          {Object.entries(version.tags).map(([k, v]) => (
            <li key={k}>
              {k}={v}{" "}
              <button
                type="button"
                disabled={busy}
                onClick={() => run(`untag ${k}`, () => api.annotate(name, version.version, { tags: { [k]: null } }))}
              >
                Remove tag {k}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}

export const VersionPage = ({ name, version }: { readonly name: string; readonly version: string }) => {
  const writes = useAllows("writer")
  const [data, reload] = useLoad(
    () => Promise.all([api.version(name, version), api.history(name, version), api.lifecycle()]),
    [name, version],
  )
  return (
    <>
      <h1>
        <a href={href.model(name)}>{name}</a> {version}
      </h1>
      <Show loaded={data}>
        {([v, history, lifecycle]) => (
          <>
            <dl class="fields">
              <dt>State</dt>
              <dd>
                <span class={`state state-${v.state}`}>{v.state}</span>
              </dd>
              <dt>Aliases</dt>
              <dd>{v.aliases.join(", ") || "—"}</dd>
              <dt>Metrics</dt>
              <dd>{JSON.stringify(v.metrics)}</dd>
              <dt>Tags</dt>
              <dd>
                {Object.entries(v.tags)
                  .map(([k, value]) => `${k}=${value}`)
                  .join(", ") || "—"}
              </dd>
              <dt>Source</dt>
              <dd>{v.source ?? "—"}</dd>
              <dt>Run</dt>
              <dd>{v.runId ?? "—"}</dd>
              <dt>Description</dt>
              <dd>{v.description ?? "—"}</dd>
              <dt>Created</dt>
              <dd>{time(v.createdAt)}</dd>
            </dl>
            <section aria-labelledby="history">
              <h2 id="history">History</h2>
              <ol class="timeline">
                {history.events.map((event) => (
                  <li key={event.seq}>
                    <time dateTime={event.at}>{time(event.at)}</time> <strong>{describe(event)}</strong> by{" "}
                    {event.actor} <span class="muted">(#{event.seq})</span>
                  </li>
                ))}
              </ol>
            </section>
            {writes && <Actions version={v} lifecycle={lifecycle} done={reload} />}
          </>
        )}
      </Show>
    </>
  )
}
