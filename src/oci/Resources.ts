/**
 * `linux.resources` from Nomad's resources and the task's CPU options: memory (with `memory_max`
 * oversubscription), CPU shares, cpusets (task option, else Nomad's reserved cores) and the optional hard CFS
 * quota (`cpu_hard_limit`).
 */
import { Either } from "effect"
import type { Cpu, Memory } from "./RuntimeSpec.js"
import type { NomadResources, TaskConfig } from "./SpecInput.js"
import { type SpecError, specError } from "./SpecError.js"

const MiB = 1024 * 1024

/**
 * The original's WithMemoryLimits: with `memory_max` the hard limit is memory_max and `memory` becomes the
 * reservation (soft limit); otherwise `memory` is the hard limit. Undefined when Nomad gives no memory.
 */
export const memoryLimits = (resources: Pick<NomadResources, "memory_mb" | "memory_max_mb">): Memory | undefined => {
  const soft = resources.memory_mb * MiB
  const hard = resources.memory_max_mb * MiB
  if (hard > 0) return { limit: hard, reservation: Math.min(soft, hard) }
  if (soft > 0) return { limit: soft }
  return undefined
}

/** `0-3,8,10-11`: comma-separated cpu/node numbers and ascending ranges. */
export const isValidCpuset = (s: string): boolean =>
  /^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(s) &&
  s.split(",").every((part) => {
    const [lo, hi] = part.split("-").map(Number)
    return hi === undefined || lo! <= hi
  })

export const defaultCfsPeriod = 100_000
const minCfs = 1_000
const maxCfsPeriod = 1_000_000

export interface CpuInput {
  readonly task: Pick<TaskConfig, "cpuset_cpus" | "cpuset_mems" | "cpu_hard_limit" | "cpu_cfs_period">
  readonly resources: NomadResources
  /** Logical CPUs of the node. */
  readonly cpuCount: number
}

/**
 * cpu.shares = Nomad's LinuxResources.cpu_shares (the `cpu` MHz; runc maps it to cpu.weight on cgroup v2).
 * cpu.cpus = `cpuset_cpus`, else Nomad's reserved cores. With `cpu_hard_limit`, the Docker driver's formula
 * (nomad drivers/docker/driver.go, createContainerConfig):
 *   period = cpu_cfs_period (0/unset → 100000 µs; must be ≤ 1000000)
 *   quota  = int64(PercentTicks × period) × runtime.NumCPU()
 * i.e. the task's share of the whole node's CPU time per period; like the Podman driver, quota is raised to the
 * kernel's 1000 µs minimum.
 */
export const cpuResources = (input: CpuInput): Either.Either<Cpu | undefined, SpecError> => {
  const { task, resources } = input
  for (const [option, value] of [["cpuset_cpus", task.cpuset_cpus], ["cpuset_mems", task.cpuset_mems]] as const) {
    if (value !== undefined && value !== "" && !isValidCpuset(value)) {
      return Either.left(
        specError("InvalidCpuset", `${option} = ${JSON.stringify(value)} is not a cpu list; use numbers and ranges like "0-2,4"`)
      )
    }
  }
  const cpus = task.cpuset_cpus !== undefined && task.cpuset_cpus !== ""
    ? task.cpuset_cpus
    : resources.linux.cpuset_cpus !== "" ? resources.linux.cpuset_cpus : undefined
  const mems = task.cpuset_mems !== undefined && task.cpuset_mems !== "" ? task.cpuset_mems : undefined
  let quota: { quota: number; period: number } | undefined
  if (task.cpu_hard_limit) {
    const period = task.cpu_cfs_period === undefined || task.cpu_cfs_period === 0 ? defaultCfsPeriod : task.cpu_cfs_period
    if (period < minCfs || period > maxCfsPeriod) {
      return Either.left(
        specError(
          "InvalidCpuPeriod",
          `invalid value for cpu_cfs_period: ${period}; it must be between ${minCfs} and ${maxCfsPeriod} microseconds`
        )
      )
    }
    const percentTicks = resources.linux.PercentTicks
    if (!(percentTicks > 0)) {
      return Either.left(
        specError(
          "MissingCpuShare",
          "cpu_hard_limit = true needs the task's share of the node's CPU (PercentTicks), which Nomad did not send; " +
            "set resources { cpu = ... } or turn cpu_hard_limit off"
        )
      )
    }
    quota = { period, quota: Math.max(minCfs, Math.trunc(percentTicks * period) * input.cpuCount) }
  }
  const shares = resources.linux.cpu_shares > 0 ? resources.linux.cpu_shares : undefined
  const cpu: Cpu = {
    ...(shares !== undefined ? { shares } : {}),
    ...(quota !== undefined ? quota : {}),
    ...(cpus !== undefined ? { cpus } : {}),
    ...(mems !== undefined ? { mems } : {})
  }
  return Either.right(Object.keys(cpu).length > 0 ? cpu : undefined)
}
