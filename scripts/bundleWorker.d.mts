import type { BuildOptions } from "esbuild"

/** See bundleWorker.mjs. */
export declare const bundleWorker: (entry: string) => Promise<string>
export declare const workerBuildOptions: BuildOptions
