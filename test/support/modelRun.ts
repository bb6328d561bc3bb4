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
  /**
   * Registries open at once on the same storage (default 1): each command runs on the next, once all have caught up
   * with the last command's writes, so every command must answer as the one reference model says, whichever
   * server takes it. Only a shared store (PostgreSQL) opens more than one.
   */
  readonly servers?: number
}

export const runModel = async <M extends object>(run: ModelRun<M>): Promise<void> => {
  const servers = run.servers ?? 1
  // The registries of the run in progress (fast-check runs one at a time), and whose turn it is.
  const current = { all: [] as Array<Opened>, turn: 0 }
  // Every command on the next server, once all have seen every write so far (reads are each server's own).
  const onNextServer = (command: fc.AsyncCommand<M, Real>): fc.AsyncCommand<M, Real> => ({
    check: command.check,
    run: async (model, real) => {
      await caughtUp(current.all)
      real.opened = current.all[current.turn++ % servers]!
      await command.run(model, real)
    },
    toString: () => command.toString(),
  })
  const given = servers === 1 ? run.commands : run.commands.map((arbitrary) => arbitrary.map(onNextServer))
  const commands = fc.commands([...given], {
    maxCommands: run.maxCommands,
    ...(run.size === undefined ? {} : { size: run.size }),
  })
  await fc.assert(
    fc.asyncProperty(commands, async (cmds) => {
      const layer = run.layer()
      const openAll = () => Promise.all(Array.from({ length: servers }, () => open(layer)))
      current.all = await openAll()
      current.turn = 0
      const real: Real = {
        opened: current.all[0]!,
        reopen: async () => {
          await Promise.all(current.all.map((opened) => opened.close()))
          current.all = await openAll()
          real.opened = current.all[0]!
        },
      }
      const model = run.model()
      try {
        await run.setup?.(model, real)
        await fc.asyncModelRun(() => ({ model, real }), cmds)
        await real.reopen()
        await caughtUp(current.all)
        for (const opened of current.all) await run.expectSameState(model, { ...real, opened })
      } finally {
        await Promise.all(current.all.map((opened) => opened.close()))
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

/** Waits until every registry has applied the same last seq: the others follow a shared store's head. */
const caughtUp = async (all: ReadonlyArray<Opened>): Promise<void> => {
  if (all.length < 2) return
  const deadline = Date.now() + 10_000
  for (;;) {
    const seqs = await Promise.all(all.map(async ({ registry, run }) => (await run(registry.stats)).lastSeq))
    if (seqs.every((seq) => seq === seqs[0])) return
    if (Date.now() > deadline) throw new Error(`the servers did not catch up: last seqs ${seqs.join(", ")}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
