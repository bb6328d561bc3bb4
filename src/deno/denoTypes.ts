/**
 * The few Deno APIs the Deno composition uses, typed here and reached through `globalThis`. `tsc` (which type-checks
 * the repository with Node's types) does not know `Deno`, and an ambient `declare namespace Deno` would clash with
 * Deno's own declarations under `deno check`; a plain interface keeps both checkers green. `denoTypes.check.ts`
 * (run by `deno check` only) proves the real `Deno` global is assignable to this interface, so these
 * declarations cannot drift from Deno's.
 */

export interface DenoFileInfo {
  readonly isFile: boolean
  readonly isDirectory: boolean
  readonly isSymlink: boolean
  readonly size: number
  readonly mtime: Date | null
  readonly atime: Date | null
  readonly birthtime: Date | null
  readonly dev: number
  readonly ino: number | null
  readonly mode: number | null
  readonly nlink: number | null
  readonly uid: number | null
  readonly gid: number | null
  readonly rdev: number | null
  readonly blksize: number | null
  readonly blocks: number | null
  readonly isBlockDevice: boolean | null
  readonly isCharDevice: boolean | null
  readonly isFifo: boolean | null
  readonly isSocket: boolean | null
}

export interface DenoOpenOptions {
  read?: boolean
  write?: boolean
  append?: boolean
  truncate?: boolean
  create?: boolean
  createNew?: boolean
  mode?: number
}

export interface DenoFsFile {
  read(p: Uint8Array): Promise<number | null>
  write(p: Uint8Array): Promise<number>
  writeSync(p: Uint8Array): number
  seek(offset: number | bigint, whence: 0 | 1 | 2): Promise<number>
  sync(): Promise<void>
  syncData(): Promise<void>
  syncDataSync(): void
  truncate(len?: number): Promise<void>
  stat(): Promise<DenoFileInfo>
  close(): void
}

export interface DenoDirEntry {
  readonly name: string
  readonly isDirectory: boolean
}

export interface DenoFsEvent {
  readonly kind: string
  readonly paths: Array<string>
}

export interface DenoFsWatcher extends AsyncIterable<DenoFsEvent> {
  close(): void
}

export type DenoKvKeyPart = Uint8Array | string | number | bigint | boolean | symbol
export type DenoKvKey = ReadonlyArray<DenoKvKeyPart>

export interface DenoKvEntryMaybe<T> {
  readonly key: DenoKvKey
  readonly value: T | null
  readonly versionstamp: string | null
}

export interface DenoKvCommitResult {
  readonly ok: true
  readonly versionstamp: string
}

export interface DenoKvCommitError {
  readonly ok: false
}

export interface DenoAtomicOperation {
  check(...checks: Array<{ readonly key: DenoKvKey; readonly versionstamp: string | null }>): this
  set(key: DenoKvKey, value: unknown): this
  delete(key: DenoKvKey): this
  commit(): Promise<DenoKvCommitResult | DenoKvCommitError>
}

/** A prefix, or a range from `start` (included) to `end` (excluded). */
export type DenoKvListSelector = { readonly prefix: DenoKvKey } | { readonly start: DenoKvKey; readonly end: DenoKvKey }

export interface DenoKv {
  get<T = unknown>(key: DenoKvKey, options?: { consistency?: "strong" | "eventual" }): Promise<DenoKvEntryMaybe<T>>
  list<T = unknown>(
    selector: DenoKvListSelector,
    options?: { consistency?: "strong" | "eventual"; batchSize?: number },
  ): AsyncIterable<{ readonly key: DenoKvKey; readonly value: T; readonly versionstamp: string }>
  set(key: DenoKvKey, value: unknown): Promise<DenoKvCommitResult>
  atomic(): DenoAtomicOperation
  close(): void
}

export interface DenoServeOptions {
  port?: number
  hostname?: string
  signal?: AbortSignal
  onListen?: (localAddr: { readonly hostname: string; readonly port: number }) => void
}

export interface DenoHttpServer {
  readonly finished: Promise<void>
  readonly addr: { readonly hostname: string; readonly port: number; readonly transport: string }
  shutdown(): Promise<void>
}

export interface DenoNamespace {
  readonly pid: number
  hostname(): string
  readonly errors: { readonly NotFound: new (...args: Array<never>) => Error }
  open(path: string, options?: DenoOpenOptions): Promise<DenoFsFile>
  openSync(path: string, options?: DenoOpenOptions): DenoFsFile
  stat(path: string): Promise<DenoFileInfo>
  lstat(path: string): Promise<DenoFileInfo>
  readFile(path: string): Promise<Uint8Array>
  readTextFileSync(path: string): string
  readLinkSync(path: string): string
  readLink(path: string): Promise<string>
  realPath(path: string): Promise<string>
  writeFile(
    path: string,
    data: Uint8Array,
    options?: { append?: boolean; create?: boolean; createNew?: boolean; mode?: number },
  ): Promise<void>
  readDir(path: string): AsyncIterable<DenoDirEntry>
  mkdir(path: string, options?: { recursive?: boolean; mode?: number }): Promise<void>
  makeTempDir(options?: { dir?: string; prefix?: string; suffix?: string }): Promise<string>
  makeTempFile(options?: { dir?: string; prefix?: string; suffix?: string }): Promise<string>
  remove(path: string, options?: { recursive?: boolean }): Promise<void>
  rename(oldpath: string, newpath: string): Promise<void>
  link(oldpath: string, newpath: string): Promise<void>
  symlink(oldpath: string, newpath: string): Promise<void>
  copyFile(fromPath: string, toPath: string): Promise<void>
  chmod(path: string, mode: number): Promise<void>
  chown(path: string, uid: number | null, gid: number | null): Promise<void>
  truncate(name: string, len?: number): Promise<void>
  utime(path: string, atime: number | Date, mtime: number | Date): Promise<void>
  watchFs(paths: string | Array<string>, options?: { recursive: boolean }): DenoFsWatcher
  serve(options: DenoServeOptions, handler: (request: Request) => Response | Promise<Response>): DenoHttpServer
  readonly args: ReadonlyArray<string>
  readonly env: { get(key: string): string | undefined }
  readonly permissions: {
    querySync(descriptor: { readonly name: "env"; readonly variable?: string }): { readonly state: string }
  }
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void
  exit(code?: number): never
}

/** The KV part of the namespace: unstable (`--unstable-kv`, or `"unstable": ["kv"]` in deno.json). */
export interface DenoKvNamespace {
  openKv(path?: string): Promise<DenoKv>
}

/** The running Deno's namespace; call only under Deno. */
export const deno = (): DenoNamespace => (globalThis as unknown as { readonly Deno: DenoNamespace }).Deno

/** Deno's KV entry point, or undefined when the runtime was started without KV enabled. */
export const denoKv = (): DenoKvNamespace | undefined => {
  const runtime = (globalThis as unknown as { readonly Deno?: Partial<DenoKvNamespace> }).Deno
  return typeof runtime?.openKv === "function" ? (runtime as DenoKvNamespace) : undefined
}
