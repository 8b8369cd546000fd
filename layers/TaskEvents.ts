/**
 * TaskEvents: the driver's events for Nomad's task event log (pull progress, warnings), shared by every
 * subscriber of the TaskEvents RPC. Nomad routes each event by alloc id and task name.
 */
import { Context, Effect, Layer, PubSub, Stream } from "effect"
import type { DriverTaskEvent } from "../src/gen/plugins/drivers/proto/driver.js"

export class TaskEvents extends Context.Tag("containerd-driver/TaskEvents")<TaskEvents, {
  readonly publish: (event: DriverTaskEvent) => Effect.Effect<void>
  /** Every event published from now on; never ends. */
  readonly stream: Stream.Stream<DriverTaskEvent>
}>() {}

export const make = Effect.gen(function*() {
  // Sliding: a slow or absent reader drops old events rather than holding up the tasks publishing them.
  const events = yield* Effect.acquireRelease(PubSub.sliding<DriverTaskEvent>(1024), PubSub.shutdown)
  return TaskEvents.of({
    publish: (event) => PubSub.publish(events, event).pipe(Effect.asVoid),
    stream: Stream.fromPubSub(events)
  })
})

export const layer: Layer.Layer<TaskEvents> = Layer.scoped(TaskEvents, make)
