/**
 * One TaskStats sample for Nomad from two consecutive readings of a task's cgroup counters: CPU rates need the
 * previous reading, everything else is read off the current one. `measured_fields` lists exactly the values that
 * were measured (Nomad shows only those), in the enum's order: CPU rates from the second reading on, total ticks
 * only when the node's compute is known, throttling and memory values when the cgroup reported them.
 * `timestamp` and `agg_resource_usage` are always set: the Go client drops a sample without the first and
 * dereferences the second without a check.
 */
import {
  type CPUUsage,
  CPUUsage_Fields,
  type MemoryUsage,
  MemoryUsage_Fields,
  type TaskResourceUsage,
  type TaskStats
} from "../gen/plugins/drivers/proto/driver.js"
import type { CgroupCounters, MemoryCounters } from "./CgroupCounters.js"
import { percent, ticks } from "./CpuUsage.js"
import { isKnown, type NodeCompute } from "./NodeCompute.js"

/** Counters and when containerd read them. */
export interface Sample {
  readonly atMillis: number
  readonly counters: CgroupCounters
}

const nanosPerMilli = 1e6

const cpuUsage = (previous: Sample | undefined, current: Sample, compute: NodeCompute): CPUUsage => {
  const usage: CPUUsage = {
    systemMode: 0,
    userMode: 0,
    totalTicks: 0,
    throttledPeriods: 0n,
    throttledTime: 0n,
    percent: 0,
    measuredFields: []
  }
  const cpu = current.counters.cpu
  if (cpu === undefined) return usage
  const before = previous?.counters.cpu
  const wallNs = previous === undefined ? 0 : (current.atMillis - previous.atMillis) * nanosPerMilli
  if (before !== undefined && wallNs > 0) {
    usage.percent = percent(before.totalNs, cpu.totalNs, wallNs)
    usage.systemMode = percent(before.systemNs, cpu.systemNs, wallNs)
    usage.userMode = percent(before.userNs, cpu.userNs, wallNs)
    usage.measuredFields.push(CPUUsage_Fields.PERCENT, CPUUsage_Fields.SYSTEM_MODE, CPUUsage_Fields.USER_MODE)
    if (isKnown(compute)) {
      usage.totalTicks = ticks(usage.percent, compute)
      usage.measuredFields.push(CPUUsage_Fields.TOTAL_TICKS)
    }
  }
  if (cpu.throttling !== undefined) {
    usage.throttledPeriods = cpu.throttling.periods
    usage.throttledTime = cpu.throttling.timeNs
    usage.measuredFields.push(CPUUsage_Fields.THROTTLED_PERIODS, CPUUsage_Fields.THROTTLED_TIME)
  }
  usage.measuredFields.sort((a, b) => a - b)
  return usage
}

const memoryFields: ReadonlyArray<readonly [keyof MemoryCounters & keyof MemoryUsage, MemoryUsage_Fields]> = [
  ["rss", MemoryUsage_Fields.RSS],
  ["cache", MemoryUsage_Fields.CACHE],
  ["maxUsage", MemoryUsage_Fields.MAX_USAGE],
  ["kernelUsage", MemoryUsage_Fields.KERNEL_USAGE],
  ["kernelMaxUsage", MemoryUsage_Fields.KERNEL_MAX_USAGE],
  ["usage", MemoryUsage_Fields.USAGE],
  ["swap", MemoryUsage_Fields.SWAP]
]

const memoryUsage = (memory: MemoryCounters | undefined): MemoryUsage => {
  const usage: MemoryUsage = {
    rss: 0n,
    cache: 0n,
    maxUsage: 0n,
    kernelUsage: 0n,
    kernelMaxUsage: 0n,
    measuredFields: [],
    usage: 0n,
    swap: 0n
  }
  if (memory === undefined) return usage
  for (const [name, field] of memoryFields) {
    const value = memory[name]
    if (value === undefined) continue
    usage[name] = value
    usage.measuredFields.push(field)
  }
  return usage
}

/** The task's usage at `current`; CPU rates over the time since `previous` (none without it). */
export const resourceUsage = (
  previous: Sample | undefined,
  current: Sample,
  compute: NodeCompute
): TaskResourceUsage => ({
  cpu: cpuUsage(previous, current, compute),
  memory: memoryUsage(current.counters.memory)
})

export const taskStats = (
  taskId: string,
  previous: Sample | undefined,
  current: Sample,
  compute: NodeCompute
): TaskStats => ({
  id: taskId,
  timestamp: new Date(current.atMillis),
  aggResourceUsage: resourceUsage(previous, current, compute),
  resourceUsageByPid: {}
})
