/**
 * The simulated disk's contents as plain data (images), their fingerprints, and loading a disk from one.
 */
import { Bytes } from "../Bytes.ts"
import { pathComponents } from "../SimulatedPath.ts"
import { type DirNode, type DiskState, newDir, newFile, rootId } from "./inodes.ts"
import type { DiskImage } from "./types.ts"

export function imageOf(state: DiskState, which: "durable" | "volatile"): DiskImage {
  const directories: Array<string> = []
  const files: Array<readonly [string, Uint8Array]> = []
  // A directory can be reachable twice in a durable image made of independently-synced directories; list it once.
  const seen = new Set<number>()
  const walk = (dir: DirNode, path: string): void => {
    if (seen.has(dir.id)) return
    seen.add(dir.id)
    const entries = [...dir[which].entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    for (const [name, id] of entries) {
      const node = state.inodes.get(id)
      const child = path === "/" ? `/${name}` : `${path}/${name}`
      if (node === undefined) continue
      if (node.kind === "dir") {
        directories.push(child)
        walk(node, child)
      } else {
        files.push([child, node[which].copyOut()])
      }
    }
  }
  walk(state.inodes.get(rootId) as DirNode, "/")
  const byPath = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
  directories.sort(byPath)
  files.sort(([a], [b]) => byPath(a, b))
  return { directories, files }
}

/** A 64-bit hash (two independent 32-bit lanes) of an image, as 16 hex digits. */
export const fingerprintOf = (image: DiskImage): string => {
  let h1 = 0x811c9dc5
  let h2 = 0x9747b28c
  const byte = (b: number) => {
    h1 = Math.imul(h1 ^ b, 0x01000193)
    h2 = Math.imul(h2 ^ b, 0x5bd1e995)
    h2 ^= h2 >>> 15
  }
  const text = (s: string) => {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      byte(c & 0xff)
      byte(c >>> 8)
    }
    byte(0)
  }
  for (const dir of image.directories) text(`d${dir}`)
  for (const [path, bytes] of image.files) {
    text(`f${path}:${bytes.length}`)
    for (const b of bytes) byte(b)
  }
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, "0")
  return hex(h1) + hex(h2)
}

export function loadImage(state: DiskState, image: DiskImage): void {
  const ensureDir = (components: ReadonlyArray<string>): DirNode => {
    let dir = state.inodes.get(rootId) as DirNode
    for (const name of components) {
      const id = dir.volatile.get(name)
      let next = id === undefined ? undefined : state.inodes.get(id)
      if (next === undefined) {
        next = newDir(state.nextId++, 0)
        state.inodes.set(next.id, next)
        dir.volatile.set(name, next.id)
        dir.durable.set(name, next.id)
      }
      if (next.kind !== "dir") throw new Error(`image: ${components.join("/")} crosses a file`)
      dir = next
    }
    return dir
  }
  for (const path of image.directories) ensureDir(pathComponents(path))
  for (const [path, bytes] of image.files) {
    const components = pathComponents(path)
    const name = components.pop()
    if (name === undefined) throw new Error("image: a file cannot be the root")
    const dir = ensureDir(components)
    const file = newFile(state.nextId++, 0)
    file.durable = new Bytes(bytes)
    file.volatile = new Bytes(bytes)
    state.inodes.set(file.id, file)
    dir.volatile.set(name, file.id)
    dir.durable.set(name, file.id)
  }
}
