/**
 * What crosses between the storage contract suite in Node and the ports it tests inside workerd
 * (storageWorker.ts): one operation per port call, and each call's exit as plain data, so a typed failure arrives
 * as the same tagged error and a defect as a defect.
 */
import { Cause, Effect, Exit, Option } from "effect"
import { DirectoryLocked, InvalidInput, StorageFailed, WalCorrupt } from "../../../src/domain/errors.ts"
import type { Snapshot } from "../../../src/storage/SnapshotStore.ts"
import type { RecoveryReport, TornTail, WalRecord } from "../../../src/storage/Wal.ts"

export type Operation =
  | { readonly op: "lastSeq" | "firstSeq" | "segments" | "health" | "rotate" | "snapshotLatest" }
  | { readonly op: "append"; readonly records: ReadonlyArray<WalRecord> }
  | { readonly op: "read"; readonly fromSeq: number }
  | { readonly op: "deleteSegmentsUpTo"; readonly upToSeq: number }
  | { readonly op: "snapshotWrite"; readonly lastSeq: number; readonly state: ReadonlyArray<Uint8Array> }

/** The observers' ports, on the object's one set of stores (kept until `reopenObservers`). */
export type ObserverOperation =
  | { readonly op: "cursorGet"; readonly name: string }
  | { readonly op: "cursorSet"; readonly name: string; readonly seq: number }
  | { readonly op: "sinkAppend"; readonly name: string; readonly bytes: Uint8Array }
  | { readonly op: "sinkReadAll"; readonly name: string }

/** Faults the test object injects into its storage: the next `syncFailures` syncs reject; the statement
 * `execFailIn` statements from now throws as a full database would. */
export interface Faults {
  readonly syncFailures?: number
  readonly execFailIn?: number
}

export interface EncodedError {
  readonly _tag: string
  readonly [field: string]: unknown
}

export type Reply<A> =
  | { readonly kind: "ok"; readonly value: A }
  | { readonly kind: "failure"; readonly error: EncodedError }
  | { readonly kind: "defect"; readonly message: string }

export const encodeExit = <A, E>(exit: Exit.Exit<A, E>): Reply<A> =>
  Exit.match(exit, {
    onSuccess: (value): Reply<A> => ({ kind: "ok", value }),
    onFailure: (cause): Reply<A> =>
      Option.match(Cause.failureOption(cause), {
        onSome: (error): Reply<A> => ({
          kind: "failure",
          // `message` is an Error's own property but not enumerable; the errors that declare it as a field need it.
          error: {
            ...(error as object),
            _tag: (error as { readonly _tag: string })._tag,
            message: (error as { readonly message: string }).message,
          },
        }),
        onNone: (): Reply<A> => ({ kind: "defect", message: String(Cause.squash(cause)) }),
      }),
  })

export type OpenError = StorageFailed | WalCorrupt | DirectoryLocked | InvalidInput

const revive = (encoded: EncodedError): OpenError => {
  const { _tag, ...fields } = encoded
  switch (_tag) {
    case "StorageFailed":
      return new StorageFailed(fields as ConstructorParameters<typeof StorageFailed>[0])
    case "WalCorrupt":
      return new WalCorrupt(fields as ConstructorParameters<typeof WalCorrupt>[0])
    case "DirectoryLocked":
      return new DirectoryLocked(fields as ConstructorParameters<typeof DirectoryLocked>[0])
    case "InvalidInput":
      return new InvalidInput(fields as ConstructorParameters<typeof InvalidInput>[0])
    default:
      throw new Error(`the worker failed with an error this suite does not know: ${JSON.stringify(encoded)}`)
  }
}

export const decodeReply = <A>(reply: Reply<A>): Effect.Effect<A, OpenError> =>
  reply.kind === "ok"
    ? Effect.succeed(reply.value)
    : reply.kind === "failure"
      ? Effect.fail(revive(reply.error))
      : Effect.die(new Error(reply.message))

export interface EncodedRecovery extends Omit<RecoveryReport, "tornTail"> {
  readonly tornTail: TornTail | null
}

export const encodeRecovery = (report: RecoveryReport): EncodedRecovery => ({
  ...report,
  tornTail: Option.getOrNull(report.tornTail),
})

export const decodeRecovery = (encoded: EncodedRecovery): RecoveryReport => ({
  ...encoded,
  tornTail: Option.fromNullable(encoded.tornTail),
})

export interface Opened {
  readonly handle: number
  readonly recovery: EncodedRecovery
}

/** A snapshot as it crosses (`Option` as `null`). */
export type EncodedSnapshot = Snapshot | null

/** Bytes as plain `Uint8Array`s, whatever view the transport made of them. */
export const bytes = (view: Uint8Array): Uint8Array => new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
