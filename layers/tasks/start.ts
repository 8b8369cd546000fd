/**
 * StartTask: count the task as a user of its image (the image GC), prepare it (policy, image, spec), then create
 * its objects in containerd — a snapshot of the image, the container, the task with Nomad's log FIFOs handed
 * straight to the shim — watch for the exit, and start the process synchronously. Every object is created with its
 * undo: if any step fails, or the call is interrupted, everything created so far is removed (container, snapshot,
 * lease, generated files), and the task no longer counts for its image.
 */
import { Clock, Effect, Either, Exit, Schedule } from "effect"
import * as fs from "node:fs/promises"
import { decodeConfig } from "../../src/config/Cty.js"
import { TaskConfig } from "../../src/config/TaskConfig.js"
import { AnyTypes } from "../../src/containerd/any.js"
import { runtimeOptions } from "../../src/containerd/runtimeOptions.js"
import {
  type DriverTaskEvent,
  type TaskConfig as TaskConfigPb,
  type TaskHandle,
  TaskState
} from "../../src/gen/plugins/drivers/proto/driver.js"
import { encodeJson } from "../../src/oci/SpecJson.js"
import { type DriverState, encodeDriverState } from "../../src/task/DriverState.js"
import { nomadTaskFromProto } from "../../src/task/NomadTask.js"
import {
  containerId,
  containerLabels,
  generatedDir,
  generatedDirLabel,
  leaseContainerLabel,
  snapshotKey
} from "../../src/task/TaskIdentity.js"
import { type ContainerdError, inLease, inNamespace } from "../Containerd.js"
import { imageRecordName, pulledForTask } from "../ImageGc.js"
import { describeProgress, type PullProgress } from "../ImageStore.js"
import type { Node } from "../NodeConfig.js"
import { watchExit } from "./exitWatcher.js"
import { type ContainerRef, ignoreNotFound, removeContainer } from "./containers.js"
import { prepareTask } from "./prepare.js"
import { fromContainerd, fromPrepare, type TaskError, taskError } from "./TaskError.js"
import type { TaskContext } from "./TaskContext.js"

/** The task handle's version: bumped when driver_state changes incompatibly. */
export const handleVersion = 1

const decodeTaskConfig = decodeConfig(TaskConfig, "task config")

/** ctr's container label for the image's STOPSIGNAL, kept so `ctr` users see it too. */
const stopSignalLabel = "io.containerd.image.config.stop-signal"

/** Pull progress as Nomad task events: when a download starts, then at most every few seconds. */
const progressEvents = (publish: (message: string, annotations?: Record<string, string>) => Effect.Effect<void>) => {
  let announced = false
  let lastReport = 0
  return (progress: PullProgress) =>
    Effect.gen(function*() {
      if (progress.phase !== "fetch" || progress.totalBytes === 0) return
      const now = yield* Clock.currentTimeMillis
      if (!announced) {
        announced = true
        lastReport = now
        return yield* publish("Downloading image", { image: progress.image })
      }
      if (now - lastReport < 5_000) return
      lastReport = now
      yield* publish(describeProgress(progress))
    })
}

/** A task event for Nomad's event log of this task. */
export const taskEvent = (
  config: Pick<TaskConfigPb, "id" | "allocId" | "name">,
  message: string,
  annotations: Record<string, string> = {}
): DriverTaskEvent => ({
  taskId: config.id,
  allocId: config.allocId,
  taskName: config.name,
  timestamp: new Date(),
  message,
  annotations
})

/**
 * Holds a FIFO open for reading while `use` runs. The shim opens Nomad's log FIFOs for writing and blocks until a
 * reader exists; logmon is normally that reader, but if it is late the task creation must not hang.
 */
const holdingFifos = <A, E, R>(paths: ReadonlyArray<string>, use: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    Effect.promise(async () => {
      const handles: Array<fs.FileHandle> = []
      for (const path of paths) {
        if (!(await fs.stat(path).then((s) => s.isFIFO(), () => false))) continue
        // O_RDWR never blocks on a FIFO; O_NONBLOCK keeps libuv from treating it as a blocking file.
        const handle = await fs.open(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK).catch(() => undefined)
        if (handle !== undefined) handles.push(handle)
      }
      return handles
    }),
    () => use,
    (handles) => Effect.promise(() => Promise.all(handles.map((h) => h.close().catch(() => {}))))
  )

/** Creates with `acquire`; on failure or interruption of the enclosing scope, undoes with `undo`. */
const withUndo = <A, E, R>(acquire: Effect.Effect<A, E, R>, undo: (value: A) => Effect.Effect<unknown>) =>
  Effect.acquireRelease(acquire, (value, exit) => (Exit.isFailure(exit) ? Effect.ignore(undo(value)) : Effect.void))

export interface StartedTask {
  readonly handle: TaskHandle
}

export const startTask = (ctx: TaskContext, config: TaskConfigPb): Effect.Effect<StartedTask, TaskError> =>
  Effect.gen(function*() {
    if (ctx.store.get(config.id)._tag === "Some") {
      return yield* taskError("AlreadyStarted", `task with ID ${JSON.stringify(config.id)} already started`)
    }
    const node = yield* ctx.node
    const task = yield* Either.mapLeft(
      decodeTaskConfig(config.msgpackDriverConfig),
      (error) => taskError("InvalidConfig", error.message)
    )
    // The task counts as a user of its image before the pull, so a removal of the image that falls due meanwhile
    // waits or finds it in use; any failure from here on releases it.
    const recordName = imageRecordName(task.image)
    if (recordName !== undefined) yield* ctx.gc.use(config.id, { namespace: node.active.namespace, name: recordName })
    return yield* startPrepared(ctx, node, config, task).pipe(Effect.onError(() => ctx.gc.release(config.id)))
  }).pipe(Effect.withSpan("Tasks.start", { attributes: { task: config.id } }))

const startPrepared = (ctx: TaskContext, node: Node, config: TaskConfigPb, task: TaskConfig): Effect.Effect<StartedTask, TaskError> =>
  Effect.gen(function*() {
    const nomad = nomadTaskFromProto(config)
    const id = containerId(node.active.cgroupVersion, config.allocId, config.name)
    const dir = generatedDir(config.allocDir, config.name)
    const publish = (message: string, annotations?: Record<string, string>) =>
      ctx.events.publish(taskEvent(config, message, annotations))

    const prepared = yield* prepareTask(node, {
      task,
      nomad,
      containerId: id,
      generatedDir: dir,
      onProgress: progressEvents(publish),
      onWarning: (message) =>
        Effect.zipRight(publish(message), Effect.logWarning(message).pipe(Effect.annotateLogs({ task_id: config.id }))),
      imageLabels: pulledForTask
    }).pipe(Effect.mapError(fromPrepare))
    const { image, spec } = prepared
    yield* ctx.gc.use(config.id, { namespace: node.active.namespace, name: image.name })
    yield* ctx.network.checkNamespace(nomad).pipe(
      Effect.mapError((error) => taskError("Host", `Error in creating container: ${error.message}`, true, error))
    )

    const startedAt = yield* Clock.currentTimeMillis
    const state: DriverState = {
      version: 1,
      namespace: node.active.namespace,
      containerId: id,
      snapshotter: node.images.snapshotter,
      snapshotKey: snapshotKey(id),
      image: image.name,
      imageDigest: image.manifest.digest,
      startedAt,
      stopSignal: image.imageConfig.stopSignal ?? "SIGTERM",
      generatedDir: spec.files.length === 0 ? "" : dir
    }
    const ref: ContainerRef = state
    const { containerd } = node

    yield* Effect.scoped(Effect.gen(function*() {
      yield* withUndo(ctx.network.writeFiles(dir, spec.files), () => ctx.network.removeFiles(dir)).pipe(
        Effect.mapError((error) => taskError("Host", `Error in creating container: ${error.message}`, false, error))
      )
      // The new snapshot and container are protected from containerd's GC by a lease until the container,
      // which then holds the snapshot, exists.
      const lease = yield* containerd.withLease({ labels: { [leaseContainerLabel]: id } }).pipe(
        Effect.mapError((e) => fromContainerd("Error in creating container", e))
      )
      // One undo for the snapshot, the container and the task: removal tolerates whatever was not created.
      yield* Effect.addFinalizer((exit) => Exit.isFailure(exit) ? Effect.ignore(removeContainer(containerd, ref)) : Effect.void)
      const createContainer = Effect.gen(function*() {
        const mounts = yield* containerd.snapshots.prepare({
          snapshotter: ref.snapshotter,
          key: ref.snapshotKey,
          parent: image.chainId,
          labels: {}
        })
        yield* containerd.containers.create({
          container: {
            id,
            labels: {
              ...containerLabels(config, node.active.config.extra_labels),
              ...(state.generatedDir === "" ? {} : { [generatedDirLabel]: state.generatedDir }),
              ...(image.imageConfig.stopSignal === undefined ? {} : { [stopSignalLabel]: image.imageConfig.stopSignal })
            },
            image: image.name,
            runtime: { name: spec.runtime.name, options: runtimeOptions(spec.runtime) },
            spec: { typeUrl: AnyTypes.Spec.typeUrl, value: Buffer.from(encodeJson(spec.spec)) },
            snapshotter: ref.snapshotter,
            snapshotKey: ref.snapshotKey,
            extensions: {},
            sandbox: ""
          }
        })
        return mounts
      })
      // Leftovers of an earlier attempt are looked for only when they are in the way: no cost on a clean start.
      const mounts = yield* createContainer.pipe(
        Effect.catchIf(
          (error) => error.reason === "AlreadyExists",
          () => Effect.zipRight(replaceLeftover(node, ref, lease.id), createContainer)
        ),
        inLease(lease.id),
        Effect.mapError((e) => (e._tag === "TaskError" ? e : fromContainerd("Error in creating container", e)))
      )
      const createTask = containerd.tasks.create({
        containerId: id,
        rootfs: mounts.mounts,
        stdin: "",
        stdout: config.stdoutPath,
        stderr: config.stderrPath,
        terminal: false,
        runtimePath: ""
      })
      yield* holdingFifos(
        [config.stdoutPath, config.stderrPath],
        createTask.pipe(
          Effect.tapError((error) =>
            isTaskDirectoryInTheWay(error)
              ? Effect.logWarning(`containerd still has the task directory of an earlier start of ${id}; waiting for it to go`)
              : Effect.void
          ),
          Effect.retry({ schedule: taskDirectoryWait, while: isTaskDirectoryInTheWay })
        )
      ).pipe(Effect.mapError((e) => fromContainerd("Error in creating task", e)))

      // Watch for the exit before the process can exit; the shim also keeps the status until the task is deleted.
      const record = yield* withUndo(
        ctx.store.add(config, state, watchExit(ctx.client, ref)),
        () => ctx.store.remove(config.id)
      )
      yield* containerd.tasks.start({ containerId: id }).pipe(
        Effect.mapError((error) => startFailure(error))
      )
      return record
    })).pipe(inNamespace(ref.namespace))

    yield* Effect.logInfo("task started").pipe(
      Effect.annotateLogs({ task_id: config.id, container: id, image: image.name, digest: image.manifest.digest })
    )
    return {
      handle: {
        version: handleVersion,
        config,
        state: TaskState.RUNNING,
        driverState: Buffer.from(encodeDriverState(state))
      }
    }
  })

/**
 * A start that died during Tasks.Create (its plugin killed) leaves containerd finishing or undoing that create on
 * its own, after the retried start has already replaced the container: the new create then finds the old task
 * directory and fails with "failed to start shim: mkdir <state>/io.containerd.runtime.v2.task/<ns>/<id>: file
 * exists" (containerd's runtime/v2 NewBundle). containerd removes it within moments; a directory that stays is
 * reported after about six seconds.
 */
const isTaskDirectoryInTheWay = (error: ContainerdError): boolean =>
  !error.unreachable && /\bmkdir \S+: file exists/.test(error.detail)

const taskDirectoryWait = Schedule.exponential("50 millis", 1.5).pipe(Schedule.intersect(Schedule.recurs(10)))

/** A failed Start is the runtime refusing the process: usually the config (missing executable, bad cwd). */
const startFailure = (error: ContainerdError): TaskError =>
  error.unreachable
    ? fromContainerd("Error in starting task", error)
    : taskError("Start", `Error in starting task: ${error.detail}`, false, error)

/**
 * A container or snapshot with the task's id is left over (a host reboot, a plugin crash between steps, a
 * previous attempt nobody destroyed): remove it, and the lease of a start that died, before creating anew.
 */
const replaceLeftover = (node: Node, ref: ContainerRef, currentLease: string): Effect.Effect<void, TaskError> =>
  Effect.gen(function*() {
    const { leases } = yield* node.containerd.leases.list({ filters: [`labels."${leaseContainerLabel}"==${ref.containerId}`] })
    for (const lease of leases.filter((l) => l.id !== currentLease)) {
      yield* ignoreNotFound(node.containerd.leases.delete({ id: lease.id, sync: false }))
    }
    const existing = yield* ignoreNotFound(node.containerd.containers.get({ id: ref.containerId }))
    if (existing?.container !== undefined) {
      yield* Effect.logWarning(`replacing a leftover container ${ref.containerId}`)
      yield* removeContainer(node.containerd, {
        ...ref,
        snapshotter: existing.container.snapshotter || ref.snapshotter,
        snapshotKey: existing.container.snapshotKey || ref.snapshotKey
      })
    }
    yield* ignoreNotFound(node.containerd.snapshots.remove({ snapshotter: ref.snapshotter, key: ref.snapshotKey }))
  }).pipe(Effect.mapError((e) => fromContainerd("Error in creating container", e)))
