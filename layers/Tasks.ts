/**
 * Tasks: the task lifecycle as Nomad drives it (Nomad's plugins/drivers/driver.go and the task runner in client/allocrunner/taskrunner), on containerd. Each
 * operation lives in its own file under layers/tasks/ — start.ts (StartTask, with rollback), stop.ts (StopTask,
 * DestroyTask, SignalTask), recover.ts — around the store of known tasks and their exit watchers (TaskStore.ts,
 * exitWatcher.ts). Commands run inside tasks are layers/Exec.ts's. The NomadRpc handlers are thin adapters.
 */
import { Context, Deferred, type Duration, Effect, Layer, Option } from "effect"
import {
  type TaskConfig as TaskConfigPb,
  type TaskHandle,
  TaskState,
  type TaskStatus
} from "../src/gen/plugins/drivers/proto/driver.js"
import type { ExitResult } from "../src/task/ExitResult.js"
import { ImageGc } from "./ImageGc.js"
import { Network } from "./Network.js"
import { NodeConfig } from "./NodeConfig.js"
import { TaskEvents } from "./TaskEvents.js"
import { recoverTask } from "./tasks/recover.js"
import { startTask, type StartedTask } from "./tasks/start.js"
import { destroyTask, known, signalTask, stopTask } from "./tasks/stop.js"
import type { TaskContext } from "./tasks/TaskContext.js"
import { type TaskError, taskError } from "./tasks/TaskError.js"
import * as TaskStore from "./tasks/TaskStore.js"

export { type StartedTask } from "./tasks/start.js"
export { TaskError, type TaskErrorReason } from "./tasks/TaskError.js"

export interface InspectedTask {
  readonly status: TaskStatus
  /** Driver facts shown by `nomad alloc status -verbose`-like tools. */
  readonly attributes: Record<string, string>
}

/** Where a known task lives in containerd, for services beside this one (stats, streaming exec). */
export interface TaskLocation {
  readonly namespace: string
  readonly containerId: string
  /** Completes when the task has exited. */
  readonly exited: Effect.Effect<void>
}

export class Tasks extends Context.Tag("containerd-driver/Tasks")<Tasks, {
  readonly start: (config: TaskConfigPb) => Effect.Effect<StartedTask, TaskError>
  readonly recover: (handle: TaskHandle) => Effect.Effect<void, TaskError>
  /** Blocks until the task exits; any number of callers, also after the exit, until DestroyTask. */
  readonly wait: (id: string) => Effect.Effect<ExitResult, TaskError>
  readonly stop: (id: string, timeout: Duration.DurationInput, signal: string) => Effect.Effect<void, TaskError>
  readonly destroy: (id: string, force: boolean) => Effect.Effect<void, TaskError>
  readonly inspect: (id: string) => Effect.Effect<InspectedTask, TaskError>
  readonly signal: (id: string, signal: string) => Effect.Effect<void, TaskError>
  readonly locate: (id: string) => Effect.Effect<TaskLocation, TaskError>
}>() {}

/** Go's zero time: what Nomad expects as the completion time of a task that has not completed. */
const goZeroTime = new Date(-62135596800000)

const noResult: ExitResult = { exitCode: 0, signal: 0, oomKilled: false, err: "" }

export const make = Effect.gen(function*() {
  const nodeConfig = yield* NodeConfig
  const ctx: TaskContext = {
    node: Effect.mapError(nodeConfig.node, (error) => taskError("NotConfigured", error.message, true)),
    // Exit watchers only exist for tasks started under a config, so the working set is there.
    client: Effect.map(Effect.orDie(nodeConfig.node), (node) => node.containerd),
    store: yield* TaskStore.make,
    events: yield* TaskEvents,
    network: yield* Network,
    gc: yield* ImageGc
  }

  const wait = (id: string) =>
    known(ctx, id).pipe(Effect.flatMap((record) => Deferred.await(record.exit)), Effect.map((exit) => exit.result))

  const inspect = (id: string) =>
    Effect.gen(function*() {
      const record = yield* known(ctx, id)
      const exit = yield* ctx.store.exited(record)
      const { state } = record
      return {
        status: {
          id,
          name: record.config.name,
          state: Option.isSome(exit) ? TaskState.EXITED : TaskState.RUNNING,
          startedAt: new Date(state.startedAt),
          completedAt: Option.match(exit, { onNone: () => goZeroTime, onSome: (e) => e.completedAt }),
          result: Option.match(exit, { onNone: () => noResult, onSome: (e) => e.result })
        },
        attributes: {
          containerName: state.containerId,
          namespace: state.namespace,
          image: state.image,
          image_digest: state.imageDigest
        }
      }
    })

  return Tasks.of({
    start: (config) => startTask(ctx, config),
    recover: (handle) => recoverTask(ctx, handle),
    wait,
    stop: (id, timeout, signal) => stopTask(ctx, id, timeout, signal),
    destroy: (id, force) => destroyTask(ctx, id, force),
    inspect,
    signal: (id, signal) => signalTask(ctx, id, signal),
    locate: (id) =>
      Effect.map(known(ctx, id), (record) => ({
        namespace: record.state.namespace,
        containerId: record.state.containerId,
        exited: Effect.asVoid(Deferred.await(record.exit))
      })),
  })
})

export const layer: Layer.Layer<Tasks, never, NodeConfig | TaskEvents | Network | ImageGc> = Layer.scoped(Tasks, make)
