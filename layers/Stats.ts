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

interface StreamState {
  readonly previous: Sample | undefined
  /** An undecodable payload is logged once per stream, not every interval. */
  readonly warned: boolean
}

type Step =
  | { readonly _tag: "Emit"; readonly stats: TaskStats }
  | { readonly _tag: "Skip" }
  | { readonly _tag: "End" }

const skip: Step = { _tag: "Skip" }

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
        const shared = yield* poller.subscribe(location.namespace, interval, location.containerId)
        const first = yield* poller.readNow(location.namespace, location.containerId)
        // A shared tick right after the first reading (or an older one still queued) would measure CPU over a
        // sliver of time: samples are kept at least half an interval apart.
        const minimumGapMillis = Duration.toMillis(interval) / 2

        const step = (state: StreamState, reading: Poller.Reading): Effect.Effect<readonly [StreamState, Step]> => {
          if (reading._tag !== "Metric") {
            // Nothing to report this time; a task the driver has forgotten will never report again.
            return Effect.map(Effect.isSuccess(tasks.locate(taskId)), (known) => [state, known ? skip : { _tag: "End" }])
          }
          const decoded = decodeMetrics(reading.data)
          if (decoded._tag === "Left") {
            return Effect.as(
              state.warned ? Effect.void : Effect.logWarning(`cannot read the task's metrics: ${decoded.left.message}`),
              [{ ...state, warned: true }, skip]
            )
          }
          const { previous } = state
          if (previous !== undefined && reading.atMillis - previous.atMillis < minimumGapMillis) {
            return Effect.succeed([state, skip])
          }
          const current: Sample = { atMillis: reading.atMillis, counters: decoded.right }
          return Effect.succeed([
            { ...state, previous: current },
            { _tag: "Emit", stats: taskStats(taskId, previous, current, compute) }
          ])
        }

        return Stream.make(first).pipe(
          Stream.concat(Stream.fromQueue(shared)),
          Stream.mapAccumEffect({ previous: undefined, warned: false } as StreamState, (state, reading) =>
            Effect.annotateLogs(step(state, reading), { task_id: taskId })),
          Stream.takeWhile((s) => s._tag !== "End"),
          Stream.filterMap((s) => (s._tag === "Emit" ? Option.some(s.stats) : Option.none())),
          Stream.interruptWhen(location.exited)
        )
      }))

    return Stats.of({ stream })
  })

export const layer = (options: Options = {}): Layer.Layer<Stats, never, Tasks | NodeConfig> =>
  Layer.scoped(Stats, make(options))
