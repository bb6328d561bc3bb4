/**
 * The commands that record something about a version or a model besides its lifecycle: annotations, archiving and
 * restoring; `decide` for each, over the batch's view of the model. Like the lifecycle's commands, one that asks
 * for what is already true is `Unchanged`: it succeeds and writes nothing, so retries are safe.
 */
import type { Annotation, FieldChange, TagsChanged } from "../domain/Annotation.ts"
import { InvalidInput, ModelNotFound, VersionNotFound } from "../domain/errors.ts"
import { type Tags, tagsCountMax } from "../domain/ModelMetadata.ts"
import type { ModelName } from "../domain/ModelName.ts"
import type { ModelVersion } from "../domain/ModelVersion.ts"
import type { RecordEventBody } from "../domain/RegistryEvent.ts"
import type { SemVer } from "../domain/SemVer.ts"
import type { ModelMeta } from "./RegistryIndex.ts"

export interface AnnotateVersionCommand extends Annotation {
  readonly _tag: "AnnotateVersion"
  readonly name: ModelName
  readonly version: SemVer
}
export interface AnnotateModelCommand extends Annotation {
  readonly _tag: "AnnotateModel"
  readonly name: ModelName
}
export interface ArchiveModelCommand {
  readonly _tag: "ArchiveModel" | "RestoreModel"
  readonly name: ModelName
}
export type ModelCommand = AnnotateModelCommand | ArchiveModelCommand

export type AnnotateDecideError = InvalidInput | ModelNotFound | VersionNotFound
export type ModelDecideError = InvalidInput | ModelNotFound

export type RecordDecision<E> =
  | { readonly _tag: "Accept"; readonly event: RecordEventBody }
  | { readonly _tag: "Unchanged" }
  | { readonly _tag: "Reject"; readonly error: E }

const unchanged = { _tag: "Unchanged" } as const

/**
 * What the annotation changes of `tags` and `description`: only the fields whose value it changes, each with what it
 * held before. `undefined` when the tags it would leave are more than a version may hold.
 */
const changesOf = (
  annotation: Annotation,
  tags: Tags,
  description: string | undefined,
): { readonly tags: TagsChanged; readonly description: FieldChange | undefined } | InvalidInput => {
  const changed: Record<string, FieldChange> = {}
  let count = Object.keys(tags).length
  for (const [key, to] of Object.entries(annotation.tags ?? {})) {
    const from = Object.hasOwn(tags, key) ? tags[key]! : null
    if (from === to) continue
    changed[key] = { from, to }
    count += from === null ? 1 : to === null ? -1 : 0
  }
  if (count > tagsCountMax)
    return new InvalidInput({
      field: "tags",
      message: `tags: would leave ${count} tags; at most ${tagsCountMax} are allowed`,
    })
  const from = description ?? null
  const to = annotation.description
  return { tags: changed, description: to === undefined || to === from ? undefined : { from, to } }
}

export const decideAnnotateVersion = (
  current: ModelVersion | undefined,
  modelExists: boolean,
  command: AnnotateVersionCommand,
): RecordDecision<AnnotateDecideError> => {
  if (current === undefined)
    return {
      _tag: "Reject",
      error: modelExists
        ? new VersionNotFound({ name: command.name, version: command.version })
        : new ModelNotFound({ name: command.name }),
    }
  const changes = changesOf(command, current.tags, current.description)
  if (changes instanceof InvalidInput) return { _tag: "Reject", error: changes }
  if (Object.keys(changes.tags).length === 0 && changes.description === undefined) return unchanged
  const { name, version } = command
  return {
    _tag: "Accept",
    event:
      changes.description === undefined
        ? { _tag: "VersionAnnotated", name, version, tags: changes.tags }
        : { _tag: "VersionAnnotated", name, version, tags: changes.tags, description: changes.description },
  }
}

export const decideModelCommand = (
  meta: ModelMeta | undefined,
  command: ModelCommand,
): RecordDecision<ModelDecideError> => {
  if (meta === undefined) return { _tag: "Reject", error: new ModelNotFound({ name: command.name }) }
  const { name } = command
  switch (command._tag) {
    case "ArchiveModel":
      return meta.archived ? unchanged : { _tag: "Accept", event: { _tag: "ModelArchived", name } }
    case "RestoreModel":
      return meta.archived ? { _tag: "Accept", event: { _tag: "ModelRestored", name } } : unchanged
    case "AnnotateModel": {
      const changes = changesOf(command, meta.tags, meta.description)
      if (changes instanceof InvalidInput) return { _tag: "Reject", error: changes }
      if (Object.keys(changes.tags).length === 0 && changes.description === undefined) return unchanged
      return {
        _tag: "Accept",
        event:
          changes.description === undefined
            ? { _tag: "ModelAnnotated", name, tags: changes.tags }
            : { _tag: "ModelAnnotated", name, tags: changes.tags, description: changes.description },
      }
    }
  }
}
