/**
 * The one table that turns a registry error into what the outside world sees: an HTTP status for the server,
 * an exit code for the CLI (local or remote), and the wire detail `{ tag, message, ...fields }` that travels
 * as `{ "error": detail }`. The server renders it, the remote CLI decodes it back, and both read statuses and
 * exit codes here, so a new error gets its status and exit code in one place. It sits below http and cli, which
 * both import it, and imports neither.
 */
import { Schema } from "effect"

/** Documented CLI exit codes. */
export const ExitCode = { ok: 0, usage: 1, notFoundOrConflict: 2, storage: 3 } as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

interface Translation {
  readonly status: number
  readonly exit: ExitCode
  /** Sent as `Retry-After`: when a client may try again. */
  readonly retryAfterSeconds?: number
}

/**
 * Registry errors plus the few the HTTP edge raises itself. An unknown tag is a bug somewhere: 500 / exit 3,
 * never a stack trace on the wire.
 */
const table = {
  InvalidInput: { status: 400, exit: ExitCode.usage },
  Unauthorized: { status: 401, exit: ExitCode.usage },
  // A web page's request (foreign Origin, or a preflight from one) is refused, not merely unauthenticated.
  CrossOrigin: { status: 403, exit: ExitCode.usage },
  // A known token whose role does not allow the route; the body names the role it `required` and the token's `role`.
  Forbidden: { status: 403, exit: ExitCode.usage },
  ModelNotFound: { status: 404, exit: ExitCode.notFoundOrConflict },
  VersionNotFound: { status: 404, exit: ExitCode.notFoundOrConflict },
  AliasNotFound: { status: 404, exit: ExitCode.notFoundOrConflict },
  RouteNotFound: { status: 404, exit: ExitCode.usage },
  MethodNotAllowed: { status: 405, exit: ExitCode.usage },
  VersionConflict: { status: 409, exit: ExitCode.notFoundOrConflict },
  InvalidTransition: { status: 409, exit: ExitCode.notFoundOrConflict },
  // The events asked for existed once and never will again: retrying cannot help, starting from `firstSeq` can.
  PositionCompacted: { status: 410, exit: ExitCode.notFoundOrConflict },
  AliasNotAllowed: { status: 409, exit: ExitCode.notFoundOrConflict },
  ModelIsArchived: { status: 409, exit: ExitCode.notFoundOrConflict },
  // Like PositionCompacted: that past was not kept, and asking again cannot bring it back.
  HistoryUnavailable: { status: 410, exit: ExitCode.notFoundOrConflict },
  // The two lifecycle refusals stop a registry from opening, so no request is ever answered with them (the status is
  // never sent): `serve` and the local commands exit with the code. An unsound lifecycle is the caller's
  // configuration; a directory written under another lifecycle conflicts with the one given.
  InvalidLifecycle: { status: 500, exit: ExitCode.usage },
  LifecycleMismatch: { status: 500, exit: ExitCode.notFoundOrConflict },
  // A Host the server does not answer to: how a DNS-rebinding page reaches a loopback server.
  MisdirectedRequest: { status: 421, exit: ExitCode.usage },
  PayloadTooLarge: { status: 413, exit: ExitCode.usage },
  UnsupportedMediaType: { status: 415, exit: ExitCode.usage },
  // The mailbox drains in a few group commits; a second is long enough and short enough for any client.
  Overloaded: { status: 429, exit: ExitCode.storage, retryAfterSeconds: 1 },
  // A 503 is a server going away or failed, not a fault of the request (a closed registry: shutdown or start-up;
  // failed storage: restarted or replaced by an operator): retry elsewhere or later, on the scale of seconds.
  RegistryClosed: { status: 503, exit: ExitCode.storage, retryAfterSeconds: 5 },
  StorageFailed: { status: 503, exit: ExitCode.storage, retryAfterSeconds: 5 },
  WalCorrupt: { status: 503, exit: ExitCode.storage, retryAfterSeconds: 5 },
  DirectoryLocked: { status: 503, exit: ExitCode.storage, retryAfterSeconds: 5 },
  Unavailable: { status: 503, exit: ExitCode.storage, retryAfterSeconds: 5 },
} as const satisfies Readonly<Record<string, Translation>>

/** Every error tag the table knows. */
export type ErrorTag = keyof typeof table

const unknownError: Translation = { status: 500, exit: ExitCode.storage }

const isErrorTag = (tag: string): tag is ErrorTag => Object.hasOwn(table, tag)

export const translate = (tag: string): Translation => (isErrorTag(tag) ? table[tag] : unknownError)

/** What travels inside `{ "error": … }`. */
export interface ErrorDetail {
  readonly tag: string
  readonly message: string
  readonly [field: string]: unknown
}

const ErrorDetailSchema = Schema.Struct(
  { tag: Schema.String, message: Schema.String },
  Schema.Record({ key: Schema.String, value: Schema.Unknown }),
)

export const ErrorBody = Schema.Struct({ error: ErrorDetailSchema }).annotations({ identifier: "ErrorBody" })

const internal: ErrorDetail = { tag: "Internal", message: "internal error" }

/**
 * Who reads a detail. `"wire"` is anyone who can reach the server: it gets no server path (a client has no use
 * for the data directory's location, and a hostile one learns the host's layout from it). `"local"` is the
 * operator running the CLI on the data directory itself, who needs the file that failed.
 */
export type Audience = "wire" | "local"

/** Any absolute path in a text, cut to its last segment: damage is still named by file, never by location. */
const withoutDirectories = (text: string) => text.replace(/(?:[A-Za-z]:)?[\\/][^\s'"()]*[\\/]/g, "")

/** The wire form of the errors that carry a server path; the others go out as they are. */
const forWire = (tag: string, fields: Record<string, unknown>, message: string): ErrorDetail => {
  switch (tag) {
    case "StorageFailed": {
      const { operation, reason } = fields
      return { tag, operation, reason, message: `storage ${String(operation)} failed: ${String(reason)}` }
    }
    case "WalCorrupt":
      return {
        ...fields,
        file: withoutDirectories(String(fields.file)),
        reason: withoutDirectories(String(fields.reason)),
        tag,
        message: withoutDirectories(message),
      }
    case "DirectoryLocked":
      return { tag, pid: fields.pid, message: `the data directory is locked by process ${String(fields.pid)}` }
    default:
      return { ...fields, tag, message }
  }
}

/** A typed registry error (a `Schema.TaggedError`) or an edge error, flattened to the wire form. */
export const detailOf = (error: unknown, audience: Audience = "wire"): ErrorDetail => {
  if (typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string") {
    const tag = error._tag
    if (!isErrorTag(tag)) return internal
    const fields: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(error)) if (key !== "_tag" && key !== "message") fields[key] = value
    const message = "message" in error && typeof error.message === "string" ? error.message : tag
    return audience === "local" ? { ...fields, tag, message } : forWire(tag, fields, message)
  }
  return internal
}

/** An error the edge (HTTP server or CLI) raises itself, in the wire form. */
export const edgeError = (tag: string, message: string, fields: Record<string, unknown> = {}): ErrorDetail => ({
  ...fields,
  tag,
  message,
})
