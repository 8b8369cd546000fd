/**
 * Reaper: removes the containers this driver left behind (`gc { dangling_containers { ... } }`) — a container
 * labelled with a task id (TaskIdentity.taskIdLabel) that no task of this plugin owns, after a DestroyTask that
 * never came or an agent that crashed. Every `period`, the driver's containerd namespace is looked at; a labelled
 * container is dangling when the task its label names is not known here, it is older than `creation_grace`, and no
 * start of it is in progress (a start holds a lease naming its container until the task is known). A dangling
 * container is stopped and removed with its snapshot and generated files, or with `dry_run` only logged; each gets
 * a log line. Containers without the label (the operator's, other tools', the original driver's) are never
 * touched.
 *
 * The first look is one period after the plugin starts, so the tasks Nomad recovers after a restart are known by
 * then.
 */
import { Clock, Context, Effect, Layer, Option, Stream } from "effect"
import { gcSettings } from "../src/gc/GcOptions.js"
import { generatedDirLabel, isGeneratedDir, leaseContainerLabel, taskIdLabel } from "../src/task/TaskIdentity.js"
import { type ContainerdError, inNamespace } from "./Containerd.js"
import { Network } from "./Network.js"
import { NodeConfig } from "./NodeConfig.js"
import { removeContainer } from "./tasks/containers.js"
import { Tasks } from "./Tasks.js"

/** What one look did with a dangling container. */
export interface DanglingContainer {
  readonly containerId: string
  /** The task attempt its label names. */
  readonly taskId: string
  readonly outcome: "removed" | "dry-run" | "failed"
}

export class Reaper extends Context.Tag("containerd-driver/Reaper")<Reaper, {
  /** One look now, whatever `enabled` and `period` say (with the configured `creation_grace` and `dry_run`). */
  readonly sweep: Effect.Effect<ReadonlyArray<DanglingContainer>>
}>() {}

export const make = Effect.gen(function*() {
  const nodeConfig = yield* NodeConfig
  const tasks = yield* Tasks
  const network = yield* Network

  const settings = Effect.map(nodeConfig.active, Option.map((active) => gcSettings(active.config).dangling))

  const sweep: Effect.Effect<ReadonlyArray<DanglingContainer>> = Effect.gen(function*() {
    const node = yield* Effect.option(nodeConfig.node)
    const current = yield* settings
    if (Option.isNone(node) || Option.isNone(current)) return []
    const { dryRun, creationGraceMs } = current.value
    const { containerd } = node.value
    const namespace = node.value.active.namespace
    return yield* Effect.gen(function*() {
      const { containers } = yield* containerd.containers.list({ filters: [`labels."${taskIdLabel}"`] })
      if (containers.length === 0) return []
      const { leases } = yield* containerd.leases.list({ filters: [`labels."${leaseContainerLabel}"`] })
      const starting = new Set(leases.map((lease) => lease.labels[leaseContainerLabel]))
      const now = yield* Clock.currentTimeMillis
      const found: Array<DanglingContainer> = []
      for (const container of containers) {
        const taskId = container.labels[taskIdLabel]!
        if (yield* Effect.isSuccess(tasks.locate(taskId))) continue
        if (starting.has(container.id)) continue
        const created = container.createdAt?.getTime() ?? now
        if (now - created < creationGraceMs) continue
        const log = Effect.annotateLogs({ container: container.id, task_id: taskId, namespace })
        if (dryRun) {
          yield* Effect.logInfo("dangling container: no task owns it; it would be removed (gc.dangling_containers.dry_run)").pipe(log)
          found.push({ containerId: container.id, taskId, outcome: "dry-run" })
          continue
        }
        const removed = yield* removeContainer(containerd, {
          namespace,
          containerId: container.id,
          snapshotter: container.snapshotter,
          snapshotKey: container.snapshotKey
        }).pipe(Effect.either)
        if (removed._tag === "Left") {
          yield* Effect.logWarning(`dangling container: no task owns it, but removing it failed: ${removed.left.message}`).pipe(log)
          found.push({ containerId: container.id, taskId, outcome: "failed" })
          continue
        }
        const generated = container.labels[generatedDirLabel] ?? ""
        if (isGeneratedDir(generated)) yield* network.removeFiles(generated)
        yield* Effect.logInfo("dangling container removed: no task owned it").pipe(log)
        found.push({ containerId: container.id, taskId, outcome: "removed" })
      }
      return found
    }).pipe(
      inNamespace(namespace),
      Effect.catchAll((error: ContainerdError) =>
        Effect.as(Effect.logWarning(`cannot look for dangling containers in ${namespace}: ${error.message}`), [])
      )
    )
  }).pipe(Effect.withSpan("Reaper.sweep"))

  // Each wait reads the config again (waiting for the first SetConfig), so a SetConfig changes the period from the
  // next look on.
  const configured = nodeConfig.changes.pipe(
    Stream.filterMap(Option.map((active) => gcSettings(active.config).dangling)),
    Stream.runHead,
    Effect.map(Option.getOrElse(() => gcSettings({}).dangling))
  )
  const waitForNextLook = Effect.flatMap(configured, (current) => Effect.sleep(current.periodMs))
  const lookIfEnabled = Effect.flatMap(settings, (current) =>
    Option.isSome(current) && current.value.enabled ? Effect.asVoid(sweep) : Effect.void)
  yield* Effect.zipRight(waitForNextLook, lookIfEnabled).pipe(Effect.forever, Effect.forkScoped)

  return Reaper.of({ sweep })
})

export const layer: Layer.Layer<Reaper, never, NodeConfig | Tasks | Network> = Layer.scoped(Reaper, make)
