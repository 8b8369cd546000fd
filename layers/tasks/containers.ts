/**
 * A task's objects in containerd — its task (process), container record and rootfs snapshot — and how they
 * are torn down: one routine shared by DestroyTask, the clean-up of a failed start and the replacement of a
 * leftover container with the same id. Every step tolerates what is already gone.
 */
import { Duration, Effect } from "effect"
import { Status } from "../../src/gen/github.com/containerd/containerd/api/types/task/task.js"
import { SIGKILL } from "../../src/task/Signals.js"
import { type ContainerdError, type ContainerdService, inNamespace } from "../Containerd.js"

export interface ContainerRef {
  readonly namespace: string
  readonly containerId: string
  readonly snapshotter: string
  readonly snapshotKey: string
}

const notFound = (error: ContainerdError) => error.reason === "NotFound"

/** Ignores a NotFound answer: the object is already gone, which is what the caller wanted. */
export const ignoreNotFound = <A, R>(effect: Effect.Effect<A, ContainerdError, R>): Effect.Effect<A | undefined, ContainerdError, R> =>
  Effect.catchIf(effect, notFound, () => Effect.succeed(undefined))

/** How long a SIGKILLed task may take to be reaped before its deletion is given up (and reported). */
const reapTimeout = Duration.seconds(10)

/**
 * SIGKILLs every process of the container's task and waits until it has exited. Paused tasks are resumed
 * first (a frozen process cannot die). Nothing to do when there is no task or it has exited.
 */
export const killTask = (containerd: ContainerdService, ref: ContainerRef): Effect.Effect<void, ContainerdError> =>
  Effect.gen(function*() {
    const got = yield* ignoreNotFound(containerd.tasks.get({ containerId: ref.containerId }))
    const status = got?.process?.status
    if (status === undefined || status === Status.STOPPED || status === Status.CREATED) return
    if (status === Status.PAUSED || status === Status.PAUSING) {
      yield* containerd.tasks.resume({ containerId: ref.containerId }).pipe(Effect.ignore)
    }
    yield* ignoreNotFound(containerd.tasks.kill({ containerId: ref.containerId, signal: SIGKILL, all: true }))
    yield* ignoreNotFound(containerd.tasks.wait({ containerId: ref.containerId })).pipe(
      Effect.timeoutFail({
        duration: reapTimeout,
        onTimeout: () => ({ _tag: "Timeout" as const })
      }),
      Effect.catchTag("Timeout", () =>
        Effect.logWarning(`task ${ref.containerId} did not exit within ${Duration.format(reapTimeout)} of SIGKILL`))
    )
  }).pipe(inNamespace(ref.namespace))

/** Kills and deletes the task, then deletes the container and its snapshot. */
export const removeContainer = (containerd: ContainerdService, ref: ContainerRef): Effect.Effect<void, ContainerdError> =>
  Effect.gen(function*() {
    yield* killTask(containerd, ref)
    yield* ignoreNotFound(containerd.tasks.delete({ containerId: ref.containerId }))
    yield* ignoreNotFound(containerd.containers.delete({ id: ref.containerId }))
    yield* ignoreNotFound(containerd.snapshots.remove({ snapshotter: ref.snapshotter, key: ref.snapshotKey }))
  }).pipe(inNamespace(ref.namespace), Effect.withSpan("removeContainer", { attributes: { container: ref.containerId } }))
