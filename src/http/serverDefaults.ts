/**
 * The server's defaults, apart from the server itself: the CLI declares its flags with them, and must not load the
 * HTTP stack to print `--help`.
 */
export const defaultBodyBytesMax = 1024 * 1024
export const defaultKeepAliveMs = 15_000
export const defaultDrainMs = 5_000
/** Frames an `/events` client may have queued before it is cut: above the 4,096 events of one feed step. */
export const defaultBufferFramesMax = 16_384

export const publicRouteNames = ["healthz", "docs", "metrics"] as const
export type PublicRoute = (typeof publicRouteNames)[number]
export const defaultPublicRoutes: ReadonlyArray<PublicRoute> = ["healthz", "docs"]
