/**
 * The registry's HTTP API as the UI uses it: same origin, the token from session storage (the only thing the UI
 * stores), and every error answer surfaced as the server wrote it.
 */
import type { Role } from "../../src/http/roles.ts"

const tokenKey = "model-registry-token"

export const token = {
  get: (): string | null => sessionStorage.getItem(tokenKey),
  set: (value: string) => sessionStorage.setItem(tokenKey, value),
  clear: () => sessionStorage.removeItem(tokenKey),
}

/** An answer other than 2xx: the server's `error.tag` and `error.message`, or the status when the body is not one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly tag: string,
    message: string,
  ) {
    super(message)
  }
}

/** Listeners told when the server answers 401 (with its error), so the app shows the login form. */
const unauthorized = new Set<(error: ApiError) => void>()
export const onUnauthorized = (listener: (error: ApiError) => void): (() => void) => {
  unauthorized.add(listener)
  return () => unauthorized.delete(listener)
}

export const authHeaders = (): Record<string, string> => {
  const secret = token.get()
  return secret ? { authorization: `Bearer ${secret}` } : {}
}

/** The error an answer other than 2xx carries. */
export const errorOf = async (response: Response): Promise<ApiError> => {
  const text = await response.text()
  try {
    const body = JSON.parse(text) as { error?: { tag?: unknown; message?: unknown } }
    if (body.error && typeof body.error.tag === "string")
      return new ApiError(response.status, body.error.tag, String(body.error.message ?? ""))
  } catch {
    // not JSON: the raw text below is what the server said
  }
  return new ApiError(response.status, `HTTP ${response.status}`, text || response.statusText)
}

export const request = async (
  method: string,
  path: string,
  body?: unknown,
): Promise<{ readonly body: unknown; readonly headers: Headers }> => {
  const headers: Record<string, string> = { ...authHeaders(), accept: "application/json" }
  const init: RequestInit = { method, headers }
  if (body !== undefined || method === "POST") {
    headers["content-type"] = "application/json"
    if (body !== undefined) init.body = JSON.stringify(body)
  }
  const response = await fetch(path, init)
  if (!response.ok) {
    const error = await errorOf(response)
    if (response.status === 401) for (const listener of unauthorized) listener(error)
    throw error
  }
  const text = await response.text()
  return { body: text === "" ? null : JSON.parse(text), headers: response.headers }
}

export const get = async <A>(path: string): Promise<A> => (await request("GET", path)).body as A

const seg = encodeURIComponent

export interface Committed {
  readonly seq: number
  readonly at: string
  readonly actor: string
}

export interface Version {
  readonly name: string
  readonly version: string
  readonly createdAt: string
  readonly metrics: Record<string, unknown>
  readonly tags: Record<string, string>
  readonly source?: string
  readonly runId?: string
  readonly description?: string
  readonly state: string
  readonly aliases: ReadonlyArray<string>
}

export interface Summary {
  readonly name: string
  readonly production: string | null
  readonly versionCount: number
  readonly latest: string
  readonly aliases: Record<string, string>
  readonly lastChange?: Committed
}

export interface Model {
  readonly name: string
  readonly production: Version | null
  readonly versions: ReadonlyArray<Version>
}

export interface RegistryEvent extends Committed {
  readonly _tag: string
  readonly name?: string
  readonly version?: string
  readonly metadata?: { readonly name: string; readonly version: string }
  readonly event?: string
  readonly from?: unknown
  readonly to?: unknown
  readonly alias?: string
}

/** Who the server takes the request's token for (`GET /whoami`). */
export interface Identity {
  readonly name: string
  readonly role: Role
}

export interface Lifecycle {
  readonly initial: string
  readonly states: ReadonlyArray<string>
  readonly events: ReadonlyArray<string>
  readonly transitions: ReadonlyArray<{ from: string; event: string; to: string; guarded: boolean }>
  readonly terminal: ReadonlyArray<string>
}

export const api = {
  models: async (namePrefix: string, cursor: string | null, limit: number) => {
    const query = new URLSearchParams({ limit: String(limit) })
    if (namePrefix) query.set("namePrefix", namePrefix)
    if (cursor) query.set("cursor", cursor)
    const answer = await request("GET", `/models?${query}`)
    return { models: answer.body as ReadonlyArray<Summary>, next: answer.headers.get("x-next-cursor") }
  },
  model: (name: string) => get<Model>(`/models/${seg(name)}`),
  version: (name: string, version: string) => get<Version>(`/models/${seg(name)}/versions/${seg(version)}`),
  history: (name: string, version: string) =>
    get<{ events: ReadonlyArray<RegistryEvent> }>(`/models/${seg(name)}/versions/${seg(version)}/history`),
  lifecycle: () => get<Lifecycle>("/lifecycle"),
  whoami: () => get<Identity>("/whoami"),
  /** A page of versions in one state; the lifecycle picture counts them. */
  versionsInState: async (state: string, cursor: string | null) => {
    const query = new URLSearchParams({ state, limit: "1000" })
    if (cursor) query.set("cursor", cursor)
    return get<{ versions: ReadonlyArray<unknown>; nextCursor: string | null }>(`/versions?${query}`)
  },
  transition: (name: string, version: string, event: string) =>
    request("POST", `/models/${seg(name)}/versions/${seg(version)}/transitions/${seg(event)}`),
  setAlias: (name: string, alias: string, version: string) =>
    request("PUT", `/models/${seg(name)}/aliases/${seg(alias)}`, { version }),
  removeAlias: (name: string, alias: string) => request("DELETE", `/models/${seg(name)}/aliases/${seg(alias)}`),
  annotate: (
    name: string,
    version: string,
    body: { tags?: Record<string, string | null>; description?: string | null },
  ) => request("PATCH", `/models/${seg(name)}/versions/${seg(version)}`, body),
}
