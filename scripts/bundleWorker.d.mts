/** See bundleWorker.mjs. */
export declare const bundleWorker: (entry: string) => Promise<string>
