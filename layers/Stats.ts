/**
 * Stats: a running task's resource usage as Nomad's TaskStats stream (one sample per interval; CPU as percent of
 * one core and as MHz, memory in bytes). Readings come from containerd's Tasks.Metrics through the shared poller
 * (layers/stats/Poller.ts); the arithmetic is pure (src/stats). A stream samples every `stats_interval` of the
 * plugin config when set, else at the interval Nomad asks for, else every second; its first sample comes at once.
 * A failed metrics call skips a sample: the stream ends only when the task exits, when the driver no longer knows
 * the task, or when the caller goes away.
 */
import { Context, Duration, Effect, Layer, Option, Stream } from "effect"
import { statsInterval } from "../src/config/DriverConfig.js"
import type { TaskStats } from "../src/gen/plugins/drivers/proto/driver.js"
import { decodeMetrics } from "../src/stats/CgroupCounters.js"
import { fromTopology, type NodeCompute } from "../src/stats/NodeCompute.js"
import { type Sample, taskStats } from "../src/stats/TaskUsage.js"
import { inNamespace } from "./Containerd.js"
import { NodeConfig } from "./NodeConfig.js"
import { hostCompute } from "./stats/hostCompute.js"
import * as Poller from "./stats/Poller.js"
import { type TaskError, Tasks } from "./Tasks.js"

export class Stats extends Context.Tag("containerd-driver/Stats")<Stats, {
  /**
   * The task's usage every interval (`interval`: Nomad's collection_interval, if it sent one). Fails only when
   * the task is unknown; ends when the task exits or is forgotten.
   */
  readonly stream: (taskId: string, interval: Duration.Duration | undefined) => Stream.Stream<TaskStats, TaskError>
}>() {}

export interface Options {
  /** The node's compute when Nomad sent no CPU topology. Default: what the host reports. */
  readonly hostCompute?: Effect.Effect<NodeCompute>
}

const defaultInterval = Duration.seconds(1)

/** A stream's end: the task exited, or the driver no longer knows it. */
const endOfStream: Effect.Effect<never, Option.Option<never>> = Effect.fail(Option.none())

export const make = (options: Options = {}) =>
  Effect.gen(function*() {
    const tasks = yield* Tasks
    const nodeConfig = yield* NodeConfig

    const poller = yield* Poller.make((namespace, containerIds) =>
      nodeConfig.node.pipe(
        Effect.flatMap((node) => node.containerd.tasks.metrics({ filters: Poller.idFilters(containerIds) })),
        Effect.map((response) => response.metrics),
        inNamespace(namespace)
      )
    )

    const fromHost = yield* Effect.cached(
      (options.hostCompute ?? hostCompute).pipe(
        Effect.tap((compute) =>
          Effect.logInfo(
            `Nomad sent no CPU topology: total_ticks use the host's ${compute.cores} cores and ${compute.totalMHz} MHz in total`
          )
        )
      )
    )
    const nodeCompute = Effect.flatMap(nodeConfig.nomad, (nomad) =>
      Option.match(Option.flatMap(nomad, (config) => fromTopology(config.Topology)), {
        onSome: Effect.succeed,
        onNone: () => fromHost
      }))

    const intervalFor = (requested: Duration.Duration | undefined) =>
      Effect.map(nodeConfig.active, (active) => {
        const configured = Option.flatMapNullable(active, ({ config }) => statsInterval(config))
        if (Option.isSome(configured)) return Duration.millis(configured.value)
        return requested !== undefined && Duration.greaterThan(requested, Duration.zero) ? requested : defaultInterval
      })

    const stream = (taskId: string, requested: Duration.Duration | undefined): Stream.Stream<TaskStats, TaskError> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const location = yield* tasks.locate(taskId)
        const interval = yield* intervalFor(requested)
        const compute = yield* nodeCompute
        // A shared tick right after the first reading would measure CPU over a sliver of time: samples are kept at
        // least half an interval apart.
        const minimumGapMillis = Duration.toMillis(interval) / 2
        const annotate = Effect.annotateLogs({ task_id: taskId })

        // Each reading becomes a sample inside the poller's tick (no fiber, queue or stream stage per task: those
        // cost several times the sample itself, bench/cases/fleet.mjs), and the latest sample waits here for the
        // caller: one that does not keep up gets the newest sample, not a backlog (as Docker's driver drops
        // samples); its CPU rate covers the interval before it.
        let previous: Sample | undefined
        let warned = false
        /** Readings are taken once the first one (read at once, below) is in. */
        let open = false
        let ended = false
        let pending: TaskStats | undefined
        let waiting: ((next: Effect.Effect<TaskStats, Option.Option<never>>) => void) | undefined
        const deliver = () => {
          if (waiting === undefined) return
          const resume = waiting
          if (pending !== undefined) {
            const sample = pending
            pending = undefined
            waiting = undefined
            resume(Effect.succeed(sample))
          } else if (ended) {
            waiting = undefined
            resume(endOfStream)
          }
        }
        const end = () => {
          ended = true
          deliver()
        }
        const onReading = (reading: Poller.Reading): Effect.Effect<void> => {
          if (!open || ended) return Effect.void
          if (reading._tag !== "Metric") {
            // Nothing to report this time; a task the driver has forgotten will never report again.
            return Effect.flatMap(Effect.isSuccess(tasks.locate(taskId)), (known) => (known ? Effect.void : Effect.sync(end)))
          }
          const decoded = decodeMetrics(reading.data)
          if (decoded._tag === "Left") {
            if (warned) return Effect.void
            warned = true
            return annotate(Effect.logWarning(`cannot read the task's metrics: ${decoded.left.message}`))
          }
          if (previous !== undefined && reading.atMillis - previous.atMillis < minimumGapMillis) return Effect.void
          const current: Sample = { atMillis: reading.atMillis, counters: decoded.right }
          pending = taskStats(taskId, previous, current, compute)
          previous = current
          deliver()
          return Effect.void
        }

        yield* poller.watch(location.namespace, interval, location.containerId, onReading)
        const first = yield* poller.readNow(location.namespace, location.containerId)
        yield* Effect.suspend(() => {
          open = true
          return onReading(first)
        })
        yield* Effect.forkScoped(Effect.andThen(location.exited, Effect.sync(end)))

        const next = Effect.async<TaskStats, Option.Option<never>>((resume) => {
          waiting = resume
          deliver()
          return Effect.sync(() => {
            if (waiting === resume) waiting = undefined
          })
        })
        return Stream.repeatEffectOption(next)
      }))

    return Stats.of({ stream })
  })

export const layer = (options: Options = {}): Layer.Layer<Stats, never, Tasks | NodeConfig> =>
  Layer.scoped(Stats, make(options))
