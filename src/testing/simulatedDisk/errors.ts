/**
 * The simulated disk's errors, shaped like @effect/platform-node's, so code under test sees what it would see
 * on Node.
 */
import { SystemError, type SystemErrorReason } from "@effect/platform/Error"

export type Errno =
  | "ENOENT"
  | "EEXIST"
  | "EISDIR"
  | "ENOTDIR"
  | "ENOTEMPTY"
  | "EBADF"
  | "EINVAL"
  | "EIO"
  | "ENOSPC"
  | "EPERM"
  | "EBUSY"

export const errnoTable: Record<Errno, readonly [reason: SystemErrorReason, text: string, errno: number]> = {
  ENOENT: ["NotFound", "no such file or directory", -2],
  EEXIST: ["AlreadyExists", "file already exists", -17],
  EISDIR: ["BadResource", "illegal operation on a directory", -21],
  ENOTDIR: ["BadResource", "not a directory", -20],
  ENOTEMPTY: ["Unknown", "directory not empty", -39],
  EBADF: ["Unknown", "bad file descriptor", -9],
  EINVAL: ["Unknown", "invalid argument", -22],
  EIO: ["Unknown", "i/o error", -5],
  ENOSPC: ["Unknown", "no space left on device", -28],
  EPERM: ["Unknown", "operation not permitted", -1],
  EBUSY: ["Busy", "resource busy or locked", -16],
}

export const haltMarker = "simulatedHalt"
export const haltNote = "simulated power loss: disk halted"

export interface ErrorSite {
  readonly method: string
  readonly syscall: string
  readonly target: string | number
  readonly dest?: string
}

export const makeError = (code: Errno, site: ErrorSite, note?: string): SystemError => {
  const [reason, text] = errnoTable[code]
  const where =
    typeof site.target === "number"
      ? ""
      : site.dest !== undefined
        ? ` '${site.target}' -> '${site.dest}'`
        : ` '${site.target}'`
  const message = `${code}: ${text}${note === undefined ? "" : ` (${note})`}, ${site.syscall}${where}`
  const cause = Object.assign(new Error(message), { code, errno: errnoTable[code][2], syscall: site.syscall })
  if (note === haltNote) Object.assign(cause, { [haltMarker]: true })
  return new SystemError({
    reason,
    module: "FileSystem",
    method: site.method,
    pathOrDescriptor: site.target,
    syscall: site.syscall,
    description: message,
    cause,
  })
}

/** True for the error of an I/O refused because the disk is halted (see `crashAfterIo`). */
export const isHaltError = (error: unknown): boolean =>
  error instanceof SystemError &&
  typeof error.cause === "object" &&
  error.cause !== null &&
  (error.cause as Record<string, unknown>)[haltMarker] === true

/** The errno-like code ("ENOSPC", "EIO", "ENOENT", …) carried by a simulated (or Node) SystemError, if any. */
export const errorCode = (error: unknown): string | undefined => {
  if (!(error instanceof SystemError)) return undefined
  const cause = error.cause as { readonly code?: unknown } | undefined
  if (typeof cause?.code === "string") return cause.code
  const match = /^([A-Z][A-Z0-9_]+):/.exec(error.description ?? "")
  return match?.[1]
}

export const fail = (code: Errno, site: ErrorSite, note?: string): never => {
  throw makeError(code, site, note)
}
