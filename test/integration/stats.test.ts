// Resource usage of real tasks on the real containerd, through the Stats service (layers/Stats.ts) built in-process
// with the driver's services (as the plugin wires them), on this host's cgroup version, with the loopback test
// registry's busybox: a CPU-bound task reports about one core, a task that grows its memory shows it, an idle task
// reports near zero, and a stream ends when its task exits.
import { Duration, Effect, Layer, ManagedRuntime, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Containerd from "../../layers/Containerd.js"
import { NodeConfig } from "../../layers/NodeConfig.js"
import { driverLayer } from "../../layers/Serve.js"
import * as StatsLayer from "../../layers/Stats.js"
import { Stats } from "../../layers/Stats.js"
import { Tasks } from "../../layers/Tasks.js"
import { CPUUsage_Fields, MemoryUsage_Fields, type TaskStats } from "../../src/gen/plugins/drivers/proto/driver.js"
import { cleanupNamespace, uniqueNamespace } from "../support/containerdContract.js"
import { type Allocation, makeAllocation, pluginConfigBytes, taskConfig } from "../support/nomadTask.js"
import { integrationEnv } from "./env.js"

const namespace = uniqueNamespace("cdd-stats")
const busybox = `${integrationEnv.registry}/test/busybox:latest`
const allocations: Array<Allocation> = []
const started: Array<string> = []

const runtime = ManagedRuntime.make(StatsLayer.layer().pipe(Layer.provideMerge(driverLayer())))
const run = <A, E>(effect: Effect.Effect<A, E, Tasks | Stats | NodeConfig>) => runtime.runPromise(effect)

/** Starts a busybox task running `script` with sh; its Nomad task id. */
const startTask = (name: string, script: string) =>
  run(Effect.gen(function*() {
    const alloc = makeAllocation()
    allocations.push(alloc)
    const config = taskConfig({ alloc, task: alloc.task(name), config: { image: busybox, command: "sh", args: ["-c", script] } })
    yield* (yield* Tasks).start(config)
    started.push(config.id)
    return config.id
  }))

/** Samples at 1 s until `done` holds for one (at most `max` samples). */
const samplesUntil = (taskId: string, done: (sample: TaskStats, all: ReadonlyArray<TaskStats>) => boolean, max: number) =>
  run(Effect.gen(function*() {
    const stats = yield* Stats
    const seen: Array<TaskStats> = []
    yield* stats.stream(taskId, Duration.seconds(1)).pipe(
      Stream.take(max),
      Stream.takeUntil((sample) => {
        seen.push(sample)
        return done(sample, seen)
      }),
      Stream.runDrain
    )
    return seen
  }))

const cpuPercents = (samples: ReadonlyArray<TaskStats>) =>
  samples.filter((s) => s.aggResourceUsage?.cpu?.measuredFields.includes(CPUUsage_Fields.PERCENT))
    .map((s) => s.aggResourceUsage!.cpu!.percent)

const mean = (values: ReadonlyArray<number>) => values.reduce((a, b) => a + b, 0) / values.length

beforeAll(async () => {
  await run(Effect.flatMap(NodeConfig, (node) =>
    node.setConfig(pluginConfigBytes({ containerd_address: integrationEnv.containerdAddress, namespace }))))
})

afterAll(async () => {
  // The driver's own clean-up first (container, snapshot, lease), then whatever else the namespace holds.
  await run(Effect.flatMap(Tasks, (tasks) => Effect.forEach(started, (id) => Effect.ignore(tasks.destroy(id, true)))))
  await runtime.dispose()
  for (const alloc of allocations) alloc.remove()
  await Effect.runPromise(
    cleanupNamespace(namespace).pipe(Effect.provide(Containerd.layer({ address: integrationEnv.containerdAddress, namespace })))
  )
})

describe("TaskStats on the real containerd", () => {
  it("reports about one core for a CPU-bound task, near zero for an idle one", async () => {
    const [busy, idle] = await Promise.all([
      startTask("busy", "while :; do :; done"),
      startTask("idle", "sleep 3600")
    ])
    // Five samples: the first has no rate, the next four each cover one second.
    const [busySamples, idleSamples] = await Promise.all([
      samplesUntil(busy, () => false, 5),
      samplesUntil(idle, () => false, 5)
    ])
    const busyPercents = cpuPercents(busySamples)
    expect(busyPercents).toHaveLength(4)
    expect(mean(busyPercents)).toBeGreaterThan(50)
    expect(mean(busyPercents)).toBeLessThan(150)
    const last = busySamples.at(-1)!.aggResourceUsage!.cpu!
    expect(last.userMode + last.systemMode).toBeGreaterThan(0)
    expect(last.measuredFields).toEqual(expect.arrayContaining([
      CPUUsage_Fields.PERCENT,
      CPUUsage_Fields.SYSTEM_MODE,
      CPUUsage_Fields.USER_MODE,
      CPUUsage_Fields.TOTAL_TICKS
    ]))
    expect(last.totalTicks).toBeGreaterThan(0)

    const idlePercents = cpuPercents(idleSamples)
    expect(idlePercents).toHaveLength(4)
    expect(Math.max(...idlePercents)).toBeLessThan(5)
  })

  it("shows a task's memory growing in its usage and RSS", async () => {
    // The variable is used after the sleep, so the shell cannot exec the sleep in its own place and drop it.
    const taskId = await startTask("grow", "sleep 1; a=$(head -c 64000000 /dev/zero | tr '\\0' x); sleep 3600; test -n \"$a\"")
    const grown = 48_000_000n
    // Usage leads RSS while the shell is still copying (page cache, kernel memory): both are waited for.
    const memory = (sample: TaskStats) => sample.aggResourceUsage!.memory!
    const samples = await samplesUntil(
      taskId,
      (sample, all) =>
        memory(sample).usage >= memory(all[0]!).usage + grown && memory(sample).rss >= memory(all[0]!).rss + grown,
      60
    )
    const first = memory(samples[0]!)
    const last = memory(samples.at(-1)!)
    const seen = samples.map((s) => `${memory(s).usage}/${memory(s).rss}`).join(" ")
    expect(last.usage, `usage/rss seen: ${seen}`).toBeGreaterThanOrEqual(first.usage + grown)
    expect(last.rss, `usage/rss seen: ${seen}`).toBeGreaterThanOrEqual(first.rss + grown)
    expect(last.measuredFields).toEqual(expect.arrayContaining([MemoryUsage_Fields.RSS, MemoryUsage_Fields.USAGE, MemoryUsage_Fields.CACHE]))
  })

  it("ends the stream when the task exits", async () => {
    const taskId = await startTask("short", "sleep 2")
    const samples = await samplesUntil(taskId, () => false, 60)
    expect(samples.length).toBeGreaterThan(0)
    expect(samples.length).toBeLessThan(60)
    await run(Effect.flatMap(Tasks, (tasks) => tasks.wait(taskId)))
  })
})
