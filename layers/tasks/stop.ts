/**
 * Ending tasks. StopTask sends the requested signal (else the image's STOPSIGNAL, else
 * SIGTERM), returns as soon as the task exits, and SIGKILLs every process of the task at the timeout, whatever
 * its length. DestroyTask kills when forced, deletes the task, container, snapshot and generated files, and
 * forgets the task (which then no longer counts as a user of its image). SignalTask delivers a named signal. Stop
 * and Destroy succeed for tasks that are gone.
 */
import { Deferred, type Duration, Effect, Option } from "effect"
import { invalidSignalMessage, SIGKILL, SIGTERM, signalNumber } from "../../src/task/Signals.js"
import { containerId, generatedDirLabel, isGeneratedDir, taskIdLabel } from "../../src/task/TaskIdentity.js"
import { type ContainerdService, inNamespace } from "../Containerd.js"
import { ignoreNotFound, killTask, removeContainer } from "./containers.js"
import { exitReportTimeout } from "./exitWatcher.js"
import type { TaskContext } from "./TaskContext.js"
import { fromContainerd, type TaskError, taskError } from "./TaskError.js"
import type { TaskRecord } from "./TaskStore.js"

const kill = (containerd: ContainerdService, record: TaskRecord, signal: number, all: boolean) =>
  ignoreNotFound(containerd.tasks.kill({ containerId: record.state.containerId, signal, all })).pipe(
    inNamespace(record.state.namespace)
  )

/** Waits for the exit watcher's report, failing if none comes within `exitReportTimeout`. */
const awaitExit = (record: TaskRecord, after: string) =>
  Deferred.await(record.exit).pipe(
    Effect.timeoutFail({
      duration: exitReportTimeout,
      onTimeout: () => taskError("Containerd", `task ${record.config.id} did not exit after ${after}`, true)
    })
  )

export const stopTask = (
  ctx: TaskContext,
  id: string,
  timeout: Duration.DurationInput,
  signalName: string
): Effect.Effect<void, TaskError> =>
  Effect.gen(function*() {
    const known = ctx.store.get(id)
    if (Option.isNone(known)) return
    const record = known.value
    if (Option.isSome(yield* ctx.store.exited(record))) return
    const name = signalName === "" ? record.state.stopSignal : signalName
    const signal = signalName === "" ? signalNumber(name) ?? SIGTERM : signalNumber(name)
    if (signal === undefined) return yield* taskError("InvalidSignal", invalidSignalMessage(signalName))
    const { containerd } = yield* ctx.node
    yield* kill(containerd, record, signal, false).pipe(Effect.mapError((e) => fromContainerd("Shutdown failed", e)))
    const exited = yield* Deferred.await(record.exit).pipe(Effect.timeout(timeout), Effect.option)
    if (Option.isSome(exited)) return
    yield* Effect.logInfo(`task did not exit within the kill timeout after ${name}; sending SIGKILL`).pipe(
      Effect.annotateLogs({ task_id: id })
    )
    yield* kill(containerd, record, SIGKILL, true).pipe(Effect.mapError((e) => fromContainerd("Shutdown failed", e)))
    yield* awaitExit(record, "SIGKILL")
  }).pipe(Effect.withSpan("Tasks.stop", { attributes: { task: id } }))

export const destroyTask = (ctx: TaskContext, id: string, force: boolean): Effect.Effect<void, TaskError> =>
  Effect.gen(function*() {
    const known = ctx.store.get(id)
    if (Option.isNone(known)) return yield* destroyUnknown(ctx, id)
    const record = known.value
    if (Option.isNone(yield* ctx.store.exited(record)) && !force) {
      return yield* taskError("Running", "cannot destroy running task")
    }
    const { containerd } = yield* ctx.node
    if (yield* ownsContainer(containerd, record).pipe(Effect.mapError((e) => fromContainerd("Error in destroying task", e)))) {
      yield* killTask(containerd, record.state).pipe(Effect.mapError((e) => fromContainerd("Error in destroying task", e)))
      // The watcher reads the task's OOM counter before the task may be deleted.
      yield* awaitExit(record, "SIGKILL").pipe(Effect.ignore)
      yield* removeContainer(containerd, record.state).pipe(Effect.mapError((e) => fromContainerd("Error in destroying task", e)))
      yield* ctx.network.removeFiles(record.state.generatedDir)
    }
    yield* ctx.store.remove(id)
    yield* ctx.gc.release(id)
  }).pipe(Effect.withSpan("Tasks.destroy", { attributes: { task: id } }))

/**
 * Whether the task's container (and so its snapshot and generated files) is still this attempt's: a restart that
 * came before this attempt was destroyed replaced it with the newer attempt's, under the same id, which this
 * attempt's DestroyTask must not touch. The original driver's containers carry no label and stay their handle's.
 */
const ownsContainer = (containerd: ContainerdService, record: TaskRecord) =>
  ignoreNotFound(containerd.containers.get({ id: record.state.containerId })).pipe(
    inNamespace(record.state.namespace),
    Effect.map((found) => {
      const owner = found?.container?.labels[taskIdLabel]
      return owner === undefined || owner === record.config.id
    })
  )

/**
 * A task this process does not know (e.g. its recovery failed after a plugin restart): its container is found
 * from the Nomad task id (`<alloc>/<task>/<suffix>`) and removed, with the generated files its label names, only
 * if it is labelled with that very id, so a newer attempt of the same task is never touched.
 */
const destroyUnknown = (ctx: TaskContext, id: string): Effect.Effect<void, TaskError> =>
  Effect.gen(function*() {
    const parts = /^([^/]+)\/(.+)\/([^/]+)$/.exec(id)
    const node = yield* Effect.option(ctx.node)
    if (parts === null || Option.isNone(node)) return
    const { active, containerd } = node.value
    const cid = containerId(active.cgroupVersion, parts[1]!, parts[2]!)
    const found = yield* ignoreNotFound(containerd.containers.get({ id: cid })).pipe(inNamespace(active.namespace))
    const container = found?.container
    if (container === undefined || container.labels[taskIdLabel] !== id) return
    yield* removeContainer(containerd, {
      namespace: active.namespace,
      containerId: cid,
      snapshotter: container.snapshotter,
      snapshotKey: container.snapshotKey
    })
    const generated = container.labels[generatedDirLabel] ?? ""
    if (isGeneratedDir(generated)) yield* ctx.network.removeFiles(generated)
  }).pipe(Effect.mapError((e) => fromContainerd("Error in destroying task", e)))

export const signalTask = (ctx: TaskContext, id: string, signalName: string): Effect.Effect<void, TaskError> =>
  Effect.gen(function*() {
    const record = yield* known(ctx, id)
    const signal = signalNumber(signalName)
    if (signal === undefined) return yield* taskError("InvalidSignal", invalidSignalMessage(signalName))
    if (Option.isSome(yield* ctx.store.exited(record))) {
      return yield* taskError("Exited", `task ${id} has exited; there is no process to signal`)
    }
    const { containerd } = yield* ctx.node
    yield* containerd.tasks.kill({ containerId: record.state.containerId, signal, all: false }).pipe(
      inNamespace(record.state.namespace),
      Effect.mapError((e) =>
        e.reason === "NotFound"
          ? taskError("Exited", `task ${id} has exited; there is no process to signal`)
          : fromContainerd("Error in signalling task", e)
      )
    )
  }).pipe(Effect.withSpan("Tasks.signal", { attributes: { task: id, signal: signalName } }))

/** The task with this id, or the error for an id this driver does not know. */
export const known = (ctx: TaskContext, id: string): Effect.Effect<TaskRecord, TaskError> =>
  Option.match(ctx.store.get(id), {
    onNone: () => Effect.fail(taskError("UnknownTask", `task ${JSON.stringify(id)} is not known to the driver`)),
    onSome: Effect.succeed
  })
