// Iterates a subscription with nothing else keeping Node alive (the file registry's directory check holds a timer,
// so "memory" is the case that shows it); SIGUSR2, whose listener does not hold the event loop, closes the registry.
import { ModelRegistry, openPromiseRegistry, openRegistry } from "../../../src/node.ts"

const where = process.argv[2] as string
const registry = await (where === "memory"
  ? openPromiseRegistry(ModelRegistry.layerMemory())
  : openRegistry({ directory: where }))
await registry.register({ name: "bert", version: "1.0.0", metrics: { f1: 0.91 } })
process.once("SIGUSR2", () => void registry.close())
const seen: Array<number> = []
for await (const event of registry.subscribe({ from: 1 })) {
  seen.push(event.seq)
  console.log(`seen ${event.seq}`)
}
console.log(`iteration ended after ${seen.join(",")}`)
