/**
 * A reference, not ours: the least an HTTP front for durable registers must do, in plain `node:http`, so the HTTP
 * scenario can state the registry server's numbers as ratios to what Node itself reaches on the same machine in
 * the same run. A register parses the JSON body and is answered only once the reference group commit (one write +
 * one fdatasync per batch, targets/groupCommitWriter.ts) has made it durable; nothing is validated, no
 * lifecycle, no observers. A `Map` keeps every version so GET answers. Prints the same `listening` line as
 * `model-registry serve --json`, so one launcher starts both.
 *
 * The harness bundles this file with esbuild and runs it as plain JavaScript, as the registry's CLI is run from
 * its esbuild bundle: neither pays tsx at start-up, which the cold-start scenario measures.
 *
 *   node bare-http-server.mjs <directory>
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { BenchRecord } from "../harness/records.ts"
import { GroupCommitWriter } from "../targets/groupCommitWriter.ts"

const directory = process.argv[2]
if (directory === undefined) throw new Error("usage: bareHttpServer <directory>")

const writer = new GroupCommitWriter()
writer.open(directory)
const versions = new Map<string, Map<string, string>>()

const send = (response: ServerResponse, status: number, body: string): void => {
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
  response.end(body)
}

const register = (request: IncomingMessage, response: ServerResponse, name: string): void => {
  const chunks: Array<Buffer> = []
  request.on("data", (chunk: Buffer) => chunks.push(chunk))
  request.on("end", () => {
    let record: BenchRecord
    try {
      record = { ...(JSON.parse(Buffer.concat(chunks).toString("utf8")) as BenchRecord), name }
    } catch {
      send(response, 400, '{"error":"InvalidInput"}')
      return
    }
    writer.enqueue(record, (error) => {
      if (error) {
        send(response, 503, '{"error":"StorageFailed"}')
        return
      }
      const body = JSON.stringify(record)
      const byVersion = versions.get(name) ?? new Map<string, string>()
      if (byVersion.size === 0) versions.set(name, byVersion)
      byVersion.set(record.version, body)
      send(response, 201, body)
    })
  })
}

const server = createServer((request, response) => {
  // "", "models", name, "versions", version
  const parts = (request.url ?? "/").split("?")[0]!.split("/")
  const method = request.method
  if (method === "GET" && parts[1] === "healthz" && parts.length === 2) send(response, 200, '{"status":"ok"}')
  else if (method === "GET" && parts[1] === "models" && parts.length === 2)
    send(
      response,
      200,
      JSON.stringify([...versions].map(([name, byVersion]) => ({ name, versionCount: byVersion.size }))),
    )
  else if (parts[1] === "models" && parts[3] === "versions" && parts.length === 4 && method === "POST")
    register(request, response, parts[2]!)
  else if (parts[1] === "models" && parts[3] === "versions" && parts.length === 5 && method === "GET") {
    const body = versions.get(parts[2]!)?.get(parts[4]!)
    if (body === undefined) send(response, 404, '{"error":"NotFound"}')
    else send(response, 200, body)
  } else send(response, 404, '{"error":"NotFound"}')
})

server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("expected a TCP address")
  process.stdout.write(`${JSON.stringify({ event: "listening", url: `http://127.0.0.1:${address.port}` })}\n`)
})

process.once("SIGTERM", () => {
  server.close()
  server.closeAllConnections()
  writer.close()
  process.exit(0)
})
