/** Path routing under the app's base (`/ui/`): the server answers index.html for every path below it. */
import { useEffect, useState } from "preact/hooks"

export const base = import.meta.env.BASE_URL

export type Route =
  | { readonly page: "models" }
  | { readonly page: "model"; readonly name: string }
  | { readonly page: "version"; readonly name: string; readonly version: string }
  | { readonly page: "lifecycle" }
  | { readonly page: "feed" }
  | { readonly page: "missing"; readonly path: string }

export const parse = (pathname: string): Route => {
  const path = pathname.startsWith(base) ? pathname.slice(base.length) : pathname.replace(/^\//, "")
  const parts = path
    .split("/")
    .filter((part) => part !== "")
    .map(decodeURIComponent)
  if (parts.length === 0) return { page: "models" }
  if (parts[0] === "lifecycle" && parts.length === 1) return { page: "lifecycle" }
  if (parts[0] === "feed" && parts.length === 1) return { page: "feed" }
  if (parts[0] === "models" && parts.length === 2) return { page: "model", name: parts[1]! }
  if (parts[0] === "models" && parts[2] === "versions" && parts.length === 4)
    return { page: "version", name: parts[1]!, version: parts[3]! }
  return { page: "missing", path: pathname }
}

export const href = {
  models: () => base,
  model: (name: string) => `${base}models/${encodeURIComponent(name)}`,
  version: (name: string, version: string) =>
    `${base}models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`,
  lifecycle: () => `${base}lifecycle`,
  feed: () => `${base}feed`,
}

const listeners = new Set<() => void>()

export const navigate = (to: string) => {
  history.pushState(null, "", to)
  for (const listener of listeners) listener()
}

/** Replaces the query string without a history entry (the models page's search, the feed's position). */
export const replaceQuery = (params: URLSearchParams) => {
  const query = params.toString()
  history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}`)
}

export const useLocation = (): string => {
  const [path, setPath] = useState(location.pathname)
  useEffect(() => {
    const update = () => setPath(location.pathname)
    listeners.add(update)
    addEventListener("popstate", update)
    return () => {
      listeners.delete(update)
      removeEventListener("popstate", update)
    }
  }, [])
  return path
}

/** Same-origin links under the base navigate in place; modified clicks keep the browser's behaviour. */
export const interceptLinks = (event: MouseEvent) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
    return
  const anchor = (event.target as Element | null)?.closest?.("a")
  if (!anchor || anchor.target || anchor.origin !== location.origin || !anchor.pathname.startsWith(base)) return
  // A link within the page (the skip link) is the browser's to follow.
  if (anchor.hash && anchor.pathname === location.pathname) return
  event.preventDefault()
  navigate(anchor.pathname + anchor.search)
}
