/**
 * What a crash does to the simulated disk: which unsynced operations survive, per crash variant.
 */
import type { Bytes } from "../Bytes.ts"
import type { Prng } from "../Prng.ts"
import { type DirOp, type DiskState, type FileOp, rootId } from "./inodes.ts"
import type { CrashReport, CrashVariant } from "./types.ts"

export function crashDisk(state: DiskState, variant: CrashVariant, rng: Prng): CrashReport {
  state.epoch++
  state.halted = false
  state.haltAfter = undefined
  const sector = variant === "torn512" ? 512 : variant === "torn4096" ? 4096 : 0
  let filePieces = 0
  let filePiecesLanded = 0
  let dirOps = 0
  let dirOpsLanded = 0
  let tornPieces = 0
  const ids = [...state.inodes.keys()].sort((a, b) => a - b)
  for (const id of ids) {
    const node = state.inodes.get(id)!
    if (node.kind === "file") {
      if (variant === "keep") {
        filePieces += node.pending.length
        filePiecesLanded += node.pending.length
        node.durable = node.volatile.clone()
      } else if (variant === "drop") {
        filePieces += node.pending.length
      } else if (node.pending.length > 0) {
        const pieces = splitPieces(node.pending, sector)
        const landed = rng.int(pieces.length + 1)
        filePieces += pieces.length
        filePiecesLanded += landed
        for (let i = 0; i < landed; i++) applyFileOp(node.durable, pieces[i]!)
        const next = pieces[landed]
        if (next !== undefined && next._tag === "write") {
          const tear = rng.int(3)
          if (tear === 1 && next.bytes.length > 1) {
            applyFileOp(node.durable, { ...next, bytes: next.bytes.subarray(0, 1 + rng.int(next.bytes.length - 1)) })
            tornPieces++
          } else if (tear === 2) {
            applyFileOp(node.durable, { ...next, bytes: new Uint8Array(next.bytes.length) })
            tornPieces++
          }
        }
      }
      node.pending = []
      node.volatile = node.durable.clone()
    } else {
      dirOps += node.pending.length
      if (variant === "keep") {
        dirOpsLanded += node.pending.length
        node.durable = new Map(node.volatile)
      } else if (variant !== "drop" && node.pending.length > 0) {
        const landed = rng.int(node.pending.length + 1)
        dirOpsLanded += landed
        for (let i = 0; i < landed; i++) applyDirOp(node.durable, node.pending[i]!)
      }
      node.pending = []
      node.volatile = new Map(node.durable)
    }
  }
  collectGarbage(state)
  return { variant, epoch: state.epoch, filePieces, filePiecesLanded, dirOps, dirOpsLanded, tornPieces }
}

export function splitPieces(ops: ReadonlyArray<FileOp>, sector: number): Array<FileOp> {
  const pieces: Array<FileOp> = []
  for (const op of ops) {
    if (op._tag === "truncate") {
      pieces.push(op)
      continue
    }
    let start = 0
    while (start < op.bytes.length) {
      const offset = op.offset + start
      const end = Math.min(op.bytes.length, start + (sector - (offset % sector)))
      pieces.push({ _tag: "write", offset, bytes: op.bytes.subarray(start, end) })
      start = end
    }
  }
  return pieces
}

export function applyFileOp(target: Bytes, op: FileOp): void {
  if (op._tag === "write") target.write(op.offset, op.bytes)
  else target.truncate(op.length)
}

export function applyDirOp(target: Map<string, number>, op: DirOp): void {
  for (const [name, id] of op) {
    if (id === undefined) target.delete(name)
    else target.set(name, id)
  }
}

export function collectGarbage(state: DiskState): void {
  const live = new Set<number>([rootId])
  const stack = [rootId]
  while (stack.length > 0) {
    const node = state.inodes.get(stack.pop()!)
    if (node?.kind !== "dir") continue
    for (const id of node.durable.values()) {
      if (live.has(id)) continue
      live.add(id)
      stack.push(id)
    }
  }
  for (const id of [...state.inodes.keys()]) if (!live.has(id)) state.inodes.delete(id)
}
