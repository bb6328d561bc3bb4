/** Where the numbers came from: enough about the machine and disk to judge whether two runs are comparable. */
import { execFileSync } from "node:child_process"
import { statSync } from "node:fs"
import os from "node:os"

export interface DiskInfo {
  /** The directory the designs wrote to. */
  readonly path: string
  readonly device: string
  readonly filesystem: string
  /** Whether `path` is on the same device as the repository, as the issue asks. */
  readonly sameDeviceAsRepository: boolean
}

export interface MachineInfo {
  readonly cores: number
  readonly cpuModel: string
  readonly memoryBytes: number
  readonly platform: string
  readonly kernel: string
  readonly node: string
  readonly uvThreadpoolSize: number
  readonly loadAverageAtStart: ReadonlyArray<number>
  readonly disk: DiskInfo
  readonly commit: string | null
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string): string | undefined => {
  try {
    return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    return undefined
  }
}

const describeDisk = (path: string, repository: string): DiskInfo => {
  // `df -PT` prints one header line and one line: device, type, sizes, use%, mount point.
  const fields = run("df", ["-PT", path], repository)?.split("\n")[1]?.split(/\s+/) ?? []
  return {
    path,
    device: fields[0] ?? "unknown",
    filesystem: fields[1] ?? "unknown",
    sameDeviceAsRepository: statSync(path).dev === statSync(repository).dev,
  }
}

export const describeMachine = (scratchRoot: string, repository: string): MachineInfo => {
  const cpus = os.cpus()
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    memoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    node: process.version,
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    loadAverageAtStart: os.loadavg().map((load) => Math.round(load * 100) / 100),
    disk: describeDisk(scratchRoot, repository),
    commit: run("git", ["rev-parse", "--short", "HEAD"], repository) ?? null,
  }
}
