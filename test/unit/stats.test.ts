// The Stats service (layers/Stats.ts) on FakeContainerd, on the test clock: the interval rules, the first sample at
// once, skipped samples when a metrics call fails, the end of the stream when the task exits or the caller leaves,
// one shared Tasks.Metrics call per tick for many tasks, and node compute from Nomad's topology. The same service
// runs on the real containerd in test/integration/stats.test.ts.
import { it } from "@effect/vitest"
import { Chunk, Context, Duration, Effect, Either, Exit, Fiber, Layer, Queue, Stream, TestClock } from "effect"
import { describe, expect } from "vitest"
import type { ContainerdService } from "../../layers/Containerd.js"
import * as FakeContainerdLayer from "../../layers/FakeContainerd.js"
import { NodeConfig } from "../../layers/NodeConfig.js"
import { driverLayer } from "../../layers/Serve.js"
import * as StatsLayer from "../../layers/Stats.js"
import { Stats } from "../../layers/Stats.js"
import { Tasks } from "../../layers/Tasks.js"
import { AnyTypes, pack } from "../../src/containerd/any.js"
import * as Cgroup1 from "../../src/gen/github.com/containerd/cgroups/cgroup1/stats/metrics.js"
import * as Cgroup2 from "../../src/gen/github.com/containerd/cgroups/cgroup2/stats/metrics.js"
import type { NomadDriverConfig } from "../../src/gen/plugins/base/proto/base.js"
import { CoreGrade } from "../../src/gen/plugins/base/proto/base.js"
import { CPUUsage_Fields, type TaskStats } from "../../src/gen/plugins/drivers/proto/driver.js"
import * as Platform from "../../src/image/Platform.js"
import { fakeRegistry, makeImage } from "../support/fakeImages.js"
import { makeAllocation, pluginConfigBytes, taskConfig } from "../support/nomadTask.js"

const platform = Platform.host()
const image = makeImage("registry.test/team/app:1", [[
  { path: "bin", type: "dir" },
  { path: "bin/app", data: "#!app\n", mode: 0o755 }
]], { Env: ["PATH=/bin"], Cmd: ["/bin/app"] }, { platform })
const namespace = "nomad"
const hostCompute = { totalMHz: 1000, cores: 1 }

interface Options {
  readonly cgroupVersion?: 1 | 2
  readonly pluginConfig?: Record<string, unknown>
  readonly nomad?: NomadDriverConfig
}

/** The driver's services on FakeContainerd, with every Tasks.Metrics call's filters recorded. */
const fixture = (options: Options = {}) =>
  Effect.gen(function*() {
    const cgroupVersion = options.cgroupVersion ?? 1
    const fake = yield* FakeContainerdLayer.make({ namespace, cgroupVersion })
    const metricsCalls: Array<ReadonlyArray<string>> = []
    const containerd: ContainerdService = {
      ...fake.containerd,
      tasks: {
        ...fake.containerd.tasks,
        metrics: (request) => {
          metricsCalls.push([...(request.filters ?? [])])
          return fake.containerd.tasks.metrics(request)
        }
      }
    }
    const alloc = makeAllocation()
    yield* Effect.addFinalizer(() => Effect.sync(() => alloc.remove()))
    const layer = StatsLayer.layer({ hostCompute: Effect.succeed(hostCompute) }).pipe(
      Layer.provideMerge(driverLayer({
        node: {
          connect: () => Effect.succeed(containerd),
          registry: fakeRegistry([image]).layer,
          cgroupVersion,
          imageStore: { platform, progressInterval: "1 hour" }
        }
      }))
    )
    const context = yield* Layer.build(layer)
    yield* Context.get(context, NodeConfig).setConfig(pluginConfigBytes({ namespace, ...options.pluginConfig }), options.nomad).pipe(Effect.orDie)
    const tasks = Context.get(context, Tasks)
    const stats = Context.get(context, Stats)
    /** Starts a task `name` of the allocation; its containerd id. */
    const start = (name: string) =>
      Effect.gen(function*() {
        const config = taskConfig({ alloc, task: { name }, config: { image: "registry.test/team/app:1" } })
        yield* Effect.orDie(tasks.start(config))
        const { containerId } = yield* Effect.orDie(tasks.locate(config.id))
        return { taskId: config.id, containerId }
      })
    /** Runs the stream in the background; its samples arrive in `samples`, its end in `fiber`. */
    const watch = (taskId: string, interval: Duration.Duration | undefined) =>
      Effect.gen(function*() {
        const samples = yield* Queue.unbounded<TaskStats>()
        const fiber = yield* stats.stream(taskId, interval).pipe(
          Stream.runForEach((sample) => Queue.offer(samples, sample)),
          Effect.fork
        )
        return { samples, fiber }
      })
    const setCpu = (containerId: string, totalNs: bigint) =>
      fake.control.setMetrics(
        { containerId },
        cgroupVersion === 1
          ? Either.getOrThrow(pack(AnyTypes.CgroupV1Metrics, Cgroup1.Metrics.fromPartial({ cpu: { usage: { total: totalNs } } })))
          : Either.getOrThrow(pack(AnyTypes.CgroupV2Metrics, Cgroup2.Metrics.fromPartial({ cpu: { usageUsec: totalNs / 1000n } })))
      ).pipe(Effect.orDie)
    return { fake, tasks, stats, start, watch, setCpu, metricsCalls }
  })

const seconds = (n: number) => BigInt(n) * 1_000_000_000n

describe("TaskStats stream", () => {
  for (const cgroupVersion of [1, 2] as const) {
    it.scoped(`sends the first sample at once, then one per interval with CPU in percent of a core (cgroup v${cgroupVersion})`, () =>
      Effect.gen(function*() {
        const { setCpu, start, watch } = yield* fixture({ cgroupVersion })
        const { containerId, taskId } = yield* start("app")
        yield* setCpu(containerId, seconds(10))
        const { samples } = yield* watch(taskId, Duration.seconds(5))

        const first = yield* Queue.take(samples)
        expect(first.id).toBe(taskId)
        expect(first.timestamp?.getTime()).toBe(0)
        // No earlier reading: no rate is claimed.
        expect(first.aggResourceUsage?.cpu?.measuredFields).not.toContain(CPUUsage_Fields.PERCENT)

        yield* setCpu(containerId, seconds(10) + seconds(5) / 2n)
        yield* TestClock.adjust("5 seconds")
        const second = yield* Queue.take(samples)
        expect(second.timestamp?.getTime()).toBe(5000)
        expect(second.aggResourceUsage?.cpu?.percent).toBe(50)
        // No topology from Nomad: the host's compute (1 core, 1000 MHz here).
        expect(second.aggResourceUsage?.cpu?.totalTicks).toBe(500)

        yield* setCpu(containerId, seconds(10) + seconds(5) / 2n + seconds(10))
        yield* TestClock.adjust("5 seconds")
        expect((yield* Queue.take(samples)).aggResourceUsage?.cpu?.percent).toBe(200)
      }))
  }

  it.scoped("samples at the plugin's stats_interval when it is set, whatever Nomad asks for", () =>
    Effect.gen(function*() {
      const { start, watch } = yield* fixture({ pluginConfig: { stats_interval: "2s" } })
      const { taskId } = yield* start("app")
      const { samples } = yield* watch(taskId, Duration.seconds(30))
      yield* Queue.take(samples)
      yield* TestClock.adjust("2 seconds")
      expect((yield* Queue.take(samples)).timestamp?.getTime()).toBe(2000)
    }))

  it.scoped("samples every second when Nomad sends no interval", () =>
    Effect.gen(function*() {
      const { start, watch } = yield* fixture()
      const { taskId } = yield* start("app")
      const { samples } = yield* watch(taskId, undefined)
      yield* Queue.take(samples)
      yield* TestClock.adjust("1 second")
      expect((yield* Queue.take(samples)).timestamp?.getTime()).toBe(1000)
    }))

  it.scoped("gives a caller that does not keep up the newest sample, not a backlog", () =>
    Effect.gen(function*() {
      const { stats, start } = yield* fixture()
      const { taskId } = yield* start("app")
      const pull = yield* Stream.toPull(stats.stream(taskId, Duration.seconds(1)))
      const timestamps = (chunk: Chunk.Chunk<TaskStats>) => Chunk.toReadonlyArray(chunk).map((s) => s.timestamp?.getTime())
      expect(timestamps(yield* pull)).toEqual([0])
      // Five ticks while nobody asks: only the last one's sample is kept.
      yield* TestClock.adjust("5 seconds")
      expect(timestamps(yield* pull)).toEqual([5000])
      yield* TestClock.adjust("1 second")
      expect(timestamps(yield* pull)).toEqual([6000])
    }))

  it.scoped("skips the sample of a failed metrics call and goes on", () =>
    Effect.gen(function*() {
      const { fake, start, watch } = yield* fixture()
      const { taskId } = yield* start("app")
      const { fiber, samples } = yield* watch(taskId, Duration.seconds(1))
      yield* Queue.take(samples)
      yield* fake.control.failNext("Tasks.Metrics", "Unavailable", "connection refused")
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      const next = yield* Queue.take(samples)
      expect(next.timestamp?.getTime()).toBe(2000)
      expect(fiber.unsafePoll()).toBeNull()
    }))

  it.scoped("skips a payload it cannot decode and goes on", () =>
    Effect.gen(function*() {
      const { fake, setCpu, start, watch } = yield* fixture()
      const { containerId, taskId } = yield* start("app")
      yield* setCpu(containerId, seconds(1))
      const { samples } = yield* watch(taskId, Duration.seconds(1))
      yield* Queue.take(samples)
      yield* fake.control.setMetrics({ containerId }, { typeUrl: "io.containerd.cgroups.v3.Metrics", value: Buffer.alloc(0) }).pipe(Effect.orDie)
      yield* TestClock.adjust("1 second")
      yield* setCpu(containerId, seconds(2))
      yield* TestClock.adjust("1 second")
      const next = yield* Queue.take(samples)
      expect(next.timestamp?.getTime()).toBe(2000)
      // Measured against the last sample it could read.
      expect(next.aggResourceUsage?.cpu?.percent).toBe(50)
    }))

  it.scoped("ends when the task exits", () =>
    Effect.gen(function*() {
      const { fake, start, watch } = yield* fixture()
      const { containerId, taskId } = yield* start("app")
      const { fiber, samples } = yield* watch(taskId, Duration.seconds(1))
      yield* Queue.take(samples)
      yield* fake.control.exitProcess({ containerId, exitStatus: 0 })
      expect(Exit.isSuccess(yield* Fiber.await(fiber))).toBe(true)
    }))

  it.scoped("fails for a task the driver does not know", () =>
    Effect.gen(function*() {
      const { stats } = yield* fixture()
      const error = yield* Effect.flip(Stream.runDrain(stats.stream("no-such-task", undefined)))
      expect(error.reason).toBe("UnknownTask")
    }))

  it.scoped("reads many tasks with one Tasks.Metrics call per tick, and stops calling when the callers go away", () =>
    Effect.gen(function*() {
      const { metricsCalls, start, watch } = yield* fixture()
      const started = yield* Effect.forEach(["a", "b", "c"], start)
      const watched = yield* Effect.forEach(started, ({ taskId }) => watch(taskId, Duration.seconds(1)))
      yield* Effect.forEach(watched, ({ samples }) => Queue.take(samples))
      // Each stream's first sample is its own call.
      expect(metricsCalls).toHaveLength(3)

      yield* TestClock.adjust("1 second")
      yield* Effect.forEach(watched, ({ samples }) => Queue.take(samples))
      expect(metricsCalls).toHaveLength(4)
      expect([...metricsCalls[3]!].sort()).toEqual(started.map(({ containerId }) => `id==${containerId}`).sort())

      // A caller that goes away is no longer read for; the last one stops the timer.
      yield* Fiber.interrupt(watched[0]!.fiber)
      yield* TestClock.adjust("1 second")
      yield* Effect.forEach(watched.slice(1), ({ samples }) => Queue.take(samples))
      expect(metricsCalls).toHaveLength(5)
      expect(metricsCalls[4]).not.toContain(`id==${started[0]!.containerId}`)
      yield* Effect.forEach(watched.slice(1), ({ fiber }) => Fiber.interrupt(fiber))
      yield* TestClock.adjust("10 seconds")
      expect(metricsCalls).toHaveLength(5)
    }))

  it.scoped("keeps streams of different intervals on their own ticks", () =>
    Effect.gen(function*() {
      const { start, watch } = yield* fixture()
      const { taskId } = yield* start("app")
      const fast = yield* watch(taskId, Duration.seconds(1))
      const slow = yield* watch(taskId, Duration.seconds(3))
      yield* Queue.take(fast.samples)
      yield* Queue.take(slow.samples)
      yield* TestClock.adjust("3 seconds")
      const fastTimes = [yield* Queue.take(fast.samples), yield* Queue.take(fast.samples), yield* Queue.take(fast.samples)]
        .map((s) => s.timestamp?.getTime())
      expect(fastTimes).toEqual([1000, 2000, 3000])
      expect((yield* Queue.take(slow.samples)).timestamp?.getTime()).toBe(3000)
    }))

  it.scoped("computes total ticks from the CPU topology Nomad sent in SetConfig", () =>
    Effect.gen(function*() {
      const core = (id: number) => ({
        socketId: 0,
        nodeId: 0,
        coreId: id,
        coreGrade: CoreGrade.Performance,
        disable: false,
        baseSpeed: 3000n,
        maxSpeed: 0n,
        guessSpeed: 0n
      })
      const nomad: NomadDriverConfig = {
        ClientMaxPort: 14512,
        ClientMinPort: 14000,
        Topology: { nodeIds: [0], distances: undefined, cores: [0, 1, 2, 3].map(core), overrideTotalCompute: 0n, overrideWitholdCompute: 0n }
      }
      const { setCpu, start, watch } = yield* fixture({ nomad })
      const { containerId, taskId } = yield* start("app")
      yield* setCpu(containerId, seconds(1))
      const { samples } = yield* watch(taskId, Duration.seconds(1))
      yield* Queue.take(samples)
      yield* setCpu(containerId, seconds(2))
      yield* TestClock.adjust("1 second")
      const cpu = (yield* Queue.take(samples)).aggResourceUsage?.cpu
      expect(cpu?.percent).toBe(100)
      // One core of 4 × 3000 MHz.
      expect(cpu?.totalTicks).toBe(3000)
    }))
})
