/**
 * Byte arrays joined into one. Hand-written: `Buffer.concat` is Node's, and the core stays runtime-neutral.
 */
export const concatBytes = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const joined = new Uint8Array(parts.reduce((length, part) => length + part.length, 0))
  let offset = 0
  for (const part of parts) {
    joined.set(part, offset)
    offset += part.length
  }
  return joined
}
