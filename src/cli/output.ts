/** Human and machine (`--json`) renderings of command results. Humans get aligned text; machines NDJSON. */
import { Console, Data, Effect } from "effect"
import type { ErrorDetail } from "../effects/errorStatus.ts"
import type { AliasOutcome, Event, History, ModelOutcome, Outcome, Summary, Version } from "./client.ts"

export const json = (value: unknown) => Console.log(JSON.stringify(value))

/** stdout was closed under the command: its reader went away (`| head`), so there is no one left to write for. */
export class StdoutClosed extends Data.TaggedError("StdoutClosed") {}

/**
 * Writes text to stdout at the pace its reader takes it: a write that fills the stream's buffer waits for it to
 * drain, so a slow pipe holds the producer back instead of growing memory (`console.log` queues without bound
 * when a pipe is full, and a long `wal dump | …` ran out of heap). Fails with `StdoutClosed` once stdout is closed,
 * so the producer stops rather than crash on the broken pipe.
 */
export const stdoutWriter = (): ((text: string) => Effect.Effect<void, StdoutClosed>) => {
  const out = process.stdout
  let open = true
  out.on("error", () => {
    open = false
  })
  const closed = Effect.suspend(() => (open ? Effect.void : Effect.fail(new StdoutClosed())))
  return (text) =>
    Effect.async<void, StdoutClosed>((resume) => {
      if (!open || out.write(text)) return resume(closed)
      const settle = () => {
        out.off("drain", settle)
        out.off("close", settle)
        resume(closed)
      }
      out.on("drain", settle)
      out.on("close", settle)
    })
}

const table = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0))) ?? []
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
}

export const versionText = (v: Version): string => {
  const lines = [
    `${v.name} ${v.version}  [${v.state}]${v.aliases.length === 0 ? "" : `  aliases: ${v.aliases.join(", ")}`}`,
    `  id         ${v.id}`,
    `  created    ${v.createdAt}`,
    `  metrics    ${JSON.stringify(v.metrics)}`,
    `  tags       ${Object.entries(v.tags)
      .map(([k, value]) => `${k}=${value}`)
      .join(" ")}`,
    ...(v.source === undefined ? [] : [`  source     ${v.source}`]),
    ...(v.runId === undefined ? [] : [`  run        ${v.runId}`]),
    ...(v.description === undefined ? [] : [`  description ${v.description}`]),
  ]
  return lines.join("\n")
}

export const versionsText = (versions: ReadonlyArray<Version>): string =>
  versions.length === 0
    ? "(no versions)"
    : table([
        ["VERSION", "STATE", "ALIASES", "CREATED", "ID"],
        ...versions.map((v) => [v.version, v.state, v.aliases.join(",") || "-", v.createdAt, v.id]),
      ])

/** Versions of several models, as a search finds them. */
export const foundText = (versions: ReadonlyArray<Version>): string =>
  versions.length === 0
    ? "(no versions match)"
    : table([
        ["MODEL", "VERSION", "STATE", "ALIASES", "CREATED"],
        ...versions.map((v) => [v.name, v.version, v.state, v.aliases.join(",") || "-", v.createdAt]),
      ])

export const modelsText = (models: ReadonlyArray<Summary>): string =>
  models.length === 0
    ? "(no models)"
    : table([
        ["MODEL", "PRODUCTION", "LATEST", "VERSIONS", "ALIASES"],
        ...models.map((m) => [
          m.archived ? `${m.name} (archived)` : m.name,
          m.production ?? "-",
          m.latest,
          String(m.versionCount),
          Object.entries(m.aliases)
            .map(([alias, version]) => `${alias}=${version}`)
            .join(",") || "-",
        ]),
      ])

export const eventText = (e: Event): string => {
  switch (e._tag) {
    case "Registered":
      return `#${e.seq} ${e.at} Registered ${e.metadata.name} ${e.metadata.version}`
    case "Promoted":
      return `#${e.seq} ${e.at} Promoted ${e.name} ${e.version}${e.supersedes ? ` (supersedes ${e.supersedes})` : ""}`
    case "Deprecated":
      return `#${e.seq} ${e.at} Deprecated ${e.name} ${e.version}`
    case "Transitioned": {
      const displaced = e.displaced.map((d) => ` (${d.version}: ${d.from} → ${d.to})`).join("")
      return `#${e.seq} ${e.at} ${e.event} ${e.name} ${e.version}: ${e.from} → ${e.to}${displaced}`
    }
    case "AliasSet":
      return `#${e.seq} ${e.at} AliasSet ${e.name} ${e.alias} → ${e.version}${e.previous ? ` (was ${e.previous})` : ""}`
    case "AliasRemoved":
      return `#${e.seq} ${e.at} AliasRemoved ${e.name} ${e.alias} (was ${e.version})`
    case "LifecycleChanged":
      return `#${e.seq} ${e.at} LifecycleChanged ${e.from.name} → ${e.to.name} (${e.changes.length} versions moved)`
    case "VersionAnnotated":
      return `#${e.seq} ${e.at} VersionAnnotated ${e.name} ${e.version}${changesText(e)}`
    case "ModelAnnotated":
      return `#${e.seq} ${e.at} ModelAnnotated ${e.name}${changesText(e)}`
    case "ModelArchived":
    case "ModelRestored":
      return `#${e.seq} ${e.at} ${e._tag} ${e.name}`
  }
}

type FieldChange = { readonly from: string | null; readonly to: string | null }

/** An annotation's changes: `key=value` set, `-key` removed, and the description's change. */
const changesText = (e: {
  readonly tags: { readonly [key: string]: FieldChange }
  readonly description?: FieldChange
}): string => {
  const parts = Object.entries(e.tags).map(([key, change]) => (change.to === null ? `-${key}` : `${key}=${change.to}`))
  if (e.description !== undefined) parts.push(e.description.to === null ? "-description" : "description set")
  return parts.length === 0 ? "" : `: ${parts.join(" ")}`
}

/** A history: who changed what, one event a line, oldest first. */
export const historyText = (history: History): string =>
  [
    ...(history.since === 0 ? [] : [`(changes before seq ${history.since} were not kept)`]),
    ...history.events.map((e) => `${eventText(e)}  by ${e.actor}`),
  ].join("\n") || "(no changes)"

/** An annotation's answer. */
export const annotatedText = (outcome: Outcome): string =>
  outcome.event === null
    ? `${outcome.version.name} ${outcome.version.version} already has these tags and description; nothing written`
    : `annotated ${outcome.version.name} ${outcome.version.version} at seq ${outcome.event.seq}`

/** A model command's answer: `past` is what it did (annotated, archived, restored). */
export const modelOutcomeText = (past: string, outcome: ModelOutcome): string =>
  outcome.event === null
    ? `${outcome.model.name}: nothing to change (${outcome.model.archived ? "archived" : "not archived"}); nothing written`
    : `${past} ${outcome.model.name} at seq ${outcome.event.seq}`

export const outcomeText = (verb: string, outcome: Outcome): string =>
  outcome.event === null
    ? `${outcome.version.name} ${outcome.version.version} is already ${outcome.version.state}; nothing written`
    : `${verb} ${outcome.version.name} ${outcome.version.version}${
        outcome.event._tag === "Promoted" && outcome.event.supersedes ? ` (supersedes ${outcome.event.supersedes})` : ""
      } at seq ${outcome.event.seq}`

/** A transition's answer: where the version went, and what its event displaced or cleared on the way. */
export const transitionText = (outcome: Outcome): string => {
  const { name, version, state } = outcome.version
  const event = outcome.event
  if (event === null) return `${name} ${version} is already ${state}; nothing written`
  const details =
    event._tag === "Transitioned"
      ? [
          ...event.displaced.map((d) => `${d.version}: ${d.from} → ${d.to}`),
          ...event.aliasesCleared.map((a) => `alias ${a.alias} cleared from ${a.version}`),
        ]
      : event._tag === "Promoted" && event.supersedes !== null
        ? [`${event.supersedes}: production → registered`]
        : []
  const from = event._tag === "Transitioned" ? `${event.from} → ` : ""
  return `${name} ${version}: ${from}${state}${details.length === 0 ? "" : ` (${details.join("; ")})`} at seq ${event.seq}`
}

export const aliasText = (name: string, outcome: AliasOutcome): string => {
  const event = outcome.event
  if (event?._tag === "AliasSet")
    return `${name} ${outcome.alias} → ${event.version}${event.previous === null ? "" : ` (was ${event.previous})`} at seq ${event.seq}`
  if (event?._tag === "AliasRemoved")
    return `${name} ${outcome.alias} removed (was ${event.version}) at seq ${event.seq}`
  return outcome.version === null
    ? `${name} has no alias ${outcome.alias}; nothing written`
    : `${name} ${outcome.alias} already names ${outcome.version.version}; nothing written`
}

export const errorOutput = (detail: ErrorDetail, asJson: boolean) =>
  asJson ? Console.error(JSON.stringify({ error: detail })) : Console.error(`error: ${detail.tag}: ${detail.message}`)

export const print = (asJson: boolean, value: unknown, text: () => string): Effect.Effect<void> =>
  asJson ? json(value) : Console.log(text())
