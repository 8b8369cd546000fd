/**
 * RecoverTask: re-adopt a task started earlier, possibly by another plugin process, from its handle alone
 * (Nomad does not send the task's driver config back). A running task is watched again; one that exited while
 * the plugin was down is adopted too, and WaitTask reports its real exit result, which the shim kept; a task
 * whose container or process is gone is an error, after which Nomad destroys and restarts it. Handles written
 * by the original Go driver are recovered as well, and their output copied to Nomad as that driver did.
 */
import { Deferred, Effect, Either, Option, Schedule } from "effect"
import { Status } from "../../src/gen/github.com/containerd/containerd/api/types/task/task.js"
import type { TaskHandle } from "../../src/gen/plugins/drivers/proto/driver.js"
import { decodeDriverState, type DriverState } from "../../src/task/DriverState.js"
import { type ContainerdError, inNamespace } from "../Containerd.js"
import type { Node } from "../NodeConfig.js"
import { exitReportTimeout, watchExit } from "./exitWatcher.js"
import { withLegacyLogs } from "./legacyLogs.js"
import type { TaskContext } from "./TaskContext.js"
import { fromContainerd, type TaskError, taskError } from "./TaskError.js"

/**
 * Nomad recovers tasks right after it (re)starts, perhaps together with containerd: a containerd that is not
 * answering yet is waited for a while — failing would make Nomad kill and restart a task that runs fine.
 */
const retryWhileUnreachable = <A>(effect: Effect.Effect<A, TaskError>) =>
  Effect.retry(effect, {
    while: (error) => error.reason === "Containerd" && error.recoverable,
    schedule: Schedule.exponential("200 millis").pipe(Schedule.union(Schedule.spaced("2 seconds")), Schedule.upTo("30 seconds"))
  })

const recoveryError = (what: string, error: ContainerdError): TaskError =>
  error.reason === "NotFound" ? taskError("Recover", `${what}: ${error.message}`, false, error) : fromContainerd(what, error)

export const recoverTask = (ctx: TaskContext, handle: TaskHandle): Effect.Effect<void, TaskError> =>
  Effect.gen(function*() {
    const config = handle.config
    if (config === undefined || config.id === "") {
      return yield* taskError("Recover", "Error in recovering task: the handle carries no task config")
    }
    if (Option.isSome(ctx.store.get(config.id))) return
    const decoded = yield* Either.mapLeft(
      decodeDriverState(handle.driverState),
      (error) => taskError("Recover", `Error in recovering task: ${error.message}`)
    )
    const node = yield* ctx.node
    const { containerd } = node
    const state = decoded._tag === "Current" ? decoded.state : yield* fromLegacy(node, decoded.state).pipe(retryWhileUnreachable)
    const logs = decoded._tag === "Legacy" ? { stdout: decoded.state.stdoutPath, stderr: decoded.state.stderrPath } : undefined

    yield* Effect.gen(function*() {
      // The task is asked for first, and the container only when there is no task, to tell a removed container
      // from a rebooted host: one call per task, not two, when Nomad recovers every task of the node at once.
      // (containerd's clients delete a container's task before the container, as removeContainer does.)
      const got = yield* containerd.tasks.get({ containerId: state.containerId }).pipe(
        Effect.catchAll((e) =>
          e.reason !== "NotFound" ? Effect.fail(fromContainerd("Error in recovering task status", e)) : containerd.containers.get({ id: state.containerId }).pipe(
            Effect.mapError((e) => recoveryError("Error in recovering container", e)),
            Effect.flatMap(() =>
              taskError(
                "Recover",
                `Error in recovering task: container ${state.containerId} has no task in containerd (was the host rebooted?)`,
                false,
                e
              )
            )
          )
        )
      )
      const watch = watchExit(ctx.client, state)
      const record = yield* ctx.store.add(
        config,
        state,
        logs === undefined ? watch : withLegacyLogs(watch, { stdout: got.process?.stdout ?? "", stderr: got.process?.stderr ?? "" }, logs)
      )
      // The original driver started its tasks some seconds after StartTask returned: a handle of a task it never
      // got to start is finished here.
      if (got.process?.status === Status.CREATED) {
        yield* containerd.tasks.start({ containerId: state.containerId }).pipe(
          Effect.tapError(() => ctx.store.remove(config.id)),
          Effect.mapError((e) => fromContainerd("Error in recovering task", e))
        )
      }
      // A task that exited while no plugin ran is reported EXITED from the first InspectTask on: its watcher's
      // Wait answers at once (the shim kept the status), so RecoverTask waits for that report before returning.
      if (got.process?.status === Status.STOPPED) {
        yield* Deferred.await(record.exit).pipe(Effect.timeout(exitReportTimeout), Effect.ignore)
      }
    }).pipe(inNamespace(state.namespace), retryWhileUnreachable)
    // The counts of the image GC are rebuilt from the tasks recovered, so a restart frees no image in use.
    if (state.image !== "") yield* ctx.gc.use(config.id, { namespace: state.namespace, name: state.image })
    yield* Effect.logInfo("task recovered").pipe(Effect.annotateLogs({ task_id: config.id, container: state.containerId }))
  }).pipe(Effect.withSpan("Tasks.recover", { attributes: { task: handle.config?.id ?? "" } }))

/** The original driver's state: its container, looked up in the namespace it used (the same default as ours). */
const fromLegacy = (node: Node, legacy: { readonly containerName: string; readonly startedAt: number | undefined }) =>
  node.containerd.containers.get({ id: legacy.containerName }).pipe(
    inNamespace(node.active.namespace),
    Effect.mapError((e) => recoveryError("Error in recovering container", e)),
    Effect.map(({ container }): DriverState => ({
      version: 1,
      namespace: node.active.namespace,
      containerId: legacy.containerName,
      snapshotter: container?.snapshotter ?? node.images.snapshotter,
      snapshotKey: container?.snapshotKey ?? `${legacy.containerName}-snapshot`,
      image: container?.image ?? "",
      imageDigest: "",
      startedAt: legacy.startedAt ?? container?.createdAt?.getTime() ?? Date.now(),
      stopSignal: "SIGTERM",
      // The original kept its hosts file in the task's local/ dir, which Nomad removes with the allocation.
      generatedDir: ""
    }))
  )
