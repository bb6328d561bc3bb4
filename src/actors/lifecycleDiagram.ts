/**
 * A lifecycle as a Mermaid `stateDiagram-v2`, drawn from its description: what `GET /lifecycle?format=mermaid` answers
 * and `lifecycle show` prints, so that a team reviews the statechart it is about to run as a picture. Pure text, so
 * the server and the CLI share it whatever runtime they are on.
 */
import type { LifecycleDescription } from "./lifecycleDefinition.ts"

/** Words Mermaid's state diagram grammar reads as its own, so a state of that name needs an alias. */
const mermaidKeywords = new Set(["state", "note", "end", "direction", "class", "classDef", "as", "left", "right", "of"])

/**
 * A Mermaid id for each state: the state's own name where Mermaid takes it as an id (names may hold `-`, which
 * Mermaid does not), else `s<index>`, declared with the name as its label.
 */
const idsOf = (states: ReadonlyArray<string>): ReadonlyMap<string, string> =>
  new Map(
    states.map((state, index) => [
      state,
      /^[A-Za-z][A-Za-z0-9_]*$/.test(state) && !mermaidKeywords.has(state) ? state : `s${index}`,
    ]),
  )

/**
 * The diagram: `[*] -->` the initial state, one arrow per transition labelled with its event (`[guarded]` when a
 * guard decides it), terminal states `--> [*]`, and a note on each state that is exclusive (with the event that
 * displaces its holder) or that an alias may point at.
 */
export const lifecycleMermaid = (lifecycle: LifecycleDescription): string => {
  const ids = idsOf(lifecycle.states)
  const id = (state: string) => ids.get(state) ?? state
  const lines = ["stateDiagram-v2", `  %% lifecycle ${lifecycle.name} (${lifecycle.fingerprint})`]
  for (const state of lifecycle.states) if (id(state) !== state) lines.push(`  state "${state}" as ${id(state)}`)
  lines.push(`  [*] --> ${id(lifecycle.initial)}`)
  for (const { from, event, to, guarded } of lifecycle.transitions)
    lines.push(`  ${id(from)} --> ${id(to)}: ${event}${guarded ? " [guarded]" : ""}`)
  for (const state of lifecycle.terminal) lines.push(`  ${id(state)} --> [*]`)
  for (const state of lifecycle.states) {
    const displacement = lifecycle.exclusive[state]
    const aliases = Object.entries(lifecycle.aliases)
      .filter(([, allowed]) => allowed.includes(state))
      .map(([alias]) => alias)
    const note = [
      ...(displacement === undefined ? [] : [`exclusive: entering displaces the holder with ${displacement}`]),
      ...(aliases.length === 0 ? [] : [`aliases: ${aliases.join(", ")}`]),
    ]
    if (note.length > 0) lines.push(`  note right of ${id(state)}`, ...note.map((line) => `    ${line}`), "  end note")
  }
  return `${lines.join("\n")}\n`
}
