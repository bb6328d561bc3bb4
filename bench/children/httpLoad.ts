/**
 * The HTTP scenario's load generator, in a process of its own so that its CPU is neither the server's nor the
 * orchestrating harness's: warms up, measures, and prints the result as one JSON line. Started by
 * harness/child.ts.
 *
 *   node --expose-gc --import tsx bench/children/httpLoad.ts '<LoadRequest as JSON>'
 */
import { type LoadRequest, runLoad } from "../harness/httpLoad.ts"

const argument = process.argv[2]
if (argument === undefined) throw new Error("usage: httpLoad.ts '<LoadRequest as JSON>'")
const result = await runLoad(JSON.parse(argument) as LoadRequest)
process.stdout.write(`${JSON.stringify(result)}\n`)
