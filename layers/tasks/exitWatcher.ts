/**
 * One exit watcher per task: waits for the task's init process to exit and turns containerd's answer into
 * Nomad's exit result. containerd is the supervisor, not the plugin: the shim keeps the exit status until
 * the task is deleted, so a Wait issued late — after a plugin restart, or when containerd itself restarted
 * meanwhile — still gets the true result. While containerd cannot be reached the wait is simply issued again.
 */
import { Duration, Effect, Either, Schedule } from "effect"
import { AnyTypes, unpack } from "../../src/containerd/any.js"
import { type ExitResult, fromExitStatus, unknownExit } from "../../src/task/ExitResult.js"
import { type ContainerdError, type ContainerdService, inNamespace } from "../Containerd.js"
import { containerdRecoverable } from "./TaskError.js"

export interface Exit {
  readonly result: ExitResult
  readonly completedAt: Date
}

/** Go's zero time (what containerd reports as exited_at when it has none). */
const goZeroTimeMillis = -62135596800000

const exitTime = (exitedAt: Date | undefined): Date =>
  exitedAt === undefined || exitedAt.getTime() <= goZeroTimeMillis ? new Date() : exitedAt

/**
 * Whether the kernel OOM-killed a process of the task, read from the task's cgroup metrics (v1
 * memory.oom_control `oom_kill`, v2 memory.events `oom_kill`), which containerd still reports after the exit and
 * until the task is deleted.
 */
export const oomKilled = (containerd: ContainerdService, containerId: string): Effect.Effect<boolean> =>
  containerd.tasks.metrics({ filters: [`id==${containerId}`] }).pipe(
    Effect.map(({ metrics }) => {
      const data = metrics.find((m) => m.id === containerId)?.data
      const v1 = unpack(AnyTypes.CgroupV1Metrics, data)
      if (Either.isRight(v1)) return (v1.right.memoryOomControl?.oomKill ?? 0n) > 0n
      const v2 = unpack(AnyTypes.CgroupV2Metrics, data)
      return Either.isRight(v2) && (v2.right.memoryEvents?.oomKill ?? 0n) > 0n
    }),
    Effect.catchAll(() => Effect.succeed(false))
  )

/** gRPC CANCELLED: the client was closed under the call (the working set was rebuilt); ask the new one. */
const cancelled = 1

const retryWhileUnreachable = Schedule.exponential("200 millis", 2).pipe(
  Schedule.union(Schedule.spaced("5 seconds")),
  Schedule.whileInput((error: ContainerdError) => containerdRecoverable(error) || error.code === cancelled)
)

/**
 * Waits for the exit of the task of `containerId`, retrying while containerd is unreachable (with `client`
 * evaluated again each time, so a client rebuilt meanwhile is used). Never fails: a task that vanished, or an
 * error containerd keeps answering with, becomes an unknown exit with the reason.
 */
export const watchExit = (
  client: Effect.Effect<ContainerdService>,
  task: { readonly namespace: string; readonly containerId: string }
): Effect.Effect<Exit> =>
  Effect.gen(function*() {
    const waited = yield* client.pipe(
      Effect.flatMap((containerd) =>
        containerd.tasks.wait({ containerId: task.containerId }).pipe(Effect.map((response) => ({ containerd, response })))
      ),
      Effect.retry(retryWhileUnreachable),
      Effect.either,
      inNamespace(task.namespace)
    )
    if (Either.isLeft(waited)) {
      const error = waited.left
      return {
        result: unknownExit(
          error.reason === "NotFound"
            ? `the task's process is gone from containerd (${error.message}); its exit status is unknown`
            : `cannot learn how the task ended: ${error.message}`
        ),
        completedAt: new Date()
      }
    }
    const { containerd, response } = waited.right
    const oom = yield* oomKilled(containerd, task.containerId).pipe(inNamespace(task.namespace))
    return { result: fromExitStatus(response.exitStatus, oom), completedAt: exitTime(response.exitedAt) }
  }).pipe(Effect.withSpan("watchExit", { attributes: { container: task.containerId } }))

/** How long Stop and Destroy wait for a watcher's report after the task was SIGKILLed. */
export const exitReportTimeout = Duration.seconds(15)
