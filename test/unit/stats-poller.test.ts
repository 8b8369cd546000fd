// The shared metrics poller (layers/stats/Poller.ts) with a scripted Tasks.Metrics, on the test clock: how a tick's
// calls cover the watched containers, and what each watcher receives. (What a slow stream gets is in stats.test.ts.)
import { it } from "@effect/vitest"
import { Duration, Effect, Queue, TestClock } from "effect"
import { describe, expect } from "vitest"
import * as Poller from "../../layers/stats/Poller.js"
import type { Metric } from "../../src/gen/github.com/containerd/containerd/api/types/metrics.js"

const data = { typeUrl: "io.containerd.cgroups.v1.Metrics", value: Buffer.alloc(0) }

/** A Tasks.Metrics that answers for every filtered id except `absent`, and fails for calls naming `failing`. */
const scripted = (options: { readonly absent?: string; readonly failing?: string } = {}) => {
  const calls: Array<{ readonly namespace: string; readonly ids: ReadonlyArray<string> }> = []
  const fetch: Poller.FetchMetrics = (namespace, ids) => {
    calls.push({ namespace, ids })
    if (options.failing !== undefined && ids.includes(options.failing)) return Effect.fail({ message: "connection refused" })
    return Effect.succeed(
      ids.filter((id) => id !== options.absent).map((id): Metric => ({ id, timestamp: new Date(42), data }))
    )
  }
  return { calls, fetch }
}

/** Every reading `watch` hands over for the container, in a queue. */
const watched = (poller: Poller.Poller, containerId: string) =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Poller.Reading>()
    yield* poller.watch("ns", Duration.seconds(1), containerId, (reading) => Queue.offer(queue, reading))
    return queue
  })

describe("shared metrics poller", () => {
  it.scoped("reads every watched container each tick in calls of at most 64 ids, and gives each its own reading", () =>
    Effect.gen(function*() {
      const { calls, fetch } = scripted()
      const poller = yield* Poller.make(fetch)
      const ids = Array.from({ length: 130 }, (_, i) => `c${i}`)
      const queues = yield* Effect.forEach(ids, (id) => watched(poller, id))
      expect(calls).toHaveLength(0)
      yield* TestClock.adjust("1 second")
      const received = yield* Effect.forEach(queues, Queue.take)
      expect(calls.map((call) => call.ids.length).sort((a, b) => a - b)).toEqual([2, 64, 64])
      expect(calls.flatMap((call) => call.ids).sort()).toEqual([...ids].sort())
      expect(calls.every((call) => call.namespace === "ns")).toBe(true)
      for (const reading of received) expect(reading).toEqual({ _tag: "Metric", atMillis: 42, data })
    }))

  it.scoped("tells a container missing from the answer from a failed call", () =>
    Effect.gen(function*() {
      const { fetch } = scripted({ absent: "gone" })
      const poller = yield* Poller.make(fetch)
      const gone = yield* watched(poller, "gone")
      const here = yield* watched(poller, "here")
      yield* TestClock.adjust("1 second")
      expect(yield* Queue.take(gone)).toEqual({ _tag: "Absent" })
      expect((yield* Queue.take(here))._tag).toBe("Metric")

      const failing = Poller.make(scripted({ failing: "x" }).fetch)
      expect(yield* Effect.flatMap(failing, (p) => p.readNow("ns", "x"))).toEqual({ _tag: "Failed", message: "connection refused" })
    }))
})
