/** Pieces every page uses: loading a resource, and showing an API error exactly as the server wrote it. */
import type { ComponentChildren } from "preact"
import { useCallback, useEffect, useState } from "preact/hooks"
import { ApiError } from "./api.ts"

export const ErrorMessage = ({ error }: { readonly error: unknown }) => {
  if (error === null || error === undefined) return null
  const [tag, message] =
    error instanceof ApiError
      ? [error.tag, error.message]
      : ["Error", error instanceof Error ? error.message : String(error)]
  return (
    <p class="error" role="alert">
      <strong>{tag}</strong>: {message}
    </p>
  )
}

export type Loaded<A> =
  | { readonly state: "loading" }
  | { readonly state: "ok"; readonly value: A }
  | { readonly state: "error"; readonly error: unknown }

/** Runs `load` when a key changes; `reload` runs it again (after an action changed the data). */
export const useLoad = <A,>(load: () => Promise<A>, keys: ReadonlyArray<unknown>) => {
  const [result, setResult] = useState<Loaded<A>>({ state: "loading" })
  const [round, setRound] = useState(0)
  useEffect(() => {
    let current = true
    load().then(
      (value) => current && setResult({ state: "ok", value }),
      (error: unknown) => current && setResult({ state: "error", error }),
    )
    return () => {
      current = false
    }
  }, [...keys, round])
  const reload = useCallback(() => setRound((n) => n + 1), [])
  return [result, reload] as const
}

export const Show = <A,>({
  loaded,
  children,
}: {
  readonly loaded: Loaded<A>
  readonly children: (value: A) => ComponentChildren
}) =>
  loaded.state === "loading" ? (
    <p aria-live="polite">Loading…</p>
  ) : loaded.state === "error" ? (
    <ErrorMessage error={loaded.error} />
  ) : (
    children(loaded.value)
  )

export const time = (iso: string) => iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC")
