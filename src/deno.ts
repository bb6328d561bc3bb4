/**
 * The Deno composition. Deno 2 runs @effect/platform-node through its Node compatibility layer, and the
 * primitives the Node composition plugs in (zlib's CRC-32, crypto's UUIDs, `/proc` and `process.kill(pid, 0)`
 * for judging a lock's holder) behave the same there; the whole vitest suite runs under Deno in CI to keep it so.
 * One composition for both runtimes means a data directory moves between them unchanged.
 */
export * from "./node.ts"
