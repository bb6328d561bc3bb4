/**
 * A lifecycle definition compiles only if the registry can replay it as facts: flat states, event-named transitions
 * with one target each, no actions, timers or invoked actors, and declarations that name its own states and events.
 * Its fingerprint tells definitions apart by exactly what the log binds to; `evaluate` runs its guards.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import { type AnyStateMachine, createMachine, fromPromise, setup } from "xstate"
import { mlflowStages } from "../../src/actors/builtinLifecycles.ts"
import {
  type CompiledLifecycle,
  compileLifecycle,
  defineLifecycle,
  type LifecycleContext,
  type LifecycleDefinition,
} from "../../src/actors/lifecycleDefinition.ts"

const reasonOf = (definition: LifecycleDefinition): string => {
  const compiled = compileLifecycle(definition)
  if (Either.isRight(compiled)) throw new Error(`${definition.name} compiled`)
  expect(compiled.left).toMatchObject({ _tag: "InvalidLifecycle", lifecycle: definition.name, counterexample: [] })
  return compiled.left.reason
}
const compiled = (definition: LifecycleDefinition): CompiledLifecycle =>
  Either.getOrThrowWith(compileLifecycle(definition), (error) => new Error(error.message))

/** A lifecycle over `states` (any machine config), named after the case. */
const withStates = (name: string, states: object, extra: Partial<LifecycleDefinition> = {}): LifecycleDefinition =>
  defineLifecycle({
    name,
    machine: createMachine({ id: name, initial: Object.keys(states)[0]!, states } as never) as AnyStateMachine,
    ...extra,
  })
const twoStates = { a: { on: { go: "b" } }, b: {} }

describe("compileLifecycle refuses what replay could not reproduce", () => {
  it.each([
    ["nested", { a: { initial: "x", states: { x: {} }, on: { go: "b" } }, b: {} }, /"a" is compound: .* flat/],
    ["parallel", { a: { type: "parallel", states: { x: {}, y: {} } }, b: {} }, /"a" is parallel/],
    ["entry", { a: { entry: () => undefined, on: { go: "b" } }, b: {} }, /"a" has entry\/exit actions/],
    ["exit", { a: { exit: () => undefined, on: { go: "b" } }, b: {} }, /"a" has entry\/exit actions/],
    [
      "invoke",
      { a: { invoke: { src: fromPromise(async () => 1) }, on: { go: "b" } }, b: {} },
      /"a" has .*invoked actors/,
    ],
    // XState implements `after` with entry and exit actions: the reason must still name the delay.
    ["after", { a: { after: { 1000: "b" } }, b: {} }, /"a" has eventless or delayed transitions/],
    ["always", { a: { always: "b" }, b: {} }, /"a" has eventless or delayed transitions/],
    ["actions", { a: { on: { go: { target: "b", actions: () => undefined } } }, b: {} }, /"go" from "a" has actions/],
    ["targetless", { a: { on: { go: { guard: () => true } } }, b: {} }, /"go" from "a" must target exactly one state/],
    ["bad-state", { a: { on: { go: "b c" } }, "b c": {} }, /state "b c" must start with a letter/],
    ["digit-state", { a: { on: { go: "9b" } }, "9b": {} }, /state "9b" must start with a letter/],
    ["bad-event", { a: { on: { "go now": "b" } }, b: {} }, /event "go now" \(from "a"\)/],
    ["wildcard", { a: { on: { "*": "b" } }, b: {} }, /event "\*" \(from "a"\)/],
  ])("a machine with %s", (name, states, reason) => {
    expect(reasonOf(withStates(name, states))).toMatch(reason)
  })

  it("a machine with transitions, actions or invoked actors on its root", () => {
    const root = (name: string, config: object) =>
      defineLifecycle({
        name,
        machine: createMachine({ id: name, initial: "a", states: twoStates, ...config } as never) as AnyStateMachine,
      })
    expect(reasonOf(root("rooted", { on: { go: ".b" } }))).toMatch(/root has transitions/)
    expect(reasonOf(root("rooted-after", { after: { 10: ".b" } }))).toMatch(/root has transitions/)
    expect(reasonOf(root("rooted-entry", { entry: () => undefined }))).toMatch(/root has actions/)
  })

  it("a machine without states, or no machine at all", () => {
    expect(
      reasonOf(defineLifecycle({ name: "flat", machine: createMachine({ id: "flat" }) as AnyStateMachine })),
    ).toMatch(/must have states/)
    expect(reasonOf({ name: "none", machine: {} as AnyStateMachine })).toMatch(/not an XState machine/)
  })

  it("a bad lifecycle or alias name", () => {
    expect(reasonOf(withStates("", twoStates))).toMatch(/its name must not be empty/)
    expect(reasonOf(withStates("my lifecycle", twoStates))).toMatch(/its name must start with a letter/)
    expect(reasonOf(withStates("long", twoStates, { name: "x".repeat(65) }))).toMatch(/at most 64/)
    expect(reasonOf(withStates("aliased", twoStates, { aliases: { "1st": ["a"] } }))).toMatch(/alias "1st"/)
  })

  it("declarations naming unknown states or events", () => {
    expect(reasonOf(withStates("ex-state", twoStates, { exclusive: { c: "go" } }))).toMatch(
      /exclusive state "c" is not a state/,
    )
    expect(reasonOf(withStates("ex-event", twoStates, { exclusive: { b: "leave" } }))).toMatch(
      /displaces with "leave", which is no event/,
    )
    expect(reasonOf(withStates("alias-state", twoStates, { aliases: { live: ["b", "c"] } }))).toMatch(
      /alias "live" allows "c", which is not a state/,
    )
    expect(reasonOf(withStates("alias-empty", twoStates, { aliases: { live: [] } }))).toMatch(
      /alias "live" must list the states/,
    )
  })

  it("accepts the same machine without what it refused", () => {
    const lifecycle = compiled(withStates("plain", twoStates, { exclusive: { b: "go" }, aliases: { live: ["b"] } }))
    expect(lifecycle).toMatchObject({ name: "plain", initial: "a", states: ["a", "b"], events: ["go"] })
    expect([...lifecycle.terminal]).toEqual(["b"])
  })
})

/** A lifecycle as plain data, to generate, change and build into a machine. */
interface Spec {
  readonly states: ReadonlyArray<string>
  /** state → event → candidates (target, guarded), in order. */
  readonly on: ReadonlyArray<ReadonlyArray<readonly [string, ReadonlyArray<readonly [number, boolean]>]>>
  readonly exclusive: ReadonlyArray<readonly [number, string]>
  readonly aliases: ReadonlyArray<readonly [string, ReadonlyArray<number>]>
}

const build = (spec: Spec): LifecycleDefinition => {
  const states = Object.fromEntries(
    spec.states.map((state, i) => [
      state,
      {
        on: Object.fromEntries(
          spec.on[i]!.map(([event, candidates]) => [
            event,
            candidates.map(([target, guarded]) =>
              guarded ? { target: spec.states[target]!, guard: () => true } : { target: spec.states[target]! },
            ),
          ]),
        ),
      },
    ]),
  )
  return defineLifecycle({
    name: "generated",
    machine: createMachine({ id: "generated", initial: spec.states[0]!, states } as never) as AnyStateMachine,
    exclusive: Object.fromEntries(spec.exclusive.map(([state, event]) => [spec.states[state]!, event])),
    aliases: Object.fromEntries(spec.aliases.map(([alias, allowed]) => [alias, allowed.map((i) => spec.states[i]!)])),
  })
}

/** What the fingerprint must distinguish: the spec with its unordered declarations in a canonical order. */
const canonical = (spec: Spec): string => {
  const events = new Set(spec.on.flatMap((byEvent) => byEvent.map(([event]) => event)))
  return JSON.stringify({
    states: spec.states,
    on: spec.on,
    exclusive: spec.exclusive.filter(([, event]) => events.has(event)).sort(),
    aliases: spec.aliases.map(([alias, allowed]) => [alias, [...new Set(allowed)].sort()]).sort(),
  })
}

const eventNames = ["go", "stop", "retry"]
const spec: fc.Arbitrary<Spec> = fc.integer({ min: 2, max: 5 }).chain((count) => {
  const state = fc.nat({ max: count - 1 })
  const candidates = fc.array(fc.tuple(state, fc.boolean()), { minLength: 1, maxLength: 2 })
  return fc.record({
    states: fc.constant(Array.from({ length: count }, (_, i) => `s${i}`)),
    on: fc.array(fc.uniqueArray(fc.tuple(fc.constantFrom(...eventNames), candidates), { selector: ([e]) => e }), {
      minLength: count,
      maxLength: count,
    }),
    exclusive: fc.uniqueArray(fc.tuple(state, fc.constantFrom(...eventNames)), { selector: ([s]) => s, maxLength: 2 }),
    aliases: fc.uniqueArray(
      fc.tuple(fc.constantFrom("live", "champion"), fc.uniqueArray(state, { minLength: 1, maxLength: count })),
      { selector: ([a]) => a },
    ),
  })
})
const valid = (s: Spec): boolean => {
  const events = new Set(s.on.flatMap((byEvent) => byEvent.map(([event]) => event)))
  return s.exclusive.every(([, event]) => events.has(event))
}

/** `array` with item `index` replaced (`Array.prototype.with`, which the project's TypeScript lib predates). */
const replaced = <T>(array: ReadonlyArray<T>, index: number, item: T): ReadonlyArray<T> =>
  array.map((existing, i) => (i === index ? item : existing))

/** One change to a spec; `canonical` decides whether it changed what the fingerprint covers. */
const mutation = fc.oneof(
  fc.constant((s: Spec): Spec => ({ ...s, states: [...s.states, "extra"], on: [...s.on, []] })),
  fc.nat().map((n) => (s: Spec): Spec => {
    const i = n % s.states.length
    const byEvent = s.on[i]!
    if (byEvent.length === 0) return { ...s, on: replaced(s.on, i, [["go", [[0, false]]]]) }
    const [event, candidates] = byEvent[0]!
    const [target, guarded] = candidates[0]!
    return { ...s, on: replaced(s.on, i, replaced(byEvent, 0, [event, replaced(candidates, 0, [target, !guarded])])) }
  }),
  fc.nat().map((n) => (s: Spec): Spec => {
    const i = n % s.states.length
    const byEvent = s.on[i]!
    if (byEvent.length === 0) return s
    const [event, candidates] = byEvent[0]!
    const [target, guarded] = candidates[0]!
    const retargeted = replaced(candidates, 0, [(target + 1) % s.states.length, guarded] as const)
    return { ...s, on: replaced(s.on, i, replaced(byEvent, 0, [event, retargeted])) }
  }),
  fc.nat().map(
    (n) =>
      (s: Spec): Spec => ({ ...s, on: replaced(s.on, n % s.states.length, []) }),
  ),
  fc.nat().map((n) => (s: Spec): Spec => {
    const events = s.on.flatMap((byEvent) => byEvent.map(([event]) => event))
    const state = n % s.states.length
    if (s.exclusive.some(([held]) => held === state))
      return { ...s, exclusive: s.exclusive.filter(([x]) => x !== state) }
    return events.length === 0 ? s : { ...s, exclusive: [...s.exclusive, [state, events[0]!]] }
  }),
  fc.nat().map((n) => (s: Spec): Spec => {
    const [first, ...rest] = s.aliases
    if (first === undefined) return { ...s, aliases: [["live", [n % s.states.length]]] }
    const [alias, allowed] = first
    const state = n % s.states.length
    const changed = allowed.includes(state) ? allowed.filter((x) => x !== state) : [...allowed, state]
    return { ...s, aliases: changed.length === 0 ? rest : [[alias, changed], ...rest] }
  }),
)

describe("fingerprint", () => {
  it("is the same for equal definitions, whatever the order of their declarations, and stable across builds", () => {
    fc.assert(
      fc.property(spec, (s) => {
        fc.pre(valid(s))
        const shuffled: Spec = {
          ...s,
          exclusive: [...s.exclusive].reverse(),
          aliases: [...s.aliases].reverse().map(([alias, allowed]) => [alias, [...allowed].reverse()] as const),
        }
        expect(compiled(build(shuffled)).fingerprint).toBe(compiled(build(s)).fingerprint)
      }),
      { numRuns: 200 },
    )
  })

  it("differs after any change of states, transitions, guard presence, exclusive states or aliases", () => {
    fc.assert(
      fc.property(spec, mutation, (s, mutate) => {
        const changed = mutate(s)
        fc.pre(valid(s) && valid(changed) && canonical(changed) !== canonical(s))
        expect(compiled(build(changed)).fingerprint).not.toBe(compiled(build(s)).fingerprint)
      }),
      { numRuns: 400 },
    )
  })

  it("does not depend on the lifecycle's name, which the binding records beside it", () => {
    const renamed = compiled({ ...mlflowStages, name: "renamed" })
    expect(renamed.fingerprint).toBe(compiled(mlflowStages).fingerprint)
    expect(renamed.binding).toEqual({ name: "renamed", fingerprint: renamed.fingerprint, exclusive: ["production"] })
  })
})

describe("evaluate", () => {
  const context = (metrics: LifecycleContext["metrics"], tags: LifecycleContext["tags"] = {}): LifecycleContext => ({
    name: "resnet",
    version: "1.0.0",
    metrics,
    tags,
  })
  const gated = compiled(
    defineLifecycle({
      name: "gated",
      machine: setup({
        types: { context: {} as LifecycleContext, events: {} as { type: "promote" | "review" | "check" } },
        guards: {
          accurate: ({ context }) => Number(context.metrics.accuracy) >= 0.9,
          signedOff: ({ context }) => context.tags.signoff === "yes",
        },
      }).createMachine({
        id: "gated",
        initial: "candidate",
        context: { name: "", version: "", metrics: {}, tags: {} },
        states: {
          candidate: {
            on: {
              promote: { target: "production", guard: "accurate" },
              review: [{ target: "production", guard: "signedOff" }, { target: "rejected" }],
              check: {
                target: "production",
                guard: () => {
                  throw new Error("the guard cannot decide")
                },
              },
            },
          },
          production: {},
          rejected: {},
        },
      }) as AnyStateMachine,
    }),
  )

  it("runs a guard over the version's metrics", () => {
    expect(gated.evaluate("candidate", "promote", context({ accuracy: 0.95 }))).toBe("production")
    expect(gated.evaluate("candidate", "promote", context({ accuracy: 0.9 }))).toBe("production")
    expect(gated.evaluate("candidate", "promote", context({ accuracy: 0.89 }))).toBeUndefined()
    expect(gated.evaluate("candidate", "promote", context({}))).toBeUndefined()
  })

  it("takes the first candidate whose guard passes, reading tags", () => {
    expect(gated.evaluate("candidate", "review", context({}, { signoff: "yes" }))).toBe("production")
    expect(gated.evaluate("candidate", "review", context({}, { signoff: "no" }))).toBe("rejected")
  })

  it("lets nothing through when a guard throws, or the state ignores the event", () => {
    expect(gated.evaluate("candidate", "check", context({ accuracy: 1 }))).toBeUndefined()
    expect(gated.evaluate("production", "promote", context({ accuracy: 1 }))).toBeUndefined()
    expect(gated.evaluate("nowhere", "promote", context({ accuracy: 1 }))).toBeUndefined()
  })

  it("records which transitions are guarded; a named guard's implementation is not in the fingerprint", () => {
    expect(gated.transitions.get("candidate")?.get("review")).toEqual([
      { target: "production", guarded: true },
      { target: "rejected", guarded: false },
    ])
    const renamedGuard = compiled({
      ...gated.definition,
      machine: gated.definition.machine.provide({ guards: { accurate: () => false } }) as AnyStateMachine,
    })
    expect(renamedGuard.fingerprint).toBe(gated.fingerprint)
  })
})
