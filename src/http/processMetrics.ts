/**
 * The process metrics every Prometheus client library exports (CPU, memory, file descriptors, start time), under
 * their conventional names, so the dashboards and alerts written for those work on `/metrics` as they are. Read at
 * scrape time. Linux facts come from /proc; where a fact cannot be read its family is left out, never guessed.
 */
import { readdirSync, readFileSync } from "node:fs"
import process from "node:process"
import type { Family } from "./prometheus.ts"

const one = (name: string, type: Family["type"], help: string, value: number): Family => ({
  name,
  type,
  help,
  samples: [{ name, labels: [], value }],
})

/** A file's text, or `undefined` where it does not exist (any system without /proc). */
const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8")
  } catch {
    return undefined
  }
}

/** A `/proc/self/status` field in kB, as bytes. */
const statusBytes = (status: string | undefined, field: string): number | undefined => {
  const match = status?.match(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m"))
  return match ? Number(match[1]) * 1024 : undefined
}

/** The soft limit on open files; `undefined` when unlimited or unreadable. */
const maxFds = (): number | undefined => {
  const match = readText("/proc/self/limits")?.match(/^Max open files\s+(\d+)/m)
  return match ? Number(match[1]) : undefined
}

const openFds = (): number | undefined => {
  try {
    // Listing the directory opens one descriptor of its own, which the listing includes.
    return readdirSync("/proc/self/fd").length - 1
  } catch {
    return undefined
  }
}

export const processFamilies = (): ReadonlyArray<Family> => {
  const families: Array<Family> = []
  const add = (name: string, type: Family["type"], help: string, value: number | undefined) => {
    if (value !== undefined && Number.isFinite(value)) families.push(one(name, type, help, value))
  }
  if (typeof process.cpuUsage === "function") {
    const cpu = process.cpuUsage()
    add("process_cpu_user_seconds_total", "counter", "user CPU time spent, in seconds", cpu.user / 1e6)
    add("process_cpu_system_seconds_total", "counter", "system CPU time spent, in seconds", cpu.system / 1e6)
    add(
      "process_cpu_seconds_total",
      "counter",
      "user and system CPU time spent, in seconds",
      (cpu.user + cpu.system) / 1e6,
    )
  }
  const status = readText("/proc/self/status")
  const rss =
    statusBytes(status, "VmRSS") ?? (typeof process.memoryUsage === "function" ? process.memoryUsage.rss() : undefined)
  add("process_resident_memory_bytes", "gauge", "resident memory size, in bytes", rss)
  add("process_virtual_memory_bytes", "gauge", "virtual memory size, in bytes", statusBytes(status, "VmSize"))
  add("process_heap_bytes", "gauge", "process heap (data segment) size, in bytes", statusBytes(status, "VmData"))
  add("process_open_fds", "gauge", "open file descriptors", openFds())
  add("process_max_fds", "gauge", "the limit on open file descriptors", maxFds())
  add(
    "process_start_time_seconds",
    "gauge",
    "start time of the process since the Unix epoch, in seconds",
    performance.timeOrigin / 1000,
  )
  return families
}
