/**
 * The simulated disk's inodes (a durable and a volatile image per file and per directory) and its open modes.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Duration from "effect/Duration"
import { Bytes } from "../Bytes.ts"
import type { Prng } from "../Prng.ts"
import type { FaultConfig, FaultKind } from "./types.ts"

export type FileOp =
  | { readonly _tag: "write"; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly _tag: "truncate"; readonly length: number }

/** One atomic directory operation: a set of entry changes; `undefined` removes the entry. */
export type DirOp = ReadonlyArray<readonly [name: string, id: number | undefined]>

export interface Times {
  mtimeMs: number
  atimeMs: number
  birthtimeMs: number
  mode: number
  uid: number
  gid: number
}

export interface FileNode extends Times {
  readonly kind: "file"
  readonly id: number
  durable: Bytes
  volatile: Bytes
  pending: Array<FileOp>
}

export interface DirNode extends Times {
  readonly kind: "dir"
  readonly id: number
  durable: Map<string, number>
  volatile: Map<string, number>
  pending: Array<DirOp>
}

export type Node = FileNode | DirNode

export const rootId = 1
export const fileMode = 0o100644
export const dirMode = 0o040755
export const defaultSlowSync = Duration.millis(100)

export interface OpenMode {
  readonly read: boolean
  readonly write: boolean
  readonly append: boolean
  readonly create: boolean
  readonly exclusive: boolean
  readonly truncate: boolean
}

export const openModes: Record<FileSystem.OpenFlag, OpenMode> = {
  r: { read: true, write: false, append: false, create: false, exclusive: false, truncate: false },
  "r+": { read: true, write: true, append: false, create: false, exclusive: false, truncate: false },
  w: { read: false, write: true, append: false, create: true, exclusive: false, truncate: true },
  wx: { read: false, write: true, append: false, create: true, exclusive: true, truncate: true },
  "w+": { read: true, write: true, append: false, create: true, exclusive: false, truncate: true },
  "wx+": { read: true, write: true, append: false, create: true, exclusive: true, truncate: true },
  a: { read: false, write: true, append: true, create: true, exclusive: false, truncate: false },
  ax: { read: false, write: true, append: true, create: true, exclusive: true, truncate: false },
  "a+": { read: true, write: true, append: true, create: true, exclusive: false, truncate: false },
  "ax+": { read: true, write: true, append: true, create: true, exclusive: true, truncate: false },
}

export interface DiskState {
  inodes: Map<number, Node>
  nextId: number
  nextFd: number
  tempCounter: number
  ioCount: number
  epoch: number
  halted: boolean
  haltAfter: number | undefined
  config: FaultConfig
  stats: Record<FaultKind, number>
  trace: Array<string>
  faultRng: Prng
  crashRng: Prng
  openFiles: number
}

export const emptyStats = (): Record<FaultKind, number> => ({
  crash: 0,
  eio: 0,
  eioOnWrite: 0,
  eioOnRead: 0,
  eioOnSync: 0,
  enospcOnWrite: 0,
  shortWrite: 0,
  slowSync: 0,
})

export const cloneNode = (node: Node): Node =>
  node.kind === "file"
    ? { ...node, durable: node.durable.clone(), volatile: node.volatile.clone(), pending: [...node.pending] }
    : { ...node, durable: new Map(node.durable), volatile: new Map(node.volatile), pending: [...node.pending] }

export function newDir(id: number, now: number): DirNode {
  return {
    kind: "dir",
    id,
    durable: new Map(),
    volatile: new Map(),
    pending: [],
    mtimeMs: now,
    atimeMs: now,
    birthtimeMs: now,
    mode: dirMode,
    uid: 0,
    gid: 0,
  }
}

export function newFile(id: number, now: number, mode?: number): FileNode {
  return {
    kind: "file",
    id,
    durable: new Bytes(),
    volatile: new Bytes(),
    pending: [],
    mtimeMs: now,
    atimeMs: now,
    birthtimeMs: now,
    mode: mode === undefined ? fileMode : 0o100000 | (mode & 0o7777),
    uid: 0,
    gid: 0,
  }
}
