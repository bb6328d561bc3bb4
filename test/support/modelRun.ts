/**
 * The frame of a model-based test of the registry: fast-check command sequences run against a reference model and
 * a registry that commands may close and reopen, ending with a reopen and a last comparison.
 */
import type { Layer } from "effect"
import fc from "fast-check"
import type { ModelRegistry } from "../../src/effects/ModelRegistry.ts"
import { type Opened, open, tempDirectory } from "./harness.ts"

/** The registry under test; `reopen` closes it and opens the same storage again. */
export interface Real {
  opened: Opened
  readonly reopen: () => Promise<void>
}

/** A command that always applies: the reference model says what each command must answer, whatever the state. */
export const command = <M extends object>(
  label: string,
  run: (model: M, real: Real) => Promise<void>,
): fc.AsyncCommand<M, Real> => ({ check: () => true, run, toString: () => label })

export interface ModelRun<M extends object> {
  readonly commands: ReadonlyArray<fc.Arbitrary<fc.AsyncCommand<M, Real>>>
  readonly maxCommands: number
  /** fast-check's size for the command lists (default its own). */
  readonly size?: fc.SizeForArbitrary
  readonly numRuns: number
  readonly model: () => M
  /** A fresh registry's storage for each run: each call is a new store or directory. */
  readonly layer: () => Layer.Layer<ModelRegistry, unknown>
  /** Runs before the commands, on the fresh registry. */
  readonly setup?: (model: M, real: Real) => Promise<void>
  /** Compares everything a reader sees with the model; run after the last reopen. */
  readonly expectSameState: (model: M, real: Real) => Promise<void>
  /** After each run, closed or failed. */
  readonly cleanup?: () => void
}

export const runModel = async <M extends object>(run: ModelRun<M>): Promise<void> => {
  const commands = fc.commands([...run.commands], {
    maxCommands: run.maxCommands,
    ...(run.size === undefined ? {} : { size: run.size }),
  })
  await fc.assert(
    fc.asyncProperty(commands, async (cmds) => {
      const layer = run.layer()
      const real: Real = {
        opened: await open(layer),
        reopen: async () => {
          await real.opened.close()
          real.opened = await open(layer)
        },
      }
      const model = run.model()
      try {
        await run.setup?.(model, real)
        await fc.asyncModelRun(() => ({ model, real }), cmds)
        await real.reopen()
        await run.expectSameState(model, real)
      } finally {
        await real.opened.close()
        run.cleanup?.()
      }
    }),
    { numRuns: run.numRuns, verbose: 1 },
  )
}

/** Fresh temporary directories, one per run, for `layer`; `cleanup` removes the ones made so far. */
export const temporaryDirectories = (label: string) => {
  const made: Array<{ readonly remove: () => void }> = []
  return {
    next: (): string => {
      const directory = tempDirectory(label)
      made.push(directory)
      return directory.path
    },
    cleanup: (): void => {
      for (const directory of made.splice(0)) directory.remove()
    },
  }
}
