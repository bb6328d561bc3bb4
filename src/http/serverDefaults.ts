/**
 * The server's defaults, apart from the server itself: the CLI declares its flags with them, and must not load the
 * HTTP stack to print `--help`.
 */
export const defaultBodyBytesMax = 1024 * 1024
export const defaultKeepAliveMs = 15_000
export const defaultDrainMs = 5_000
/**
 * A client told 413 while it still streams is left to finish its body, read and dropped, so that it reads the
 * answer rather than a reset: closing a socket with unread bytes sends a TCP reset, which discards the 413 the
 * client has not read yet. Past this many dropped bytes the connection is closed after all, so a client that
 * ignores the answer cannot keep the server reading for good.
 */
export const drainBytesMax = 1024 * 1024 * 1024
/** Frames an `/events` client may have queued before it is cut: above the 4,096 events of one feed step. */
export const defaultBufferFramesMax = 16_384

export const publicRouteNames = ["healthz", "docs", "metrics"] as const
export type PublicRoute = (typeof publicRouteNames)[number]
export const defaultPublicRoutes: ReadonlyArray<PublicRoute> = ["healthz", "docs"]

/** The bind addresses that reach this machine alone: there the server needs no token and serves loopback host names only. */
export const loopbackHosts: ReadonlySet<string> = new Set(["127.0.0.1", "::1", "localhost"])
