// The stats arithmetic (src/stats): Nomad's CPU percent and ticks, the node's compute from Nomad's topology,
// and the TaskStats sample with exactly the measured fields — for cgroup v1 and v2 counters alike.
import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc, Option } from "effect"
import { AnyTypes, pack } from "../../src/containerd/any.js"
import * as Cgroup1 from "../../src/gen/github.com/containerd/cgroups/cgroup1/stats/metrics.js"
import * as Cgroup2 from "../../src/gen/github.com/containerd/cgroups/cgroup2/stats/metrics.js"
import { type ClientTopologyCore, CoreGrade } from "../../src/gen/plugins/base/proto/base.js"
import { CPUUsage_Fields, MemoryUsage_Fields, TaskStats } from "../../src/gen/plugins/drivers/proto/driver.js"
import { type CgroupCounters, decodeMetrics } from "../../src/stats/CgroupCounters.js"
import { percent, ticks } from "../../src/stats/CpuUsage.js"
import { fromCoreSpeeds, fromTopology, type NodeCompute, speedsFromCpuinfo } from "../../src/stats/NodeCompute.js"
import { resourceUsage, type Sample, taskStats } from "../../src/stats/TaskUsage.js"

const counter = fc.bigInt({ min: 0n, max: (1n << 63n) - 1n })
const compute = fc.record({ totalMHz: fc.integer({ min: 1, max: 1_000_000 }), cores: fc.integer({ min: 1, max: 512 }) })
const twoCores: NodeCompute = { totalMHz: 4000, cores: 2 }

/** Equal up to floating-point rounding. */
const expectNear = (actual: number, expected: number) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)))

const cpuOnly = (totalNs: bigint, userNs = 0n, systemNs = 0n): CgroupCounters => ({
  cgroupVersion: 1,
  cpu: { totalNs, userNs, systemNs, throttling: undefined },
  memory: undefined
})

describe("CPU percent (cpustats.Tracker)", () => {
  it.prop("is never negative nor NaN, whatever the counters and the wall time", [counter, counter, fc.double()], ([a, b, wall]) => {
    const p = percent(a, b, wall)
    expect(p).toBeGreaterThanOrEqual(0)
    expect(Number.isNaN(p)).toBe(false)
  })

  it.prop(
    "is the CPU time over the wall time, in percent of one core",
    [fc.bigInt({ min: 0n, max: 1n << 62n }), fc.bigInt({ min: 1n, max: 1n << 40n }), fc.integer({ min: 1, max: 2 ** 40 })],
    ([start, used, wallNs]) => {
      expectNear(percent(start, start + used, wallNs), (Number(used) / wallNs) * 100)
    }
  )

  it("reports one busy core as 100 and two as 200", () => {
    expect(percent(5_000_000_000n, 6_000_000_000n, 1e9)).toBe(100)
    expect(percent(5_000_000_000n, 7_000_000_000n, 1e9)).toBe(200)
  })

  it.prop("is 0 when the counter went backwards (the cgroup was re-created) or time did not advance", [counter, counter, fc.integer({ min: -(2 ** 40), max: 2 ** 40 })], ([a, b, wall]) => {
    fc.pre(b <= a || wall <= 0)
    expect(percent(a, b, wall)).toBe(0)
  })
})

describe("total ticks (TicksConsumed)", () => {
  it.prop("are proportional to the percent", [fc.double({ min: 0, max: 10_000, noNaN: true }), fc.double({ min: 0, max: 100, noNaN: true }), compute], ([p, k, c]) => {
    expectNear(ticks(p * k, c), ticks(p, c) * k)
  })

  it.prop("for one busy core are one core's share of the node's MHz", [compute], ([c]) => {
    expectNear(ticks(100, c), c.totalMHz / c.cores)
  })

  it("are 0 when the node has no known cores", () => {
    expect(ticks(100, { totalMHz: 0, cores: 0 })).toBe(0)
  })
})

const core = (speeds: Partial<Pick<ClientTopologyCore, "baseSpeed" | "maxSpeed" | "guessSpeed" | "disable">>, id: number): ClientTopologyCore => ({
  socketId: 0,
  nodeId: 0,
  coreId: id,
  coreGrade: CoreGrade.Performance,
  disable: false,
  baseSpeed: 0n,
  maxSpeed: 0n,
  guessSpeed: 0n,
  ...speeds
})

const topology = (cores: Array<ClientTopologyCore>, overrideTotalCompute = 0n) => ({
  nodeIds: [0],
  distances: undefined,
  cores,
  overrideTotalCompute,
  overrideWitholdCompute: 0n
})

describe("node compute (numalib Topology)", () => {
  it("sums each core's base speed, else max, else guessed speed, disabled cores included", () => {
    const cores = [
      core({ baseSpeed: 2000n, maxSpeed: 3500n, guessSpeed: 1n }, 0),
      core({ maxSpeed: 3000n, guessSpeed: 1n }, 1),
      core({ guessSpeed: 2500n }, 2),
      core({ baseSpeed: 1000n, disable: true }, 3)
    ]
    expect(fromTopology(topology(cores))).toEqual(Option.some({ totalMHz: 8500, cores: 4 }))
  })

  it("takes the client's cpu_total_compute override over the cores' speeds, still counting every core", () => {
    expect(fromTopology(topology([core({ baseSpeed: 2000n }, 0), core({ baseSpeed: 2000n }, 1)], 10_000n)))
      .toEqual(Option.some({ totalMHz: 10_000, cores: 2 }))
  })

  it("is unknown without a topology or cores (older Nomads, tests): the host's view is used instead", () => {
    expect(fromTopology(undefined)).toEqual(Option.none())
    expect(fromTopology(topology([]))).toEqual(Option.none())
  })

  it("reads the host's speeds from /proc/cpuinfo and counts cores of unknown speed", () => {
    const cpuinfo = "processor\t: 0\ncpu MHz\t\t: 2096.016\nflags\t: fpu\n\nprocessor\t: 1\ncpu MHz\t\t: 2096.016\n"
    expect(speedsFromCpuinfo(cpuinfo)).toEqual([2096.016, 2096.016])
    expect(fromCoreSpeeds([2096.016, 2096.016])).toEqual({ totalMHz: 4192, cores: 2 })
    expect(fromCoreSpeeds([0, 0])).toEqual({ totalMHz: 0, cores: 2 })
  })
})

/** The same usage as cgroup v1 (ns) and v2 (µs) payloads, through the decoder. */
const decodedPair = (usageUsec: bigint, userUsec: bigint, systemUsec: bigint) => {
  const v1 = Either.getOrThrow(pack(AnyTypes.CgroupV1Metrics, Cgroup1.Metrics.fromPartial({
    cpu: { usage: { total: usageUsec * 1000n, user: userUsec * 1000n, kernel: systemUsec * 1000n } }
  })))
  const v2 = Either.getOrThrow(pack(AnyTypes.CgroupV2Metrics, Cgroup2.Metrics.fromPartial({
    cpu: { usageUsec, userUsec, systemUsec }
  })))
  return [Either.getOrThrow(decodeMetrics(v1)), Either.getOrThrow(decodeMetrics(v2))] as const
}

const usec = fc.bigInt({ min: 0n, max: 1n << 50n })

describe("a TaskStats sample", () => {
  it.prop(
    "reports the same CPU for the same usage on cgroup v1 (nanoseconds) and v2 (microseconds)",
    [usec, usec, usec, usec, fc.integer({ min: 1, max: 3_600_000 }), compute],
    ([total, more, user, system, wallMs, c]) => {
      const [before1, before2] = decodedPair(total, user, system)
      const [after1, after2] = decodedPair(total + more, user + more / 2n, system + more / 4n)
      const v1 = resourceUsage({ atMillis: 0, counters: before1 }, { atMillis: wallMs, counters: after1 }, c).cpu!
      const v2 = resourceUsage({ atMillis: 0, counters: before2 }, { atMillis: wallMs, counters: after2 }, c).cpu!
      expect(v2.percent).toBe(v1.percent)
      expect(v2.userMode).toBe(v1.userMode)
      expect(v2.systemMode).toBe(v1.systemMode)
      expect(v2.totalTicks).toBe(v1.totalTicks)
      expectNear(v1.percent, Number(more * 1000n) / (wallMs * 1e6) * 100)
    }
  )

  it.prop(
    "never reports negative CPU over any sequence of readings, restarts included",
    [fc.array(fc.tuple(counter, fc.integer({ min: 0, max: 10_000 })), { minLength: 2, maxLength: 20 }), compute],
    ([steps, c]) => {
      let atMillis = 0
      let previous: Sample | undefined
      for (const [total, gap] of steps) {
        atMillis += gap
        const current: Sample = { atMillis, counters: cpuOnly(total, total / 2n, total / 3n) }
        const cpu = resourceUsage(previous, current, c).cpu!
        for (const value of [cpu.percent, cpu.userMode, cpu.systemMode, cpu.totalTicks]) expect(value).toBeGreaterThanOrEqual(0)
        if (previous !== undefined && total < previous.counters.cpu!.totalNs) expect(cpu.percent).toBe(0)
        previous = current
      }
    }
  )

  it("measures from the restarted counter on the reading after a restart", () => {
    const at = (atMillis: number, totalNs: bigint): Sample => ({ atMillis, counters: cpuOnly(totalNs) })
    const afterRestart = resourceUsage(at(0, 9_000_000_000n), at(1000, 100_000_000n), twoCores).cpu!
    expect(afterRestart.percent).toBe(0)
    expect(resourceUsage(at(1000, 100_000_000n), at(2000, 600_000_000n), twoCores).cpu!.percent).toBe(50)
  })

  it("lists CPU rates only from the second reading, and total ticks only with a known node compute", () => {
    const first = resourceUsage(undefined, { atMillis: 0, counters: cpuOnly(1_000_000n) }, twoCores).cpu!
    expect(first.measuredFields).toEqual([])
    expect(first.percent).toBe(0)

    const previous: Sample = { atMillis: 0, counters: cpuOnly(0n) }
    const current: Sample = { atMillis: 2000, counters: cpuOnly(1_000_000_000n, 600_000_000n, 400_000_000n) }
    const second = resourceUsage(previous, current, twoCores).cpu!
    expect(second).toMatchObject({ percent: 50, userMode: 30, systemMode: 20, totalTicks: 1000 })
    expect(second.measuredFields).toEqual([
      CPUUsage_Fields.SYSTEM_MODE,
      CPUUsage_Fields.USER_MODE,
      CPUUsage_Fields.TOTAL_TICKS,
      CPUUsage_Fields.PERCENT
    ])
    const unknownNode = resourceUsage(previous, current, { totalMHz: 0, cores: 2 }).cpu!
    expect(unknownNode.measuredFields).not.toContain(CPUUsage_Fields.TOTAL_TICKS)
    expect(unknownNode.totalTicks).toBe(0)
  })

  it("lists throttling and exactly the memory values the cgroup reported", () => {
    const counters: CgroupCounters = {
      cgroupVersion: 2,
      cpu: { totalNs: 5n, userNs: 3n, systemNs: 2n, throttling: { periods: 7n, timeNs: 9_000n } },
      memory: {
        rss: 100n,
        cache: 200n,
        usage: 400n,
        maxUsage: undefined,
        swap: 0n,
        kernelUsage: undefined,
        kernelMaxUsage: undefined
      }
    }
    const usage = resourceUsage(undefined, { atMillis: 0, counters }, twoCores)
    expect(usage.cpu).toMatchObject({
      throttledPeriods: 7n,
      throttledTime: 9_000n,
      measuredFields: [CPUUsage_Fields.THROTTLED_PERIODS, CPUUsage_Fields.THROTTLED_TIME]
    })
    expect(usage.memory).toEqual({
      rss: 100n,
      cache: 200n,
      maxUsage: 0n,
      kernelUsage: 0n,
      kernelMaxUsage: 0n,
      usage: 400n,
      swap: 0n,
      measuredFields: [MemoryUsage_Fields.RSS, MemoryUsage_Fields.CACHE, MemoryUsage_Fields.USAGE, MemoryUsage_Fields.SWAP]
    })
  })

  it("always carries the task id, a timestamp and the aggregate usage, and survives the wire", () => {
    const stats = taskStats("task-1", undefined, { atMillis: 1_700_000_000_123, counters: { cgroupVersion: 1, cpu: undefined, memory: undefined } }, twoCores)
    expect(stats.id).toBe("task-1")
    expect(stats.timestamp).toEqual(new Date(1_700_000_000_123))
    expect(stats.aggResourceUsage?.cpu).toBeDefined()
    expect(stats.aggResourceUsage?.memory).toBeDefined()
    const back = TaskStats.decode(TaskStats.encode(stats).finish())
    expect(back.timestamp).toEqual(stats.timestamp)
    expect(back.aggResourceUsage).toEqual(stats.aggResourceUsage)
  })
})
