/**
 * Reading what the kernel says about a process, for checks that hold on any host: fields of /proc/<pid>/status
 * (capability masks, seccomp mode), and the memory limits of the cgroup a process is in, found through
 * /proc/<pid>/cgroup (cgroup v1: the memory controller's hierarchy; v2: the unified one).
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** The value of `field` in the text of a /proc/<pid>/status file. */
export const statusField = (status: string, field: string): string => {
  const line = status.split("\n").find((l) => l.startsWith(`${field}:`))
  if (line === undefined) throw new Error(`no ${field} line in ${JSON.stringify(status.slice(0, 200))}`)
  return line.slice(field.length + 1).trim()
}

/** Kernel capability numbers of the capabilities the scenarios name. */
export const capability = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  NET_RAW: 13,
  IPC_LOCK: 14,
  IPC_OWNER: 15,
  SYS_CHROOT: 18,
  SYS_ADMIN: 21
} as const

/** The capability numbers set in a hex mask such as CapEff's. */
export const capabilityBits = (hexMask: string): ReadonlySet<number> => {
  const mask = BigInt(`0x${hexMask}`)
  const bits = new Set<number>()
  for (let bit = 0; bit < 64; bit++) if ((mask >> BigInt(bit)) & 1n) bits.add(bit)
  return bits
}

export interface MemoryLimits {
  /** The hard limit (v1 memory.limit_in_bytes, v2 memory.max). */
  readonly limit: string
  /** The soft limit (v1 memory.soft_limit_in_bytes, v2 memory.low). */
  readonly reservation: string
}

/** The memory limits of the cgroup process `pid` runs in, read from the cgroup filesystem. */
export const memoryLimits = (pid: number, root = "/sys/fs/cgroup"): MemoryLimits => {
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n").map((l) => l.split(":"))
  const v1 = lines.find(([, controllers]) => controllers!.split(",").includes("memory"))
  const read = (file: string) => fs.readFileSync(file, "utf8").trim()
  if (v1 !== undefined) {
    const dir = path.join(root, "memory", v1.slice(2).join(":"))
    return { limit: read(path.join(dir, "memory.limit_in_bytes")), reservation: read(path.join(dir, "memory.soft_limit_in_bytes")) }
  }
  const unified = lines.find(([id, controllers]) => id === "0" && controllers === "")
  if (unified === undefined) throw new Error(`process ${pid} is in no memory cgroup: ${JSON.stringify(lines)}`)
  const dir = path.join(root, unified.slice(2).join(":"))
  return { limit: read(path.join(dir, "memory.max")), reservation: read(path.join(dir, "memory.low")) }
}
