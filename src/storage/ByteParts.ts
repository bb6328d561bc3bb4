/**
 * Bytes to write as one buffer or as parts written one after another, and joining them. Parts spare a writer
 * copying a large payload into one fresh buffer, whose page faults cost as much as encoding it
 * (bench/results/issue-15-server.md). Hand-written: `Buffer.concat` is Node's, and the core stays runtime-neutral.
 */
export type ByteParts = Uint8Array | ReadonlyArray<Uint8Array>

/** The parts, in order. */
export const partsOf = (bytes: ByteParts): ReadonlyArray<Uint8Array> => (bytes instanceof Uint8Array ? [bytes] : bytes)

/** Their total length. */
export const byteLength = (parts: ReadonlyArray<Uint8Array>): number =>
  parts.reduce((length, part) => length + part.length, 0)

/** The parts joined into one buffer of its own. */
export const concatBytes = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const joined = new Uint8Array(byteLength(parts))
  let offset = 0
  for (const part of parts) {
    joined.set(part, offset)
    offset += part.length
  }
  return joined
}

/** The two hold the same bytes. */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
