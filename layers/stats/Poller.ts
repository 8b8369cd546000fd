/**
 * Shared metrics polling: every stats stream of the same containerd namespace and interval is served by one timer
 * and one Tasks.Metrics call per tick, filtered to the containers being watched, instead of a timer and a call per
 * stream — for 100 tasks about a tenth of the client's CPU (bench/stats-poll.mjs). containerd reads the tasks of a
 * call one after the other, so a large group is split into calls of at most `maxIdsPerCall` ids, a few at a time,
 * to keep a tick well within its interval. A group starts with its first watcher and stops with its last. A
 * watcher's callback runs in the tick itself, so one tick turns every container's reading into its sample without
 * a fiber or queue per container (a fiber woken per stream per tick cost more than the calls themselves).
 */
import { Array as Arr, Clock, Duration, Effect, Fiber, Schedule, type Scope } from "effect"
import type { Metric } from "../../src/gen/github.com/containerd/containerd/api/types/metrics.js"
import type { Any } from "../../src/gen/google/protobuf/any.js"

/** What one tick found for one container. */
export type Reading =
  /** containerd read the task's cgroup at `atMillis`. */
  | { readonly _tag: "Metric"; readonly atMillis: number; readonly data: Any | undefined }
  /** The call worked but had no entry for the container (its task is gone, or its shim did not answer). */
  | { readonly _tag: "Absent" }
  /** The call failed (logged once by the poller). */
  | { readonly _tag: "Failed"; readonly message: string }

/** One Tasks.Metrics call in `namespace` for the given container ids. */
export type FetchMetrics = (
  namespace: string,
  containerIds: ReadonlyArray<string>
) => Effect.Effect<ReadonlyArray<Metric>, { readonly message: string }>

/** Called in the tick with the container's reading; it must not block (the tick waits for it). */
export type OnReading = (reading: Reading) => Effect.Effect<void>

export interface Poller {
  /** `onReading` with the container's reading every `interval`, until the scope closes; the first after one interval. */
  readonly watch: (
    namespace: string,
    interval: Duration.Duration,
    containerId: string,
    onReading: OnReading
  ) => Effect.Effect<void, never, Scope.Scope>
  /** A reading now, outside the shared ticks (a new stream's first sample). */
  readonly readNow: (namespace: string, containerId: string) => Effect.Effect<Reading>
}

interface Group {
  readonly namespace: string
  readonly watchers: Map<string, Set<OnReading>>
  fiber: Fiber.RuntimeFiber<void> | undefined
  /** Whether the last call failed: a failure is logged when it starts, and again when calls work again. */
  failing: boolean
}

/** One `id==` filter per container: containerd ORs the strings of a request's `filters`. */
export const idFilters = (containerIds: ReadonlyArray<string>): ReadonlyArray<string> =>
  containerIds.map((id) => `id==${id}`)

const maxIdsPerCall = 64
const concurrentCalls = 4

const readings = (
  containerIds: ReadonlyArray<string>,
  metrics: ReadonlyArray<Metric>,
  nowMillis: number
): Map<string, Reading> => {
  const byId = new Map(metrics.map((metric) => [metric.id, metric]))
  return new Map(containerIds.map((id): [string, Reading] => {
    const metric = byId.get(id)
    return [id, metric === undefined
      ? { _tag: "Absent" }
      // containerd stamps each task's entry just before reading its cgroup: the right time to pair with it.
      : { _tag: "Metric", atMillis: metric.timestamp?.getTime() ?? nowMillis, data: metric.data }]
  }))
}

export const make = (fetch: FetchMetrics): Effect.Effect<Poller, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const lock = yield* Effect.makeSemaphore(1)
    const groups = new Map<string, Group>()

    const poll = (namespace: string, containerIds: ReadonlyArray<string>) =>
      fetch(namespace, containerIds).pipe(
        Effect.either,
        Effect.flatMap((result) => Effect.map(Clock.currentTimeMillis, (now) => ({ containerIds, result, now })))
      )

    const tick = (group: Group) =>
      Effect.gen(function*() {
        const ids = [...group.watchers.keys()]
        if (ids.length === 0) return
        const calls = yield* Effect.forEach(Arr.chunksOf(ids, maxIdsPerCall), (chunk) => poll(group.namespace, chunk), {
          concurrency: concurrentCalls
        })
        const failure = calls.find((call) => call.result._tag === "Left")?.result
        if (failure?._tag === "Left" && !group.failing) {
          yield* Effect.logWarning(`cannot read task metrics (stats samples are skipped until it works again): ${failure.left.message}`)
        }
        if (failure === undefined && group.failing) yield* Effect.logInfo("task metrics can be read again")
        group.failing = failure !== undefined
        const byId = new Map<string, Reading>()
        for (const { containerIds, now, result } of calls) {
          if (result._tag === "Left") {
            for (const id of containerIds) byId.set(id, { _tag: "Failed", message: result.left.message })
          } else {
            for (const [id, reading] of readings(containerIds, result.right, now)) byId.set(id, reading)
          }
        }
        // Watchers that joined or left during the calls are simply included or not.
        for (const [id, watchers] of group.watchers) {
          const reading = byId.get(id)
          if (reading === undefined) continue
          for (const onReading of watchers) yield* onReading(reading)
        }
      }).pipe(
        Effect.annotateLogs({ namespace: group.namespace }),
        Effect.catchAllCause((cause) => Effect.logError("stats polling failed", cause))
      )

    const run = (group: Group, interval: Duration.Duration) =>
      // Fixed rate: a slow call delays the next tick but ticks never pile up.
      Effect.sleep(interval).pipe(Effect.zipRight(Effect.repeat(tick(group), { schedule: Schedule.fixed(interval) })), Effect.asVoid)

    const join = (namespace: string, interval: Duration.Duration, containerId: string, onReading: OnReading) =>
      lock.withPermits(1)(Effect.gen(function*() {
        const key = `${namespace}\u0000${Duration.toMillis(interval)}`
        let group = groups.get(key)
        if (group === undefined) {
          group = { namespace, watchers: new Map(), fiber: undefined, failing: false }
          groups.set(key, group)
          // Joining runs as a resource acquisition, which is uninterruptible: the poll loop must not inherit that.
          group.fiber = yield* Effect.forkIn(Effect.interruptible(run(group, interval)), scope)
        }
        // A distinct function per watch, even for the same callback: leaving removes this watch only.
        const watcher: OnReading = (reading) => onReading(reading)
        const watchers = group.watchers.get(containerId) ?? new Set()
        watchers.add(watcher)
        group.watchers.set(containerId, watchers)
        return { key, group, watcher }
      }))

    const leave = ({ group, key, watcher }: { readonly key: string; readonly group: Group; readonly watcher: OnReading }, containerId: string) =>
      lock.withPermits(1)(Effect.gen(function*() {
        const watchers = group.watchers.get(containerId)
        watchers?.delete(watcher)
        if (watchers?.size === 0) group.watchers.delete(containerId)
        if (group.watchers.size === 0 && groups.get(key) === group) {
          groups.delete(key)
          if (group.fiber !== undefined) yield* Fiber.interrupt(group.fiber)
        }
      }))

    const watch = (namespace: string, interval: Duration.Duration, containerId: string, onReading: OnReading) =>
      Effect.asVoid(
        Effect.acquireRelease(join(namespace, interval, containerId, onReading), (joined) => leave(joined, containerId))
      )

    return {
      watch,
      readNow: (namespace, containerId) =>
        poll(namespace, [containerId]).pipe(
          Effect.map(({ now, result }): Reading =>
            result._tag === "Left"
              ? { _tag: "Failed", message: result.left.message }
              : readings([containerId], result.right, now).get(containerId) ?? { _tag: "Absent" }
          )
        )
    } satisfies Poller
  })
