/**
 * Embedding the registry in an Effect program: register two versions, promote one, then promote the other
 * (which supersedes the first in the same durable event), while a subscriber prints every committed event.
 *
 *   npx tsx examples/embed.ts [data-directory]
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Console, Effect, Fiber, Stream } from "effect"
import { layerFile, ModelRegistry } from "../src/node.ts"

const program = Effect.gen(function* () {
  const registry = yield* ModelRegistry.ModelRegistry
  const printer = yield* registry.subscribe({ from: 1 }).pipe(
    Stream.take(4),
    Stream.runForEach((event) => Console.log(`event ${event.seq}: ${event._tag}`)),
    Effect.fork,
  )
  yield* registry.register({ name: "resnet", version: "1.0.0", metrics: { top1: 0.76 }, tags: { framework: "torch" } })
  yield* registry.register({ name: "resnet", version: "1.1.0", metrics: { top1: 0.78 } })
  yield* registry.promote("resnet", "1.0.0")
  const { event } = yield* registry.promote("resnet", "1.1.0")
  yield* Console.log(`promoted 1.1.0, superseding ${event?._tag === "Promoted" ? event.supersedes : "nothing"}`)
  yield* Fiber.join(printer)
  const versions = yield* registry.listVersions("resnet")
  yield* Console.log(versions.map((v) => `${v.name}@${v.version}: ${v.state}`).join("\n"))
})

const directory = process.argv[2] ?? mkdtempSync(join(tmpdir(), "registry-example-"))
await Effect.runPromise(program.pipe(Effect.provide(layerFile({ directory }))))
if (process.argv[2] === undefined) rmSync(directory, { recursive: true, force: true })
