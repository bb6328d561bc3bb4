/**
 * The postgres-http scenario's load generator: registers spread over several servers at once, in a process of
 * its own (as children/httpLoad.ts is for one server); prints the result as one JSON line.
 *
 *   node --expose-gc --import tsx bench/children/spreadLoad.ts '<SpreadLoadRequest as JSON>'
 */
import { runSpreadLoad, type SpreadLoadRequest } from "../harness/httpLoad.ts"

const argument = process.argv[2]
if (argument === undefined) throw new Error("usage: spreadLoad.ts '<SpreadLoadRequest as JSON>'")
const result = await runSpreadLoad(JSON.parse(argument) as SpreadLoadRequest)
process.stdout.write(`${JSON.stringify(result)}\n`)
