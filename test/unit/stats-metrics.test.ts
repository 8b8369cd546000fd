// Decoding containerd's Tasks.Metrics payloads (src/stats/CgroupCounters.ts), field by field: cgroup v1 built
// from containerd/cgroups' documented types and recorded from this project's real containerd (cgroup v1 host,
// see test/fixtures/metrics/README.md), and cgroup v2 built from its documented types (1.x and 2.x shapes).
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { AnyTypes, pack } from "../../src/containerd/any.js"
import * as Cgroup1 from "../../src/gen/github.com/containerd/cgroups/cgroup1/stats/metrics.js"
import * as Cgroup2 from "../../src/gen/github.com/containerd/cgroups/cgroup2/stats/metrics.js"
import { CPUUsage_Fields, MemoryUsage_Fields } from "../../src/gen/plugins/drivers/proto/driver.js"
import { decodeMetrics } from "../../src/stats/CgroupCounters.js"
import { resourceUsage } from "../../src/stats/TaskUsage.js"

const fixtures = path.join(import.meta.dirname, "..", "fixtures", "metrics")
const unlimited = 9223372036854771712n

const decodedV1 = (metrics: Cgroup1.DeepPartial<Cgroup1.Metrics>) =>
  Either.getOrThrow(decodeMetrics(Either.getOrThrow(pack(AnyTypes.CgroupV1Metrics, Cgroup1.Metrics.fromPartial(metrics)))))
const decodedV2 = (metrics: Cgroup2.DeepPartial<Cgroup2.Metrics>) =>
  Either.getOrThrow(decodeMetrics(Either.getOrThrow(pack(AnyTypes.CgroupV2Metrics, Cgroup2.Metrics.fromPartial(metrics)))))

describe("cgroup v1 metrics", () => {
  it("decode the recorded payload of a busy busybox task, field by field", () => {
    const meta = JSON.parse(fs.readFileSync(path.join(fixtures, "cgroup1-busybox.json"), "utf8")) as { typeUrl: string }
    const data = { typeUrl: meta.typeUrl, value: fs.readFileSync(path.join(fixtures, "cgroup1-busybox.bin")) }
    const counters = Either.getOrThrow(decodeMetrics(data))
    expect(counters).toEqual({
      cgroupVersion: 1,
      cpu: {
        totalNs: 973140535n,
        userNs: 820000000n,
        systemNs: 140000000n,
        throttling: { periods: 1n, timeNs: 48702526n }
      },
      memory: {
        rss: 8273920n,
        cache: 4005888n,
        usage: 12664832n,
        maxUsage: 17104896n,
        // memsw usage equals usage: memory + no swap.
        swap: 0n,
        kernelUsage: 385024n,
        kernelMaxUsage: 737280n
      }
    })
  })

  it("take CPU times in nanoseconds, throttled periods and time, and the memory counters containerd names", () => {
    const counters = decodedV1({
      cpu: {
        usage: { total: 3_000_000_000n, user: 2_000_000_000n, kernel: 990_000_000n, perCpu: [1n, 2n] },
        throttling: { periods: 50n, throttledPeriods: 12n, throttledTime: 345_000n }
      },
      memory: {
        rss: 11n,
        cache: 22n,
        totalRss: 999n,
        usage: { usage: 1000n, max: 1500n, limit: 4096n },
        swap: { usage: 1300n, max: 1800n, limit: unlimited },
        kernel: { usage: 33n, max: 44n, limit: unlimited }
      }
    })
    expect(counters.cpu).toEqual({
      totalNs: 3_000_000_000n,
      userNs: 2_000_000_000n,
      systemNs: 990_000_000n,
      throttling: { periods: 12n, timeNs: 345_000n }
    })
    expect(counters.memory).toEqual({
      rss: 11n,
      cache: 22n,
      usage: 1000n,
      maxUsage: 1500n,
      swap: 300n,
      kernelUsage: 33n,
      kernelMaxUsage: 44n
    })
  })

  it("report no swap or kernel memory when their files were absent (entries left zeroed), and never negative swap", () => {
    const counters = decodedV1({
      cpu: { usage: { total: 1n } },
      memory: { rss: 1n, usage: { usage: 5000n, limit: unlimited }, swap: {}, kernel: {} }
    })
    expect(counters.memory).toMatchObject({ swap: undefined, kernelUsage: undefined, kernelMaxUsage: undefined })
    expect(counters.cpu?.throttling).toBeUndefined()
    const usage = resourceUsage(undefined, { atMillis: 0, counters }, { totalMHz: 1, cores: 1 })
    expect(usage.memory?.measuredFields).toEqual([
      MemoryUsage_Fields.RSS,
      MemoryUsage_Fields.CACHE,
      MemoryUsage_Fields.MAX_USAGE,
      MemoryUsage_Fields.USAGE
    ])
    // memsw read a moment before memory.usage: smaller than usage.
    const racing = decodedV1({ memory: { usage: { usage: 5000n, limit: unlimited }, swap: { usage: 4000n, limit: unlimited } } })
    expect(racing.memory?.swap).toBe(0n)
  })
})

describe("cgroup v2 metrics", () => {
  const v2Payload = {
    cpu: { usageUsec: 3_000_000n, userUsec: 2_000_000n, systemUsec: 990_000n, nrPeriods: 50n, nrThrottled: 12n, throttledUsec: 345n },
    memory: {
      anon: 11n,
      file: 22n,
      kernelStack: 5n,
      slab: 6n,
      usage: 1000n,
      usageLimit: 4096n,
      swapUsage: 300n,
      swapLimit: unlimited
    }
  }

  it("take CPU times in microseconds (× 1000), throttling, and anon/file as RSS/cache (containerd 1.x shape)", () => {
    const counters = decodedV2(v2Payload)
    expect(counters).toEqual({
      cgroupVersion: 2,
      cpu: {
        totalNs: 3_000_000_000n,
        userNs: 2_000_000_000n,
        systemNs: 990_000_000n,
        throttling: { periods: 12n, timeNs: 345_000n }
      },
      memory: {
        rss: 11n,
        cache: 22n,
        usage: 1000n,
        // memory.peak: only containerd 2.x reads it.
        maxUsage: undefined,
        swap: 300n,
        kernelUsage: undefined,
        kernelMaxUsage: undefined
      }
    })
    const usage = resourceUsage(undefined, { atMillis: 0, counters }, { totalMHz: 1, cores: 1 })
    expect(usage.memory?.measuredFields).toEqual([
      MemoryUsage_Fields.RSS,
      MemoryUsage_Fields.CACHE,
      MemoryUsage_Fields.USAGE,
      MemoryUsage_Fields.SWAP
    ])
    expect(usage.cpu?.measuredFields).toEqual([CPUUsage_Fields.THROTTLED_PERIODS, CPUUsage_Fields.THROTTLED_TIME])
  })

  it("report max usage from containerd 2.x's memory.peak", () => {
    const counters = decodedV2({ ...v2Payload, memory: { ...v2Payload.memory, maxUsage: 2048n, swapMaxUsage: 10n } })
    expect(counters.memory?.maxUsage).toBe(2048n)
  })

  it("one busy core reads as 100 percent, not 0.1 (the original driver's v2 bug)", () => {
    const before = decodedV2({ cpu: { usageUsec: 10_000_000n } })
    const after = decodedV2({ cpu: { usageUsec: 11_000_000n } })
    const cpu = resourceUsage({ atMillis: 0, counters: before }, { atMillis: 1000, counters: after }, { totalMHz: 4000, cores: 2 }).cpu
    expect(cpu?.percent).toBe(100)
    expect(cpu?.totalTicks).toBe(2000)
  })
})

describe("other payloads", () => {
  it("fail with a typed error naming what came instead", () => {
    const other = { typeUrl: AnyTypes.RuncOptions.typeUrl, value: Buffer.alloc(0) }
    const result = decodeMetrics(other)
    expect(Either.isLeft(result) && result.left.message).toContain("got containerd.runc.v1.Options")
    expect(Either.isLeft(decodeMetrics(undefined))).toBe(true)
    const malformed = decodeMetrics({ typeUrl: AnyTypes.CgroupV2Metrics.typeUrl, value: Buffer.from([0xff, 0xff, 0xff]) })
    expect(Either.isLeft(malformed) && malformed.left.reason).toBe("Malformed")
  })
})
