/**
 * Progress on a terminal: whether it is shown (decided from which streams are terminals and `--json`, injected
 * here rather than needing a real TTY), how the line is throttled and cleared (an injected clock), and what the
 * core reports through it while opening a directory and verifying one.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { makeProgressLine, type ProgressTerminal, progressLayer, showProgress } from "../../src/cli/progress.ts"
import { Progress, verify } from "../../src/effects/Inspection.ts"
import * as Registry from "../../src/effects/ModelRegistry.ts"
import { layerFile, layerNode } from "../../src/node.ts"
import { makeTempDirectory } from "../storage/harness.ts"

/** A terminal whose clock moves `stepMs` at every reading, recording what is written. */
const fakeTerminal = (stepMs: number) => {
  const writes: Array<string> = []
  let now = 0
  const terminal: ProgressTerminal = {
    write: (text) => {
      writes.push(text)
    },
    now: () => {
      now += stepMs
      return now
    },
  }
  return { terminal, writes }
}

const erase = "\r\u001b[2K"

describe("showProgress", () => {
  it("shows progress only to a person watching stderr", () => {
    const terminal = { stderr: true, stdout: true }
    expect(showProgress(terminal, { json: false, streamsStdout: false })).toBe(true)
    expect(showProgress(terminal, { json: true, streamsStdout: false })).toBe(false)
    expect(showProgress({ stderr: false, stdout: true }, { json: false, streamsStdout: false })).toBe(false)
    // `wal dump` to the same terminal would tear its own lines; into a file or a pipe, its progress shows.
    expect(showProgress(terminal, { json: false, streamsStdout: true })).toBe(false)
    expect(showProgress({ stderr: true, stdout: false }, { json: false, streamsStdout: true })).toBe(true)
  })
})

describe("makeProgressLine", () => {
  it("draws nothing for work shorter than the redraw interval, and then nothing to clear", () => {
    const { terminal, writes } = fakeTerminal(10)
    const line = makeProgressLine(terminal)
    for (let done = 0; done < 5; done++) line.report({ phase: "verify", done, total: 5 })
    line.report({ phase: "verify", done: 5, total: 5 })
    line.clear()
    expect(writes).toEqual([])
  })

  it("redraws at most once per interval and erases the line when the phase ends", () => {
    const { terminal, writes } = fakeTerminal(60)
    const line = makeProgressLine(terminal)
    for (let done = 0; done < 4; done++) line.report({ phase: "replay", done: done * 1000, total: 4000 })
    line.report({ phase: "replay", done: 4000, total: 4000 })
    expect(writes).toEqual([
      `${erase}replaying the log: 1,000 of 4,000 records (25%)`,
      `${erase}replaying the log: 3,000 of 4,000 records (75%)`,
      erase,
    ])
    line.clear()
    expect(writes).toHaveLength(3)
  })
})

describe("progress of the core's long work", () => {
  const fill = (directory: string) =>
    Effect.scoped(
      Effect.gen(function* () {
        const registry = Context.get(yield* Layer.build(layerFile({ directory })), Registry.ModelRegistry)
        yield* Effect.forEach(["1.0.0", "1.1.0", "1.2.0"], (version) => registry.register({ name: "m", version }), {
          discard: true,
        })
      }),
    )

  it.scoped("draws the open's check and replay, and verify's records, when shown; nothing otherwise", () =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectory
      yield* fill(directory)

      const shown = fakeTerminal(100)
      yield* Effect.scoped(
        Layer.build(Layer.provide(layerFile({ directory }), progressLayer(Progress, true, shown.terminal))),
      )
      yield* Effect.provide(verify(directory), Layer.merge(layerNode, progressLayer(Progress, true, shown.terminal)))
      expect(shown.writes).toEqual([
        `${erase}checking the log: 0 of 1 segments (0%)`,
        erase,
        `${erase}replaying the log: 0 of 3 records (0%)`,
        erase,
        `${erase}checking the log: 0 of 1 segments (0%)`,
        erase,
        `${erase}verifying records: 0 of 3 records (0%)`,
        erase,
      ])

      const hidden = fakeTerminal(100)
      const report = yield* Effect.provide(
        verify(directory),
        Layer.merge(layerNode, progressLayer(Progress, false, hidden.terminal)),
      )
      expect(report.events).toBe(3)
      expect(hidden.writes).toEqual([])
    }),
  )
})
