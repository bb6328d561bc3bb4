import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { setup } from "xstate"
import { approval, mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import { compileLifecycle, defineLifecycle, describeLifecycle } from "../../src/actors/lifecycleDefinition.ts"
import { lifecycleMermaid } from "../../src/actors/lifecycleDiagram.ts"

const described = (definition: Parameters<typeof compileLifecycle>[0]) =>
  describeLifecycle(Either.getOrThrow(compileLifecycle(definition)))

describe("lifecycleMermaid", () => {
  it("draws the initial state, every transition, the terminal states and the declarations as notes", () => {
    const description = described(mlflowStages)
    expect(lifecycleMermaid(description)).toBe(
      [
        "stateDiagram-v2",
        `  %% lifecycle mlflow-stages (${description.fingerprint})`,
        "  [*] --> none",
        "  none --> staging: stage",
        "  none --> production: promote",
        "  none --> archived: archive",
        "  staging --> production: promote",
        "  staging --> archived: archive",
        "  production --> archived: archive",
        "  archived --> [*]",
        "  note right of staging",
        "    aliases: champion",
        "  end note",
        "  note right of production",
        "    exclusive: entering displaces the holder with archive",
        "    aliases: champion",
        "  end note",
        "",
      ].join("\n"),
    )
  })

  it("marks every terminal state and lists each alias on each state it may name", () => {
    const text = lifecycleMermaid(described(approval))
    expect(text).toContain("  rejected --> [*]\n  retired --> [*]\n")
    expect(text).toContain("note right of approved\n    aliases: candidate\n  end note")
    expect(text).toContain(
      "note right of deployed\n    exclusive: entering displaces the holder with retire\n    aliases: live, candidate\n  end note",
    )
  })

  it("marks guarded transitions, and gives a state Mermaid cannot take as an id a label instead", () => {
    const guarded = defineLifecycle({
      name: "gated",
      machine: setup({
        types: { events: {} as { type: "ship" | "retire" }, context: {} as { metrics: Record<string, unknown> } },
      }).createMachine({
        id: "gated",
        initial: "in-review",
        context: { metrics: {} },
        states: {
          "in-review": {
            on: { ship: { target: "end", guard: ({ context }) => Number(context.metrics.accuracy) >= 0.9 } },
          },
          end: { on: { retire: "in-review" } },
        },
      }),
    })
    const text = lifecycleMermaid(described(guarded))
    expect(text).toContain('  state "in-review" as s0\n  state "end" as s1\n  [*] --> s0\n')
    expect(text).toContain("  s0 --> s1: ship [guarded]\n  s1 --> s0: retire\n")
    // Neither state is terminal: only the initial arrow touches [*].
    expect(text.match(/\[\*\]/g)).toEqual(["[*]"])
  })
})
