/**
 * Which lifecycle a data directory runs under. The log records it (the default lifecycle until a `LifecycleChanged`
 * event), and opening with another one is refused unless the log holds no event yet, or the caller gives a mapping
 * of every state the directory's versions are in to a state of the new lifecycle (an empty one when it holds no
 * version). The move is then one event, written before any command, naming every version it moves and every alias
 * it drops. A directory that recorded its lifecycle and holds no version yet is not "empty": a later command opened
 * without the lifecycle (a `list` under the default, say) must not silently move it back.
 */
import { Either } from "effect"
import { LifecycleMismatch } from "../domain/errors.ts"
import type { AliasName, LifecycleState } from "../domain/Lifecycle.ts"
import type { ModelName } from "../domain/ModelName.ts"
import type { LifecycleChanged } from "../domain/RegistryEvent.ts"
import type { CompiledLifecycle } from "./lifecycleDefinition.ts"
import type { RegistryIndex } from "./RegistryIndex.ts"

/** Old state → new state, for every state the directory's versions are in that the new lifecycle lacks or renames. */
export type LifecycleMapping = Readonly<Record<string, string>>

export type LifecycleChange = Omit<LifecycleChanged, "seq" | "at" | "actor">

/**
 * The event that moves `index` to `lifecycle`, `undefined` when it already runs under it, or why it cannot move.
 * A state the mapping does not name keeps its name, and must then be a state of the new lifecycle.
 */
export const lifecycleChange = (
  index: RegistryIndex,
  lifecycle: CompiledLifecycle,
  mapping: LifecycleMapping | undefined,
): Either.Either<LifecycleChange | undefined, LifecycleMismatch> => {
  const recorded = index.binding
  const mismatch = (reason: string) =>
    Either.left(
      new LifecycleMismatch({
        recorded: recorded.name,
        recordedFingerprint: recorded.fingerprint,
        given: lifecycle.name,
        givenFingerprint: lifecycle.fingerprint,
        reason,
      }),
    )
  const states = new Set(lifecycle.states)
  if (recorded.fingerprint === lifecycle.fingerprint && recorded.name === lifecycle.name) return Either.right(undefined)
  if (mapping !== undefined)
    for (const [from, to] of Object.entries(mapping))
      if (!states.has(to))
        return mismatch(`the mapping sends "${from}" to "${to}", which is not a state of "${lifecycle.name}"`)

  const changes: Array<LifecycleChange["changes"][number]> = []
  const aliasesCleared: Array<LifecycleChange["aliasesCleared"][number]> = []
  let versions = 0
  const holders = new Map<string, string>()
  for (const record of index.allVersions()) {
    versions++
    const to: LifecycleState = mapping?.[record.state] ?? record.state
    if (!states.has(to))
      return mismatch(
        mapping === undefined
          ? "give a state mapping to move the directory's versions to it"
          : `version ${record.version} of ${record.name} is "${record.state}", which the mapping does not send to a state of "${lifecycle.name}"`,
      )
    if (to !== record.state) changes.push({ name: record.name, version: record.version, from: record.state, to })
    if (lifecycle.exclusive.has(to)) {
      const key = `${record.name}\u0000${to}`
      const holder = holders.get(key)
      if (holder !== undefined)
        return mismatch(
          `the mapping puts ${holder} and ${record.version} of ${record.name} both in exclusive state "${to}"`,
        )
      holders.set(key, record.version)
    }
    for (const alias of record.aliases) {
      const allowed = lifecycle.aliases.get(alias)
      if (allowed !== undefined && !allowed.has(to))
        aliasesCleared.push({ name: record.name as ModelName, alias: alias as AliasName, version: record.version })
    }
  }
  if (index.lastSeq > 0 && mapping === undefined)
    return mismatch(
      versions > 0
        ? "give a state mapping to move the directory's versions to it"
        : "the directory recorded its lifecycle; give a state mapping (empty: it holds no version) to move it",
    )
  return Either.right({
    _tag: "LifecycleChanged",
    from: recorded,
    to: lifecycle.binding,
    mapping: mapping ?? {},
    changes,
    aliasesCleared,
  })
}
