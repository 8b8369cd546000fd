/**
 * A task's cgroup counters as containerd's Tasks.Metrics reports them, in one unit system whatever the host's
 * cgroup version: CPU times in nanoseconds, memory in bytes. The payload is an Any of containerd/cgroups'
 * `cgroup1/stats/metrics.proto` (cgroup v1: nanoseconds) or `cgroup2/stats/metrics.proto` (cgroup v2:
 * MICROseconds — the original driver fed them to a nanosecond tracker and reported v2 CPU 1000× too low).
 *
 * A value is `undefined` when the cgroup did not report it, so the usage built from it can list exactly what was
 * measured. Where proto3 cannot tell "absent" from zero, the rule follows how containerd fills the message
 * (containerd/cgroups cgroup1/memory.go, cgroup2/manager.go), noted at each field.
 */
import { Either } from "effect"
import { AnyError, AnyTypes, isType, unpack } from "../containerd/any.js"
import type * as Cgroup1 from "../gen/github.com/containerd/cgroups/cgroup1/stats/metrics.js"
import type * as Cgroup2 from "../gen/github.com/containerd/cgroups/cgroup2/stats/metrics.js"
import type { Any } from "../gen/google/protobuf/any.js"

/** CFS bandwidth throttling, cumulative since the cgroup was created. */
export interface Throttling {
  readonly periods: bigint
  readonly timeNs: bigint
}

/** Cumulative CPU time of every process of the task. */
export interface CpuCounters {
  readonly totalNs: bigint
  readonly userNs: bigint
  readonly systemNs: bigint
  readonly throttling: Throttling | undefined
}

/** Bytes; each one `undefined` when not measured. */
export interface MemoryCounters {
  readonly rss: bigint | undefined
  readonly cache: bigint | undefined
  readonly usage: bigint | undefined
  readonly maxUsage: bigint | undefined
  readonly swap: bigint | undefined
  readonly kernelUsage: bigint | undefined
  readonly kernelMaxUsage: bigint | undefined
}

export interface CgroupCounters {
  readonly cgroupVersion: 1 | 2
  readonly cpu: CpuCounters | undefined
  readonly memory: MemoryCounters | undefined
}

const microsToNanos = (micros: bigint): bigint => micros * 1000n

const atLeastZero = (value: bigint): bigint => (value > 0n ? value : 0n)

/**
 * containerd reads every `memory.<module>.*` file of a v1 entry and leaves the entry zeroed when the module's
 * files do not exist (memsw without swap accounting, kmem on kernels without it); a limit file that exists never
 * reads 0 (unlimited is 9223372036854771712), so a non-zero limit tells the entry was read.
 */
const entryRead = (entry: Cgroup1.MemoryEntry | undefined): entry is Cgroup1.MemoryEntry =>
  entry !== undefined && entry.limit > 0n

export const fromCgroup1 = (metrics: Cgroup1.Metrics): CgroupCounters => {
  const usage = metrics.cpu?.usage
  const throttling = metrics.cpu?.throttling
  const memory = metrics.memory
  return {
    cgroupVersion: 1,
    cpu: usage === undefined ? undefined : {
      totalNs: usage.total,
      // cpuacct.stat clock ticks converted by containerd: they move in 10 ms steps.
      userNs: usage.user,
      systemNs: usage.kernel,
      throttling: throttling === undefined
        ? undefined
        : { periods: throttling.throttledPeriods, timeNs: throttling.throttledTime }
    },
    memory: memory === undefined ? undefined : {
      rss: memory.rss,
      cache: memory.cache,
      usage: memory.usage?.usage,
      maxUsage: memory.usage?.max,
      // memory.memsw.* counts memory + swap: the swap alone is the difference (never below zero: the two files
      // are read one after the other while the task runs).
      swap: entryRead(memory.swap) ? atLeastZero(memory.swap.usage - (memory.usage?.usage ?? 0n)) : undefined,
      kernelUsage: entryRead(memory.kernel) ? memory.kernel.usage : undefined,
      kernelMaxUsage: entryRead(memory.kernel) ? memory.kernel.max : undefined
    }
  }
}

export const fromCgroup2 = (metrics: Cgroup2.Metrics): CgroupCounters => {
  const cpu = metrics.cpu
  const memory = metrics.memory
  return {
    cgroupVersion: 2,
    cpu: cpu === undefined ? undefined : {
      totalNs: microsToNanos(cpu.usageUsec),
      userNs: microsToNanos(cpu.userUsec),
      systemNs: microsToNanos(cpu.systemUsec),
      throttling: { periods: cpu.nrThrottled, timeNs: microsToNanos(cpu.throttledUsec) }
    },
    memory: memory === undefined ? undefined : {
      // v2 has no rss/cache counters: anonymous memory is what v1 counts as rss, file-backed memory what it counts
      // as cache.
      rss: memory.anon,
      cache: memory.file,
      usage: memory.usage,
      // memory.peak, read by containerd 2.x only (and only on kernels that have it): 0 means not read.
      maxUsage: memory.maxUsage > 0n ? memory.maxUsage : undefined,
      // memory.swap.current exists whenever the kernel accounts swap, which every v2 kernel with swap does.
      swap: memory.swapUsage,
      kernelUsage: undefined,
      kernelMaxUsage: undefined
    }
  }
}

/** The counters in a Tasks.Metrics payload of either cgroup version. */
export const decodeMetrics = (data: Any | undefined): Either.Either<CgroupCounters, AnyError> => {
  if (isType(AnyTypes.CgroupV1Metrics, data)) return Either.map(unpack(AnyTypes.CgroupV1Metrics, data), fromCgroup1)
  if (isType(AnyTypes.CgroupV2Metrics, data)) return Either.map(unpack(AnyTypes.CgroupV2Metrics, data), fromCgroup2)
  return Either.left(
    new AnyError({
      reason: "TypeMismatch",
      message: `expected ${AnyTypes.CgroupV1Metrics.typeUrl} or ${AnyTypes.CgroupV2Metrics.typeUrl} metrics, got ${
        data === undefined ? "no data" : data.typeUrl || "(empty type URL)"
      }`
    })
  )
}
