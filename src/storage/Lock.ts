/**
 * The data directory's exclusive lock: nothing else stops two processes from writing the same log (a seed defect).
 *
 * `LOCK` names its holder (ProcessInfo's identity, and the holder's lease) and is created atomically: the record
 * is written to a private pending file, fsynced, and hard-linked to LOCK, which fails if LOCK exists. A contender
 * judges the holder. Alive: refused. Dead: taken over. Unknown (another kernel or PID namespace, where a pid proves
 * nothing): the contender watches LOCK for one of the holder's leases and takes it over only if LOCK did not change
 * meanwhile, since a live holder renews it (a new mtime) every interval and stops writing once it cannot. Taking
 * over first renames LOCK to a name private to the contender, and the file claimed must be the very one judged: of
 * two racing contenders only one wins, and a lock renewed at the last moment is put back.
 *
 * Release 0.1.0 wrote a bare pid and renewed nothing; its lock is judged as that release judged it, by whether the
 * pid exists in our namespace. A lock file that reads as neither format (a newer release's, damage) counts as
 * held: breaking a live lock is worse than asking an operator to delete a file.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Clock, Deferred, Duration, Effect, Option, Schema, type Scope } from "effect"
import { DirectoryLocked, StorageFailed } from "../domain/errors.ts"
import { removeDurably, renameDurably, writeAndSync } from "./Directory.ts"
import { type LockLease, leaseMillisMax, type ProcessIdentity, ProcessInfo } from "./ProcessInfo.ts"
import { DurabilityLost, io, plainFailure } from "./StorageError.ts"

export const lockFileName = "LOCK"
const pendingSuffix = ".pending"
const claimSuffix = ".claim"
const attemptsMax = 3
const lockBytesMax = 4096
const pidMax = 2 ** 31 - 1

const Text = (maxLength: number) => Schema.String.pipe(Schema.minLength(1), Schema.maxLength(maxLength))
const optional = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** The lock record, one JSON line. Tokens become file names, so they are held to file-name-safe characters. */
const LockRecord = Schema.Struct({
  format: Schema.Literal("model-registry-lock"),
  version: Schema.Literal(2),
  host: Schema.String.pipe(Schema.maxLength(255)),
  bootId: optional(Text(64)),
  pidNamespace: optional(Text(64)),
  pid: Schema.Int.pipe(Schema.between(1, pidMax)),
  startTicks: optional(Schema.NonNegativeInt),
  token: Text(64).pipe(Schema.pattern(/^[A-Za-z0-9_-]+$/)),
  leaseMillis: optional(Schema.Int.pipe(Schema.between(1, leaseMillisMax))),
})
const decodeRecord = Schema.decodeUnknownOption(Schema.parseJson(LockRecord), { onExcessProperty: "error" })

/** Who a lock file says holds the directory. `leaseMillis` is absent for a holder that does not renew. */
export type LockHolder =
  | { readonly _tag: "Identity"; readonly identity: ProcessIdentity; readonly leaseMillis: number | undefined }
  | { readonly _tag: "Pid"; readonly pid: number }
  | { readonly _tag: "Unreadable" }

/** The lock file's bytes for a holder: exactly what `parseLock` reads back. */
export const encodeLock = (self: ProcessIdentity, lease: LockLease | undefined): string =>
  `${JSON.stringify({
    format: "model-registry-lock",
    version: 2,
    host: self.host,
    ...(self.bootId === undefined ? {} : { bootId: self.bootId }),
    ...(self.pidNamespace === undefined ? {} : { pidNamespace: self.pidNamespace }),
    pid: self.pid,
    ...(self.startTicks === undefined ? {} : { startTicks: self.startTicks }),
    token: self.token,
    ...(lease === undefined ? {} : { leaseMillis: lease.leaseMillis }),
  })}\n`

/** Reads a lock file strictly: release 0.1.0's bare pid, this release's record, or unreadable. */
export const parseLock = (text: string): LockHolder => {
  const legacy = /^\s*(\d{1,10})\s*$/.exec(text)
  if (legacy !== null) {
    const pid = Number(legacy[1])
    return pid >= 1 && pid <= pidMax ? { _tag: "Pid", pid } : { _tag: "Unreadable" }
  }
  if (!text.endsWith("\n")) return { _tag: "Unreadable" }
  const record = decodeRecord(text.slice(0, -1))
  if (Option.isNone(record)) return { _tag: "Unreadable" }
  const { format: _format, version: _version, leaseMillis, ...identity } = record.value
  return { _tag: "Identity", identity, leaseMillis }
}

const holderPid = (holder: LockHolder) =>
  holder._tag === "Identity" ? holder.identity.pid : holder._tag === "Pid" ? holder.pid : 0

const describeHolder = (holder: LockHolder) =>
  holder._tag === "Identity"
    ? `process ${holder.identity.pid} on host ${JSON.stringify(holder.identity.host)}`
    : holder._tag === "Pid"
      ? `process ${holder.pid}`
      : "an unreadable lock file"

/**
 * The lock as held: what the storage runs before every write, and a signal that a renewal found it lost. Renewals
 * run from acquisition to the end of the scope, so a long recovery at open does not let the lease lapse.
 */
export interface LockHold {
  /**
   * No IO while the last renewal is younger than the lease minus one interval; past that (the process was paused,
   * or its renewals are late) it renews first. Fails with `DurabilityLost` (`StorageFailed { reason: "LockLost" }`)
   * once the lock is lost, so the storage's latch takes it.
   */
  readonly guard: Effect.Effect<void, DurabilityLost>
  /**
   * Whether `guard` would succeed now without IO (the lease is young and the lock not lost): a caller that runs a
   * step per write checks this in its own step and runs `guard` only when it is false.
   */
  readonly young: () => boolean
  /** Completes when a renewal finds the lock lost (or cannot renew it within the lease). */
  readonly lost: Effect.Effect<void>
}

/** What one lock file looked like at one moment: a renewal changes the mtime, a replacement the text or inode. */
interface Observation {
  readonly text: string
  readonly mtimeMillis: number | undefined
  readonly ino: number | undefined
}

const sameObservation = (a: Observation, b: Observation) =>
  a.text === b.text && a.mtimeMillis === b.mtimeMillis && a.ino === b.ino && a.mtimeMillis !== undefined

interface Context {
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  readonly directory: string
  readonly lockPath: string
  readonly info: ProcessInfo
  /** Our lock record, as written. */
  readonly record: string
}

const orNone = <A>(effect: Effect.Effect<A, StorageFailed>) =>
  effect.pipe(
    Effect.map(Option.some),
    Effect.catchIf(
      (e) => e.reason === "NotFound",
      () => Effect.succeed(Option.none<A>()),
    ),
  )

const readText = (ctx: Context, path: string) => orNone(io("read-lock", path, ctx.fs.readFileString(path)))

/**
 * Text, mtime and inode from one open file. The file is opened before it is stat'ed so that a network file system
 * revalidates its cached attributes (close-to-open), or a renewal could go unseen.
 */
const observe = (ctx: Context, path: string) =>
  orNone(
    io(
      "read-lock",
      path,
      Effect.scoped(
        Effect.gen(function* () {
          const file = yield* ctx.fs.open(path, { flag: "r" })
          const info = yield* file.stat
          const bytes =
            info.size > BigInt(lockBytesMax)
              ? Option.none()
              : yield* file.readAlloc(FileSystem.Size(Math.max(Number(info.size), 1)))
          return {
            text: Option.match(bytes, { onNone: () => "", onSome: (b) => new TextDecoder().decode(b) }),
            mtimeMillis: Option.getOrUndefined(Option.map(info.mtime, (d) => d.getTime())),
            ino: Option.getOrUndefined(info.ino),
          } satisfies Observation
        }),
      ),
    ),
  )

const locked = (ctx: Context, holder: LockHolder) =>
  new DirectoryLocked({ directory: ctx.directory, pid: holderPid(holder) })

/**
 * Renames LOCK to our claim name and keeps it only if the claimed file is the one judged (`judged`); otherwise
 * puts it back and fails with `DirectoryLocked`. Returns so that acquisition tries to create LOCK again.
 */
const takeOver = <A>(
  ctx: Context,
  read: (path: string) => Effect.Effect<Option.Option<A>, StorageFailed>,
  judged: (claimed: A) => boolean,
  textOf: (claimed: A) => string,
) =>
  Effect.gen(function* () {
    const { fs, directory, lockPath } = ctx
    const claim = ctx.path.join(directory, `${lockFileName}.${ctx.info.self.token}${claimSuffix}`)
    const renamed = yield* orNone(plainFailure(renameDurably(fs, directory, lockPath, claim)))
    if (Option.isNone(renamed)) return
    const claimed = yield* read(claim)
    if (Option.isSome(claimed) && judged(claimed.value)) return yield* plainFailure(removeDurably(fs, directory, claim))
    // Renewed or replaced between the judgment and the rename: the holder is alive. Linking (not renaming) back
    // cannot overwrite a LOCK that a third process created meanwhile.
    yield* io("link-lock", lockPath, fs.link(claim, lockPath)).pipe(
      Effect.catchIf(
        (e) => e.reason === "AlreadyExists",
        () => Effect.void,
      ),
    )
    yield* plainFailure(removeDurably(fs, directory, claim))
    return yield* locked(
      ctx,
      Option.match(claimed, { onNone: () => ({ _tag: "Unreadable" }), onSome: (c) => parseLock(textOf(c)) }),
    )
  })

/**
 * Watches LOCK for a full lease of our own clock, polling a few times so a renewal is noticed early and nothing
 * spins. The clock starts after the first observation was read, so whatever that observation saw was written
 * before the lease we wait out began.
 */
const waitOutLease = (ctx: Context, first: Observation, leaseMillis: number) =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeNanos
    const pollMillis = Math.max(1, Math.ceil(leaseMillis / 5))
    for (;;) {
      const elapsedMillis = Number((yield* Clock.currentTimeNanos) - started) / 1e6
      if (elapsedMillis >= leaseMillis) return "expired" as const
      yield* Effect.sleep(Duration.millis(Math.min(pollMillis, Math.ceil(leaseMillis - elapsedMillis))))
      const now = yield* observe(ctx, ctx.lockPath)
      if (Option.isNone(now)) return "released" as const
      if (!sameObservation(now.value, first)) return "renewed" as const
    }
  })

/** One look at an existing LOCK: refuse, or make way (take it over, or find it released) for another attempt. */
const contend = (ctx: Context) =>
  Effect.gen(function* () {
    const { info, lockPath } = ctx
    const seen = yield* readText(ctx, lockPath)
    if (Option.isNone(seen)) return
    const text = seen.value
    const holder = parseLock(text)
    const sameText = (claimed: string) => claimed === text
    const byText = (path: string) => readText(ctx, path)
    switch (holder._tag) {
      case "Unreadable":
        return yield* locked(ctx, holder)
      case "Pid":
        if (holder.pid === info.self.pid || (yield* info.isAlive(holder.pid))) return yield* locked(ctx, holder)
        return yield* takeOver(ctx, byText, sameText, (t) => t)
      case "Identity": {
        const judgment = yield* info.judge(holder.identity)
        if (judgment === "alive") return yield* locked(ctx, holder)
        if (judgment === "dead") return yield* takeOver(ctx, byText, sameText, (t) => t)
        if (holder.leaseMillis === undefined) return yield* locked(ctx, holder)
        const first = yield* observe(ctx, lockPath)
        if (Option.isNone(first) || first.value.text !== text) return
        const outcome = yield* waitOutLease(ctx, first.value, holder.leaseMillis)
        if (outcome === "released") return
        if (outcome === "renewed") return yield* locked(ctx, holder)
        return yield* takeOver(
          ctx,
          (path) => observe(ctx, path),
          (claimed) => sameObservation(claimed, first.value),
          (claimed) => claimed.text,
        )
      }
    }
  })

/** A contender that died between writing its pending file and linking it left that file behind. */
const removeDeadPendingFiles = (ctx: Context) =>
  Effect.gen(function* () {
    const { fs, path, directory, info } = ctx
    for (const name of yield* io("list", directory, fs.readDirectory(directory))) {
      const legacy = /^LOCK\.(\d+)\.pending$/.exec(name)
      const current = /^LOCK\.([A-Za-z0-9_-]+)\.pending$/.exec(name)
      const file = path.join(directory, name)
      let dead = false
      if (legacy !== null) {
        const pid = Number(legacy[1])
        dead = pid !== info.self.pid && !(yield* info.isAlive(pid))
      } else if (current !== null && current[1] !== info.self.token) {
        const text = yield* readText(ctx, file)
        const holder = parseLock(Option.getOrElse(text, () => ""))
        dead = holder._tag === "Identity" && (yield* info.judge(holder.identity)) === "dead"
      }
      if (dead) yield* plainFailure(removeDurably(fs, directory, file))
    }
  })

const lockLost = (ctx: Context, why: string) =>
  new StorageFailed({
    operation: "renew-lock",
    path: ctx.lockPath,
    reason: "LockLost",
    message: `${why}; another process may be writing this data directory, so this one refuses every write until reopened`,
  })

/**
 * Renewing sets LOCK's mtime to a whole second later than the last renewal's (or the wall clock's, if later), so
 * every renewal shows on any file system's timestamp granularity; then LOCK is read to check it is still ours.
 * Touching first and checking after means a renewal that raced a takeover either made the contender put LOCK
 * back or finds LOCK gone or another's. Nothing is fsynced: the lease is about liveness, and after a crash the
 * holder is gone anyway.
 */
const hold = (ctx: Context, lease: LockLease, acquiredWall: number, acquiredNanos: bigint) =>
  Effect.gen(function* () {
    const { fs, lockPath } = ctx
    const clock = yield* Effect.clock
    const lostSignal = yield* Deferred.make<void>()
    const marginMillis = lease.leaseMillis - lease.renewIntervalMillis
    let lost: StorageFailed | undefined
    let renewedWall = acquiredWall
    let renewedNanos = acquiredNanos
    let mtimeSeconds = 0
    // Wall and monotonic clocks both: a frozen VM's monotonic clock may not count the freeze.
    const ageMillis = () =>
      Math.max(
        clock.unsafeCurrentTimeMillis() - renewedWall,
        Number(clock.unsafeCurrentTimeNanos() - renewedNanos) / 1e6,
      )
    const lose = (why: string) =>
      Effect.suspend(() => {
        lost ??= lockLost(ctx, why)
        return Deferred.succeed(lostSignal, undefined)
      })
    /** Fails only when LOCK could not be touched or read; finding it gone or another's loses the lock. */
    const renew = Effect.suspend(() => {
      const wall = clock.unsafeCurrentTimeMillis()
      const nanos = clock.unsafeCurrentTimeNanos()
      mtimeSeconds = Math.max(Math.floor(wall / 1000), mtimeSeconds + 1)
      return io("renew-lock", lockPath, fs.utimes(lockPath, mtimeSeconds, mtimeSeconds)).pipe(
        Effect.zipRight(io("renew-lock", lockPath, fs.readFileString(lockPath))),
        Effect.flatMap((text) => {
          if (text !== ctx.record) return lose(`the lock file is now held by ${describeHolder(parseLock(text))}`)
          if (nanos > renewedNanos) {
            renewedWall = wall
            renewedNanos = nanos
          }
          return Effect.void
        }),
        Effect.catchIf(
          (e) => e.reason === "NotFound",
          () => lose("the lock file was removed"),
        ),
      )
    })
    const failIfLost = Effect.suspend(() =>
      lost === undefined ? Effect.void : Effect.fail(new DurabilityLost({ failure: lost })),
    )
    const young = () => lost === undefined && ageMillis() <= marginMillis
    const guard = Effect.suspend(() => {
      if (young()) return Effect.void
      return lost !== undefined
        ? failIfLost
        : Effect.zipRight(
            Effect.catchAll(renew, (e) => lose(`the lock could not be renewed within its lease (${e.message})`)),
            failIfLost,
          )
    })
    const renewals = Effect.gen(function* () {
      while (lost === undefined) {
        yield* Effect.sleep(Duration.millis(lease.renewIntervalMillis))
        const failed = yield* Effect.flip(renew).pipe(Effect.option)
        // A failed renewal is tried again next interval, until the lease can no longer cover the writes.
        if (Option.isSome(failed) && ageMillis() > marginMillis)
          yield* lose(`the lock could not be renewed within its lease (${failed.value.message})`)
      }
    })
    yield* Effect.forkScoped(renewals)
    return { guard, young, lost: Deferred.await(lostSignal) } satisfies LockHold
  })

/**
 * Acquires the lock of `directory` for the current scope; releasing it removes the lock file (and fsyncs the
 * directory). Fails with `DirectoryLocked { directory, pid }` while the holder is alive or renews its lease.
 * Returns the hold when ProcessInfo has a lease (renewals run for the scope), else `undefined`.
 */
export const acquireLock = (
  directory: string,
): Effect.Effect<
  LockHold | undefined,
  StorageFailed | DirectoryLocked,
  FileSystem.FileSystem | Path.Path | ProcessInfo | Scope.Scope
> =>
  // Opening fails as a whole on any failure, so whether durability was lost does not matter here.
  plainFailure(
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const info = yield* ProcessInfo
      const clock = yield* Effect.clock
      const lockPath = path.join(directory, lockFileName)
      const record = encodeLock(info.self, info.lease)
      const ctx: Context = { fs, path, directory, lockPath, info, record }
      // The record is written and fsynced under a private name first, then hard-linked to LOCK (which fails if
      // LOCK exists): LOCK never exists without its record. Creating LOCK with "wx" and then writing left an empty,
      // forever-held lock whenever the write failed or the process died in between (found by the simulator).
      const pending = path.join(directory, `${lockFileName}.${info.self.token}${pendingSuffix}`)
      const create = Effect.gen(function* () {
        yield* writeAndSync(fs, pending, new TextEncoder().encode(record))
        const linked = yield* io("link-lock", lockPath, fs.link(pending, lockPath)).pipe(
          Effect.as(true),
          Effect.catchIf(
            (e) => e.reason === "AlreadyExists",
            () => Effect.succeed(false),
          ),
        )
        yield* removeDurably(fs, directory, pending)
        return linked
      })
      // The lease counts from before the record was written: never later than what a contender first sees.
      let acquiredWall = 0
      let acquiredNanos = 0n
      for (let attempt = 0; ; attempt++) {
        acquiredWall = clock.unsafeCurrentTimeMillis()
        acquiredNanos = clock.unsafeCurrentTimeNanos()
        if (yield* create) break
        if (attempt + 1 >= attemptsMax) {
          const text = yield* readText(ctx, lockPath).pipe(Effect.orElseSucceed(() => Option.none()))
          return yield* locked(ctx, parseLock(Option.getOrElse(text, () => "")))
        }
        yield* contend(ctx)
      }
      yield* removeDeadPendingFiles(ctx)
      yield* Effect.addFinalizer(() =>
        Effect.ignore(info.lease === undefined ? removeDurably(fs, directory, lockPath) : releaseIfOurs(ctx)),
      )
      return info.lease === undefined ? undefined : yield* hold(ctx, info.lease, acquiredWall, acquiredNanos)
    }),
  )

/** A holder that lost its lock must not remove the lock of the process that took it over. */
const releaseIfOurs = (ctx: Context) =>
  Effect.gen(function* () {
    const text = yield* readText(ctx, ctx.lockPath)
    if (Option.isSome(text) && text.value === ctx.record) yield* removeDurably(ctx.fs, ctx.directory, ctx.lockPath)
  })
