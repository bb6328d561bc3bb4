/**
 * A growable byte buffer for the simulated disk's file images.
 *
 * A WAL grows by small appends; copying the whole image on every append would make a simulated run quadratic in
 * the log size. This keeps a capacity-doubling backing array and exposes only the live prefix.
 */

export class Bytes {
  private buffer: Uint8Array
  private size: number

  constructor(initial?: Uint8Array) {
    this.buffer = new Uint8Array(Math.max(64, initial?.length ?? 0))
    this.size = 0
    if (initial !== undefined) {
      this.buffer.set(initial)
      this.size = initial.length
    }
  }

  get length(): number {
    return this.size
  }

  /** The live bytes, without copying: callers must not keep it across a mutation. */
  view(): Uint8Array {
    return this.buffer.subarray(0, this.size)
  }

  /** An independent copy of the live bytes. */
  copyOut(): Uint8Array {
    return this.buffer.slice(0, this.size)
  }

  clone(): Bytes {
    return new Bytes(this.view())
  }

  /** Writes `src` at `offset`, zero-filling any gap past the current end (as a POSIX write past EOF does). */
  write(offset: number, src: Uint8Array): void {
    const end = offset + src.length
    this.ensure(end)
    if (offset > this.size) this.buffer.fill(0, this.size, offset)
    this.buffer.set(src, offset)
    if (end > this.size) this.size = end
  }

  /** Sets the length: shrinking drops bytes, growing zero-fills (as ftruncate does). */
  truncate(length: number): void {
    if (length > this.size) {
      this.ensure(length)
      this.buffer.fill(0, this.size, length)
    }
    this.size = length
  }

  private ensure(capacity: number): void {
    if (capacity <= this.buffer.length) return
    let next = this.buffer.length * 2
    while (next < capacity) next *= 2
    const grown = new Uint8Array(next)
    grown.set(this.buffer.subarray(0, this.size))
    this.buffer = grown
  }
}
