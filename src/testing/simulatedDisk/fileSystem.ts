/**
 * The `FileSystem` service over a simulated disk: every method, its I/O accounting and its fault gates.
 */
import { type PlatformError, SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { normalizeSimulatedPath, pathComponents } from "../SimulatedPath.ts"
import { applyDirOp, applyFileOp } from "./crash.ts"
import { type ErrorSite, fail, haltNote, makeError } from "./errors.ts"
import {
  type DirNode,
  type DirOp,
  type DiskState,
  defaultSlowSync,
  type FileNode,
  type FileOp,
  type Node,
  newDir,
  newFile,
  type OpenMode,
  openModes,
  rootId,
} from "./inodes.ts"
import type { FaultKind, FaultTrigger } from "./types.ts"

export interface FsContext {
  readonly state: DiskState
  readonly log: (line: string) => void
}

/** Runs a synchronous disk operation, turning thrown SystemErrors into failures and reading the Effect clock. */
export const run = <A>(body: (now: number) => A): Effect.Effect<A, PlatformError> =>
  Effect.clockWith((clock) =>
    Effect.suspend(() => {
      try {
        return Effect.succeed(body(clock.unsafeCurrentTimeMillis()))
      } catch (error) {
        if (error instanceof SystemError) return Effect.fail(error)
        throw error
      }
    }),
  )

export function fires(ctx: FsContext, trigger: FaultTrigger | undefined, io: number): boolean {
  if (trigger === undefined) return false
  if (typeof trigger === "number") return ctx.state.faultRng.chance(trigger)
  if ("probability" in trigger) return ctx.state.faultRng.chance(trigger.probability)
  if ("atIo" in trigger) return io === trigger.atIo
  return io >= trigger.fromIo
}

/** An injected fault: counted, traced, and reported to the caller. */
export function inject(ctx: FsContext, kind: FaultKind, io: number, what: string): void {
  ctx.state.stats[kind]++
  ctx.log(`${io} !${kind} ${what}`)
}

/**
 * The gate every I/O passes: refuses it when the disk is halted (or halts it), counts it, and applies the generic
 * `eio` knob. Returns the I/O's index and whether the `eio` knob fired (the caller applies the EIO per its kind).
 */
export function enter(ctx: FsContext, site: ErrorSite, detail: string): { io: number; eio: boolean } {
  const { state } = ctx
  const what = `${site.syscall} ${site.target}${site.dest === undefined ? "" : ` ${site.dest}`}${detail}`
  if (state.halted) {
    ctx.log(`x ${what}`)
    fail("EIO", site, haltNote)
  }
  const io = state.ioCount + 1
  if (state.haltAfter !== undefined && io > state.haltAfter) {
    state.halted = true
    ctx.log(`halt at ${io} ${what}`)
    fail("EIO", site, haltNote)
  }
  if (fires(ctx, state.config.crash, io)) {
    state.halted = true
    state.stats.crash++
    ctx.log(`halt at ${io} !crash ${what}`)
    fail("EIO", site, haltNote)
  }
  state.ioCount = io
  ctx.log(`${io} ${what}`)
  const eio = fires(ctx, state.config.eio, io)
  if (eio) inject(ctx, "eio", io, what)
  return { io, eio }
}

export function getDir(state: DiskState, id: number): DirNode {
  return state.inodes.get(id) as DirNode
}

export interface Resolved {
  readonly parent: DirNode
  readonly name: string
  readonly node: Node | undefined
  readonly path: string
}

/** Resolves a path through volatile entries. Missing or non-directory ancestors fail like POSIX. */
export function resolve(state: DiskState, rawPath: string, site: ErrorSite): Resolved {
  const components = pathComponents(rawPath)
  const path = `/${components.join("/")}`
  let dir = getDir(state, rootId)
  if (components.length === 0) return { parent: dir, name: "", node: dir, path }
  for (let i = 0; i < components.length - 1; i++) {
    const id = dir.volatile.get(components[i]!)
    const next = id === undefined ? undefined : state.inodes.get(id)
    if (next === undefined) fail("ENOENT", site)
    if (next!.kind !== "dir") fail("ENOTDIR", site)
    dir = next as DirNode
  }
  const name = components[components.length - 1]!
  const id = dir.volatile.get(name)
  return { parent: dir, name, node: id === undefined ? undefined : state.inodes.get(id), path }
}

export function dirChange(dir: DirNode, op: DirOp, now: number): void {
  applyDirOp(dir.volatile, op)
  dir.pending.push(op)
  dir.mtimeMs = now
}

export function fileChange(node: FileNode, op: FileOp, now: number): void {
  applyFileOp(node.volatile, op)
  // Keep a private copy: the caller may reuse its buffer, and a torn crash replays these bytes later.
  node.pending.push(op._tag === "write" ? { ...op, bytes: op.bytes.slice() } : op)
  node.mtimeMs = now
}

export function countLinks(state: DiskState, target: Node): number {
  if (target.kind === "dir") {
    let subdirs = 0
    for (const id of target.volatile.values()) if (state.inodes.get(id)?.kind === "dir") subdirs++
    return 2 + subdirs
  }
  let links = 0
  for (const node of state.inodes.values()) {
    if (node.kind !== "dir") continue
    for (const id of node.volatile.values()) if (id === target.id) links++
  }
  return links
}

export function infoOf(state: DiskState, node: Node): FileSystem.File.Info {
  const size = node.kind === "file" ? node.volatile.length : 4096
  return {
    type: node.kind === "file" ? "File" : "Directory",
    mtime: Option.some(new Date(node.mtimeMs)),
    atime: Option.some(new Date(node.atimeMs)),
    birthtime: Option.some(new Date(node.birthtimeMs)),
    dev: 1,
    ino: Option.some(node.id),
    mode: node.mode,
    nlink: Option.some(countLinks(state, node)),
    uid: Option.some(node.uid),
    gid: Option.some(node.gid),
    rdev: Option.some(0),
    size: FileSystem.Size(size),
    blksize: Option.some(FileSystem.Size(4096)),
    blocks: Option.some(Math.ceil(size / 512)),
  }
}

/** Lands `bytes` at `offset` under the write knobs. Returns how many bytes the caller may report as written. */
export function landWrite(
  ctx: FsContext,
  node: FileNode,
  offset: number,
  bytes: Uint8Array,
  gate: { io: number; eio: boolean },
  site: ErrorSite,
  allowShort: boolean,
  now: number,
  onPartial: (landed: number) => void,
): number {
  const { state } = ctx
  const what = `${site.syscall} ${site.target}`
  if (gate.eio) fail("EIO", site)
  if (fires(ctx, state.config.eioOnWrite, gate.io)) {
    inject(ctx, "eioOnWrite", gate.io, what)
    fail("EIO", site)
  }
  if (bytes.length > 0 && fires(ctx, state.config.enospcOnWrite, gate.io)) {
    const landed = state.faultRng.int(bytes.length)
    inject(ctx, "enospcOnWrite", gate.io, `${what} ${landed}/${bytes.length}`)
    if (landed > 0) fileChange(node, { _tag: "write", offset, bytes: bytes.subarray(0, landed) }, now)
    onPartial(landed)
    fail("ENOSPC", site)
  }
  if (allowShort && bytes.length > 1 && fires(ctx, state.config.shortWrite, gate.io)) {
    const landed = 1 + state.faultRng.int(bytes.length - 1)
    inject(ctx, "shortWrite", gate.io, `${what} ${landed}/${bytes.length}`)
    fileChange(node, { _tag: "write", offset, bytes: bytes.subarray(0, landed) }, now)
    return landed
  }
  if (bytes.length > 0) fileChange(node, { _tag: "write", offset, bytes }, now)
  return bytes.length
}

export function readFault(ctx: FsContext, gate: { io: number; eio: boolean }, site: ErrorSite): void {
  if (gate.eio) fail("EIO", site)
  if (fires(ctx, ctx.state.config.eioOnRead, gate.io)) {
    inject(ctx, "eioOnRead", gate.io, `${site.syscall} ${site.target}`)
    fail("EIO", site)
  }
}

/** Creates, truncates or opens `path` per `mode`, as open(2) does. */
export function openNode(
  ctx: FsContext,
  path: string,
  mode: OpenMode,
  site: ErrorSite,
  now: number,
  perm?: number,
): Node {
  const { state } = ctx
  const target = resolve(state, path, site)
  if (target.node !== undefined) {
    if (mode.create && mode.exclusive) fail("EEXIST", site)
    if (target.node.kind === "dir") {
      if (mode.write) fail("EISDIR", site)
      return target.node
    }
    if (mode.truncate && mode.write && target.node.volatile.length > 0) {
      fileChange(target.node, { _tag: "truncate", length: 0 }, now)
    }
    return target.node
  }
  if (!mode.create || target.name === "") fail("ENOENT", site)
  const file = newFile(state.nextId++, now, perm)
  state.inodes.set(file.id, file)
  dirChange(target.parent, [[target.name, file.id]], now)
  return file
}

export class SimulatedFile implements FileSystem.File {
  readonly [FileSystem.FileTypeId]: FileSystem.FileTypeId = FileSystem.FileTypeId
  private position = 0n
  closed = false

  constructor(
    private readonly ctx: FsContext,
    readonly fd: FileSystem.File.Descriptor,
    private readonly node: Node,
    private readonly path: string,
    private readonly mode: OpenMode,
    private readonly epoch: number,
  ) {}

  private site(method: string, syscall: string): ErrorSite {
    return { method, syscall, target: this.fd }
  }

  /** Handle misuse fails before the disk sees it, so it is not counted. */
  private check(method: string, syscall: string, needs: "read" | "write" | "any"): void {
    const site = this.site(method, syscall)
    if (this.closed) fail("EBADF", site, "closed handle")
    if (this.epoch !== this.ctx.state.epoch) fail("EBADF", site, "handle opened before a simulated crash")
    if (needs === "read" && this.node.kind === "dir") fail("EISDIR", site)
    if (needs === "read" && !this.mode.read) fail("EBADF", site)
    if (needs === "write" && !this.mode.write) fail("EBADF", site)
  }

  private gate(method: string, syscall: string, detail: string) {
    return enter(this.ctx, { method, syscall, target: this.path }, detail)
  }

  get stat(): Effect.Effect<FileSystem.File.Info, PlatformError> {
    return run(() => {
      this.check("stat", "fstat", "any")
      const gate = this.gate("stat", "fstat", "")
      if (gate.eio) fail("EIO", this.site("stat", "fstat"))
      return infoOf(this.ctx.state, this.node)
    })
  }

  seek(offset: FileSystem.SizeInput, from: FileSystem.SeekMode): Effect.Effect<void> {
    return Effect.sync(() => {
      const delta = FileSystem.Size(offset)
      this.position = from === "start" ? delta : this.position + delta
    })
  }

  get sync(): Effect.Effect<void, PlatformError> {
    const { state } = this.ctx
    return Effect.flatMap(
      run(() => {
        this.check("sync", "fsync", "any")
        const gate = this.gate("sync", "fsync", this.node.kind === "dir" ? " dir" : "")
        const what = `fsync ${this.path}`
        const eio = gate.eio || fires(this.ctx, state.config.eioOnSync, gate.io)
        if (eio && !gate.eio) inject(this.ctx, "eioOnSync", gate.io, what)
        const slow = fires(this.ctx, state.config.slowSync, gate.io)
        if (slow) inject(this.ctx, "slowSync", gate.io, what)
        return { eio, slow }
      }),
      ({ eio, slow }) => {
        const finish = run(() => {
          const site = this.site("sync", "fsync")
          if (state.halted) fail("EIO", site, haltNote)
          if (this.epoch !== state.epoch) fail("EBADF", site, "handle opened before a simulated crash")
          const node = this.node
          if (eio) {
            // fsyncgate: the failed writeback is forgotten; it will never become durable through this sync.
            node.pending = []
            fail("EIO", site)
          }
          if (node.kind === "file") for (const op of node.pending) applyFileOp(node.durable, op)
          else for (const op of node.pending) applyDirOp(node.durable, op)
          node.pending = []
        })
        return slow ? Effect.zipRight(Effect.sleep(state.config.slowSyncDelay ?? defaultSlowSync), finish) : finish
      },
    )
  }

  read(buffer: Uint8Array): Effect.Effect<FileSystem.Size, PlatformError> {
    return run(() => {
      // Node's fs.read answers a 0-byte read itself, without a syscall, whatever the descriptor.
      if (buffer.length === 0) return FileSystem.Size(0)
      this.check("read", "read", "read")
      const gate = this.gate("read", "read", ` @${this.position} ${buffer.length}`)
      readFault(this.ctx, gate, this.site("read", "read"))
      const n = this.copyOut(buffer)
      return FileSystem.Size(n)
    })
  }

  readAlloc(size: FileSystem.SizeInput): Effect.Effect<Option.Option<Uint8Array>, PlatformError> {
    return run(() => {
      if (Number(size) === 0) return Option.none()
      this.check("readAlloc", "read", "read")
      const gate = this.gate("readAlloc", "read", ` @${this.position} ${size}`)
      readFault(this.ctx, gate, this.site("readAlloc", "read"))
      const buffer = new Uint8Array(Number(size))
      const n = this.copyOut(buffer)
      return n === 0 ? Option.none() : Option.some(n === buffer.length ? buffer : buffer.slice(0, n))
    })
  }

  private copyOut(buffer: Uint8Array): number {
    const data = (this.node as FileNode).volatile.view()
    const start = Number(this.position)
    const n = Math.max(0, Math.min(buffer.length, data.length - start))
    if (n > 0) buffer.set(data.subarray(start, start + n))
    this.position += BigInt(n)
    return n
  }

  truncate(length?: FileSystem.SizeInput): Effect.Effect<void, PlatformError> {
    return run((now) => {
      const site = this.site("truncate", "ftruncate")
      if (this.closed || this.epoch !== this.ctx.state.epoch) this.check("truncate", "ftruncate", "any")
      // ftruncate(2) on a descriptor not open for writing is EINVAL on Linux.
      if (!this.mode.write || this.node.kind === "dir") fail("EINVAL", site)
      // Node's FileImpl passes `length ? Number(length) : undefined`, so 0n and undefined both mean 0.
      const len = length ? Number(length) : 0
      const gate = this.gate("truncate", "ftruncate", ` ${len}`)
      if (gate.eio) fail("EIO", site)
      fileChange(this.node as FileNode, { _tag: "truncate", length: len }, now)
      if (!this.mode.append && this.position > BigInt(len)) this.position = BigInt(len)
    })
  }

  write(buffer: Uint8Array): Effect.Effect<FileSystem.Size, PlatformError> {
    return run((now) => {
      this.check("write", "write", "write")
      const node = this.node as FileNode
      const offset = this.mode.append ? node.volatile.length : Number(this.position)
      const gate = this.gate("write", "write", ` @${offset} +${buffer.length}`)
      const written = landWrite(this.ctx, node, offset, buffer, gate, this.site("write", "write"), true, now, () => {})
      if (!this.mode.append) this.position += BigInt(written)
      return FileSystem.Size(written)
    })
  }

  writeAll(buffer: Uint8Array): Effect.Effect<void, PlatformError> {
    return run((now) => {
      this.check("writeAll", "write", "write")
      const node = this.node as FileNode
      const offset = this.mode.append ? node.volatile.length : Number(this.position)
      const gate = this.gate("writeAll", "write", ` @${offset} +${buffer.length}`)
      const site = this.site("writeAll", "write")
      const advance = (n: number) => {
        if (!this.mode.append) this.position += BigInt(n)
      }
      const written = landWrite(this.ctx, node, offset, buffer, gate, site, false, now, advance)
      if (written === 0) {
        // Node's writeAll treats a 0-byte write as WriteZero, even for an empty buffer.
        throw new SystemError({
          module: "FileSystem",
          method: "writeAll",
          reason: "WriteZero",
          pathOrDescriptor: this.fd,
          description: "write returned 0 bytes written",
        })
      }
      advance(written)
    })
  }
}

// Table-like: one entry per `FileSystem` method, each a few lines over the shared gate and resolver. It is long
// only because the interface is wide; splitting it would scatter the one place that shows every method's faults.
export function makeFileSystem(state: DiskState, log: (line: string) => void): FileSystem.FileSystem {
  const ctx: FsContext = { state, log }
  const site = (method: string, syscall: string, target: string, dest?: string): ErrorSite =>
    dest === undefined ? { method, syscall, target } : { method, syscall, target, dest }
  /** The gate for I/Os with no data: the generic `eio` knob fails them outright. */
  const gated = (s: ErrorSite, detail = ""): void => {
    if (enter(ctx, s, detail).eio) fail("EIO", s)
  }

  const open = (
    path: string,
    options?: FileSystem.OpenFileOptions,
  ): Effect.Effect<FileSystem.File, PlatformError, Scope.Scope> => {
    const flag = options?.flag ?? "r"
    const mode = openModes[flag]
    return Effect.acquireRelease(
      run((now) => {
        const s = site("open", "open", path)
        gated(s, ` ${flag}`)
        const node = openNode(ctx, path, mode, s, now, options?.mode)
        state.openFiles++
        const fd = FileSystem.FileDescriptor(state.nextFd++)
        return new SimulatedFile(ctx, fd, node, normalizeSimulatedPath(path), mode, state.epoch)
      }),
      (file) =>
        Effect.sync(() => {
          file.closed = true
          state.openFiles--
        }),
    )
  }

  const removeEntry = (target: Resolved, now: number) => {
    dirChange(target.parent, [[target.name, undefined]], now)
  }

  const makeDirectory = (path: string, options?: FileSystem.MakeDirectoryOptions) =>
    run((now) => {
      const s = site("makeDirectory", "mkdir", path)
      gated(s)
      const components = pathComponents(path)
      if (options?.recursive) {
        let dir = getDir(state, rootId)
        for (let i = 0; i < components.length; i++) {
          const name = components[i]!
          const id = dir.volatile.get(name)
          let next = id === undefined ? undefined : state.inodes.get(id)
          if (next === undefined) {
            next = newDir(state.nextId++, now)
            state.inodes.set(next.id, next)
            dirChange(dir, [[name, next.id]], now)
          }
          // mkdir -p: a file as the last component is EEXIST, as an ancestor ENOTDIR.
          if (next.kind !== "dir") fail(i === components.length - 1 ? "EEXIST" : "ENOTDIR", s)
          dir = next as DirNode
        }
        return
      }
      const target = resolve(state, path, s)
      if (target.node !== undefined) fail("EEXIST", s)
      const dir = newDir(state.nextId++, now)
      state.inodes.set(dir.id, dir)
      dirChange(target.parent, [[target.name, dir.id]], now)
    })

  const makeTempDirectory = (options?: FileSystem.MakeTempDirectoryOptions) =>
    run((now) => {
      const base = options?.directory ?? "/tmp"
      const s = site("makeTempDirectory", "mkdtemp", base)
      gated(s)
      let parent = resolve(state, base, s)
      if (parent.node === undefined && normalizeSimulatedPath(base) === "/tmp") {
        const tmp = newDir(state.nextId++, now)
        state.inodes.set(tmp.id, tmp)
        dirChange(parent.parent, [[parent.name, tmp.id]], now)
        parent = { ...parent, node: tmp }
      }
      if (parent.node === undefined) fail("ENOENT", s)
      if (parent.node!.kind !== "dir") fail("ENOTDIR", s)
      const dir = parent.node as DirNode
      // Names come from a counter, not the fault PRNG, so making temp dirs never shifts fault draws.
      let name: string
      do {
        state.tempCounter++
        name = `${options?.prefix ?? ""}${(Math.imul(state.tempCounter, 0x9e3779b1) >>> 0).toString(36).padStart(6, "0").slice(-6)}`
      } while (dir.volatile.has(name))
      const created = newDir(state.nextId++, now)
      state.inodes.set(created.id, created)
      dirChange(dir, [[name, created.id]], now)
      const basePath = normalizeSimulatedPath(base)
      return basePath === "/" ? `/${name}` : `${basePath}/${name}`
    })

  const remove = (path: string, options?: FileSystem.RemoveOptions) =>
    run((now) => {
      const s = site("remove", "rm", path)
      gated(s)
      let target: Resolved
      try {
        target = resolve(state, path, s)
      } catch (error) {
        // rm -f ignores a missing path, even a missing ancestor, but not an ancestor that is a file (ENOTDIR).
        if (options?.force && error instanceof SystemError && error.reason === "NotFound") return
        throw error
      }
      if (target.node === undefined) {
        if (options?.force) return
        fail("ENOENT", { ...s, syscall: "lstat" })
      }
      if (target.name === "") fail("EPERM", s)
      if (target.node!.kind === "dir" && !options?.recursive) {
        throw new SystemError({
          reason: "Unknown",
          module: "FileSystem",
          method: "remove",
          pathOrDescriptor: path,
          syscall: "rm",
          description: `Path is a directory: rm returned EISDIR (is a directory) ${path}`,
          cause: Object.assign(new Error("ERR_FS_EISDIR"), { code: "ERR_FS_EISDIR", syscall: "rm" }),
        })
      }
      removeEntry(target, now)
    })

  const makeTempFile = (options?: FileSystem.MakeTempFileOptions) =>
    Effect.flatMap(makeTempDirectory(options), (directory) =>
      run((now) => {
        state.tempCounter++
        const name = `${(Math.imul(state.tempCounter, 0x85ebca6b) >>> 0).toString(16).padStart(8, "0")}${options?.suffix ?? ""}`
        const path = `${directory}/${name}`
        const s = site("makeTempFile", "open", path)
        gated(s)
        openNode(ctx, path, openModes["w+"], s, now)
        return path
      }),
    )

  const rename = (oldPath: string, newPath: string) =>
    run((now) => {
      const s = site("rename", "rename", oldPath, newPath)
      gated(s)
      const from = resolve(state, oldPath, s)
      const to = resolve(state, newPath, s)
      if (from.node === undefined) fail("ENOENT", s)
      const moving = from.node!
      if (from.path === to.path) return
      if (from.name === "" || to.name === "") fail("EBUSY", s)
      if (moving.kind === "dir" && `${to.path}/`.startsWith(`${from.path}/`)) fail("EINVAL", s)
      if (to.node !== undefined) {
        // Linux checks "the target is an ancestor of the source" (lock_rename's trap) before the types.
        if (`${from.path}/`.startsWith(`${to.path}/`)) fail("ENOTEMPTY", s)
        if (moving.kind === "file" && to.node.kind === "dir") fail("EISDIR", s)
        if (moving.kind === "dir" && to.node.kind === "file") fail("ENOTDIR", s)
        if (to.node.kind === "dir" && to.node.volatile.size > 0) fail("ENOTEMPTY", s)
        if (to.node.id === moving.id) return
      }
      if (from.parent.id === to.parent.id) {
        dirChange(
          from.parent,
          [
            [from.name, undefined],
            [to.name, moving.id],
          ],
          now,
        )
      } else {
        dirChange(to.parent, [[to.name, moving.id]], now)
        dirChange(from.parent, [[from.name, undefined]], now)
      }
    })

  const readFile = (path: string) =>
    run(() => {
      const s = site("readFile", "open", path)
      const gate = enter(ctx, s, "")
      readFault(ctx, gate, s)
      const target = resolve(state, path, s)
      if (target.node === undefined) fail("ENOENT", s)
      if (target.node!.kind === "dir") fail("EISDIR", { ...s, syscall: "read", target: path })
      return (target.node as FileNode).volatile.copyOut()
    })

  const writeFile = (path: string, data: Uint8Array, options?: FileSystem.WriteFileOptions) =>
    run((now) => {
      const flag = options?.flag ?? "w"
      const mode = openModes[flag]
      const s = site("writeFile", "open", path)
      gated(s, ` ${flag}`)
      const node = openNode(ctx, path, mode, s, now, options?.mode)
      if (!mode.write) fail("EBADF", { ...s, syscall: "write" })
      const file = node as FileNode
      const offset = mode.append ? file.volatile.length : 0
      const ws = site("writeFile", "write", path)
      const gate = enter(ctx, ws, ` @${offset} +${data.length}`)
      landWrite(ctx, file, offset, data, gate, ws, false, now, () => {})
    })

  const copyFile = (fromPath: string, toPath: string) =>
    run((now) => {
      const s = site("copyFile", "copyfile", fromPath, toPath)
      const gate = enter(ctx, s, "")
      readFault(ctx, gate, s)
      const from = resolve(state, fromPath, s)
      if (from.node === undefined) fail("ENOENT", s)
      const to = resolve(state, toPath, s)
      if (to.node?.kind === "dir") fail("EISDIR", s)
      if (from.node!.kind === "dir") {
        // libuv opens (creating or truncating) the destination, fails to read the directory, then unlinks it.
        if (to.node !== undefined) dirChange(to.parent, [[to.name, undefined]], now)
        fail("EISDIR", s)
      }
      const data = (from.node as FileNode).volatile.copyOut()
      const ws = site("copyFile", "write", toPath)
      const writeGate = enter(ctx, ws, ` +${data.length}`)
      const node = openNode(ctx, toPath, openModes.w, s, now)
      landWrite(ctx, node as FileNode, 0, data, writeGate, ws, false, now, () => {})
    })

  const copy = (fromPath: string, toPath: string, options?: FileSystem.CopyOptions) =>
    run((now) => {
      const s = site("copy", "cp", fromPath, toPath)
      gated(s)
      const from = resolve(state, fromPath, s)
      if (from.node === undefined) fail("ENOENT", s)
      const copyInto = (node: Node, dest: string) => {
        const target = resolve(state, dest, s)
        if (node.kind === "file") {
          if (target.node?.kind === "dir") fail("EISDIR", s)
          if (target.node !== undefined && !options?.overwrite) return
          const created = openNode(ctx, dest, openModes.w, s, now) as FileNode
          if (node.volatile.length > 0)
            fileChange(created, { _tag: "write", offset: 0, bytes: node.volatile.view() }, now)
          return
        }
        if (target.node === undefined) {
          const dir = newDir(state.nextId++, now)
          state.inodes.set(dir.id, dir)
          dirChange(target.parent, [[target.name, dir.id]], now)
        } else if (target.node.kind !== "dir") fail("ENOTDIR", s)
        const names = [...node.volatile.keys()].sort()
        for (const name of names) copyInto(state.inodes.get(node.volatile.get(name)!)!, `${target.path}/${name}`)
      }
      if (from.node!.kind === "dir") {
        const into = resolve(state, toPath, s).path
        if (`${into}/`.startsWith(`${from.path}/`)) fail("EINVAL", s)
      }
      copyInto(from.node!, toPath)
    })

  const readDirectory = (path: string, options?: FileSystem.ReadDirectoryOptions) =>
    run(() => {
      const s = site("readDirectory", "scandir", path)
      gated(s)
      const target = resolve(state, path, s)
      if (target.node === undefined) fail("ENOENT", s)
      if (target.node!.kind !== "dir") fail("ENOTDIR", s)
      const out: Array<string> = []
      const walk = (dir: DirNode, prefix: string) => {
        for (const [name, id] of dir.volatile) {
          const rel = prefix === "" ? name : `${prefix}/${name}`
          out.push(rel)
          const child = state.inodes.get(id)
          if (options?.recursive && child?.kind === "dir") walk(child, rel)
        }
      }
      walk(target.node as DirNode, "")
      return out.sort()
    })

  const simple =
    <Args extends ReadonlyArray<unknown>>(
      method: string,
      syscall: string,
      apply: (node: Node, now: number, ...args: Args) => void,
    ) =>
    (path: string, ...args: Args) =>
      run((now) => {
        const s = site(method, syscall, path)
        gated(s)
        const target = resolve(state, path, s)
        if (target.node === undefined) fail("ENOENT", s)
        apply(target.node!, now, ...args)
      })

  return FileSystem.make({
    access: simple("access", "access", () => {}),
    chmod: simple("chmod", "chmod", (node, now, mode: number) => {
      node.mode = (node.mode & ~0o7777) | (mode & 0o7777)
      node.mtimeMs = now
    }),
    chown: simple("chown", "chown", (node, _now, uid: number, gid: number) => {
      node.uid = uid
      node.gid = gid
    }),
    utimes: simple("utimes", "utime", (node, _now, atime: Date | number, mtime: Date | number) => {
      node.atimeMs = typeof atime === "number" ? atime * 1000 : atime.getTime()
      node.mtimeMs = typeof mtime === "number" ? mtime * 1000 : mtime.getTime()
    }),
    copy,
    copyFile,
    link: (fromPath, toPath) =>
      run((now) => {
        const s = site("link", "link", fromPath, toPath)
        gated(s)
        const from = resolve(state, fromPath, s)
        if (from.node === undefined) fail("ENOENT", s)
        if (from.node!.kind === "dir") fail("EPERM", s)
        const to = resolve(state, toPath, s)
        if (to.node !== undefined) fail("EEXIST", s)
        dirChange(to.parent, [[to.name, from.node!.id]], now)
      }),
    makeDirectory,
    makeTempDirectory,
    // Node dies if the cleanup fails; here the disk may be halted or crashed by design, so cleanup is best effort.
    makeTempDirectoryScoped: (options) =>
      Effect.acquireRelease(makeTempDirectory(options), (dir) => Effect.ignore(remove(dir, { recursive: true }))),
    makeTempFile,
    makeTempFileScoped: (options) =>
      Effect.acquireRelease(makeTempFile(options), (file) =>
        Effect.ignore(remove(file.slice(0, file.lastIndexOf("/")), { recursive: true })),
      ),
    open,
    readDirectory,
    readFile,
    // Nothing on this disk is a symbolic link, so readlink(2) of an existing path is EINVAL.
    readLink: (path) =>
      run(() => {
        const s = site("readLink", "readlink", path)
        gated(s)
        const target = resolve(state, path, s)
        return fail(target.node === undefined ? "ENOENT" : "EINVAL", s)
      }),
    realPath: (path) =>
      run(() => {
        const s = site("realPath", "realpath", path)
        gated(s)
        const target = resolve(state, path, s)
        if (target.node === undefined) fail("ENOENT", s)
        return target.path
      }),
    remove,
    rename,
    stat: (path) =>
      run(() => {
        const s = site("stat", "stat", path)
        gated(s)
        const target = resolve(state, path, s)
        if (target.node === undefined) fail("ENOENT", s)
        return infoOf(state, target.node!)
      }),
    symlink: (fromPath, toPath) =>
      run(() => {
        const s = site("symlink", "symlink", fromPath, toPath)
        gated(s)
        return fail("EPERM", s, "the simulated disk has no symbolic links")
      }),
    truncate: (path, length) =>
      run((now) => {
        const s = site("truncate", "open", path)
        gated(s, ` ${length ?? 0}`)
        const target = resolve(state, path, s)
        if (target.node === undefined) fail("ENOENT", s)
        if (target.node!.kind === "dir") fail("EISDIR", s)
        fileChange(
          target.node as FileNode,
          { _tag: "truncate", length: length === undefined ? 0 : Number(length) },
          now,
        )
      }),
    watch: (path) =>
      Stream.fail(makeError("EPERM", site("watch", "watch", path), "the simulated disk does not support watch")),
    writeFile,
  })
}
