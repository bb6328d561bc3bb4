/**
 * The lifecycles the registry ships: `defaultLifecycle` (what every directory written before lifecycles could be
 * chosen runs under), `mlflowStages` (MLflow's stages, with a champion alias), and `approval` (a review step before
 * deployment). Each is model-checked in CI (scripts/model-check.ts).
 */
import { type AnyStateMachine, setup } from "xstate"
import {
  type CompiledLifecycle,
  compileOrThrow,
  defineLifecycle,
  type LifecycleDefinition,
} from "./lifecycleDefinition.ts"

/**
 * registered → production → deprecated. `supersede` is what a promotion does to the version it displaces from
 * `production`; it is an event like the others, so `transition(name, version, "supersede")` demotes a version.
 */
export const defaultLifecycle: LifecycleDefinition = defineLifecycle({
  name: "default",
  machine: setup({ types: { events: {} as { type: "promote" | "deprecate" | "supersede" } } }).createMachine({
    id: "modelVersion",
    initial: "registered",
    states: {
      registered: { on: { promote: "production", deprecate: "deprecated" } },
      production: { on: { supersede: "registered", deprecate: "deprecated" } },
      deprecated: {},
    },
  }) as AnyStateMachine,
  exclusive: { production: "supersede" },
})

/** MLflow's stages (None, Staging, Production, Archived); entering production archives the previous holder. */
export const mlflowStages: LifecycleDefinition = defineLifecycle({
  name: "mlflow-stages",
  machine: setup({ types: { events: {} as { type: "stage" | "promote" | "archive" } } }).createMachine({
    id: "stages",
    initial: "none",
    states: {
      none: { on: { stage: "staging", promote: "production", archive: "archived" } },
      staging: { on: { promote: "production", archive: "archived" } },
      production: { on: { archive: "archived" } },
      archived: {},
    },
  }) as AnyStateMachine,
  exclusive: { production: "archive" },
  aliases: { champion: ["production", "staging"] },
})

/**
 * A review before deployment: a version waits for approval, an approved one may be deployed (one at a time: deploying
 * retires the deployed one), and a deployed one is retired. `live` follows the deployed version only; `candidate`
 * may name an approved or deployed one.
 */
export const approval: LifecycleDefinition = defineLifecycle({
  name: "approval",
  machine: setup({ types: { events: {} as { type: "approve" | "reject" | "deploy" | "retire" } } }).createMachine({
    id: "approval",
    initial: "pendingApproval",
    states: {
      pendingApproval: { on: { approve: "approved", reject: "rejected" } },
      approved: { on: { deploy: "deployed", retire: "retired" } },
      deployed: { on: { retire: "retired" } },
      rejected: {},
      retired: {},
    },
  }) as AnyStateMachine,
  exclusive: { deployed: "retire" },
  aliases: { live: ["deployed"], candidate: ["approved", "deployed"] },
})

export const builtinLifecycles: ReadonlyArray<LifecycleDefinition> = [defaultLifecycle, mlflowStages, approval]

export const compiledDefault: CompiledLifecycle = compileOrThrow(defaultLifecycle)
