/// <reference lib="deno.ns" />
/// <reference lib="deno.unstable" />
/**
 * Type-checked by `deno check` only (tsconfig.json excludes it: tsc has no `Deno`): Deno's real namespace must be
 * assignable to the subset src/deno/denoTypes.ts declares, so those declarations cannot drift from Deno's.
 */
import type { DenoKv, DenoKvNamespace, DenoNamespace } from "./denoTypes.ts"

export const namespace: DenoNamespace = Deno
export const kvNamespace: DenoKvNamespace = Deno
export const kv = (opened: Deno.Kv): DenoKv => opened
