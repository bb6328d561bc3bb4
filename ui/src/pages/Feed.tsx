/**
 * The live feed. The position (the last event id seen) is kept in the address (`?after=`), not in storage, so a
 * reload resumes right after it: no event twice, none missed.
 */
import { useEffect, useState } from "preact/hooks"
import type { RegistryEvent } from "../api.ts"
import { time } from "../common.tsx"
import { describe } from "../describeEvent.ts"
import { href, replaceQuery } from "../router.ts"
import { type FeedStatus, followEvents } from "../sse.ts"

/** The most events the page keeps on screen; older ones scroll off. */
const shownMax = 500

const subject = (event: RegistryEvent): { name: string; version?: string } | null => {
  if (event.metadata) return { name: event.metadata.name, version: event.metadata.version }
  if (event.name === undefined) return null
  return event.version === undefined ? { name: event.name } : { name: event.name, version: event.version }
}

export const Feed = () => {
  const [events, setEvents] = useState<ReadonlyArray<RegistryEvent>>([])
  const [status, setStatus] = useState<{ status: FeedStatus; detail: string }>({ status: "connecting", detail: "" })
  const [after] = useState(() => new URLSearchParams(location.search).get("after"))
  useEffect(
    () =>
      followEvents(after !== null && /^\d+$/.test(after) ? { lastId: after } : {}, {
        onEvent: (event) => setEvents((shown) => [event, ...shown].slice(0, shownMax)),
        onStatus: (next, detail) => setStatus({ status: next, detail }),
        onId: (id) => replaceQuery(new URLSearchParams({ after: id })),
      }),
    [after],
  )
  return (
    <>
      <h1>Live events</h1>
      <p class={`status status-${status.status}`} role="status">
        {status.status}
        {status.detail ? `: ${status.detail}` : ""}
        {after !== null ? ` (resuming after #${after})` : ""}
      </p>
      {events.length === 0 ? (
        <p>No events yet: changes appear here as they are committed.</p>
      ) : (
        <ol class="feed" aria-live="polite">
          {events.map((event) => {
            const about = subject(event)
            return (
              <li key={event.seq} data-seq={event.seq}>
                <span class="muted">#{event.seq}</span> <time dateTime={event.at}>{time(event.at)}</time>{" "}
                <strong>{event._tag}</strong>{" "}
                {about &&
                  (about.version !== undefined ? (
                    <a href={href.version(about.name, about.version)}>
                      {about.name} {about.version}
                    </a>
                  ) : (
                    <a href={href.model(about.name)}>{about.name}</a>
                  ))}{" "}
                {describe(event)} by {event.actor}
              </li>
            )
          })}
        </ol>
      )}
    </>
  )
}
