/**
 * Runs a bench script in a fresh Node process under tsx, the way run.mjs starts main.ts, and returns the JSON
 * document the script prints as its last stdout line. A fresh process per repetition keeps the parent's JIT
 * and heap out of what is measured (recovery, memory) and gives each server its own cores' worth of scheduling.
 */
import { spawn } from "node:child_process"

const tsx = import.meta.resolve("tsx")

export const nodeWithTsx = (script: string, args: ReadonlyArray<string>): [string, ReadonlyArray<string>] => [
  process.execPath,
  ["--expose-gc", "--import", tsx, script, ...args],
]

export const runChild = <A>(script: string, args: ReadonlyArray<string>): Promise<A> =>
  new Promise((resolve, reject) => {
    const [command, argv] = nodeWithTsx(script, args)
    const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on("error", reject)
    child.on("close", (code, signal) => {
      const last = stdout.trim().split("\n").at(-1) ?? ""
      if (code !== 0) {
        reject(new Error(`${script} ${args.join(" ")} exited with ${code ?? signal}:\n${stderr}${stdout}`))
        return
      }
      try {
        resolve(JSON.parse(last) as A)
      } catch {
        reject(new Error(`${script} printed no JSON result:\n${stderr}${stdout}`))
      }
    })
  })
