/**
 * FakeContainerd's containers and tasks. Tasks run simulated processes: each process follows a
 * `SimulatedProcess` script (exit by itself after a while, or run until a signal it dies on), exit statuses
 * follow runc (128 + signal when killed), Wait blocks until the exit, and the task events containerd
 * publishes (/tasks/create, /tasks/start, /tasks/exit, /tasks/delete, ...) are published here too.
 */
import { Clock, Deferred, Duration, Effect, Either, FiberSet, Stream } from "effect"
import * as Cgroup1 from "../../src/gen/github.com/containerd/cgroups/cgroup1/stats/metrics.js"
import * as Cgroup2 from "../../src/gen/github.com/containerd/cgroups/cgroup2/stats/metrics.js"
import {
  type Container,
  ContainersService,
  CreateContainerRequest,
  DeleteContainerRequest,
  GetContainerRequest,
  ListContainersRequest,
  UpdateContainerRequest
} from "../../src/gen/github.com/containerd/containerd/api/services/containers/v1/containers.js"
import {
  CheckpointTaskRequest,
  CloseIORequest,
  CreateTaskRequest,
  DeleteProcessRequest,
  DeleteTaskRequest,
  ExecProcessRequest,
  GetRequest,
  KillRequest,
  ListPidsRequest,
  ListTasksRequest,
  MetricsRequest,
  PauseTaskRequest,
  ResizePtyRequest,
  ResumeTaskRequest,
  StartRequest,
  TasksService,
  UpdateTaskRequest,
  WaitRequest
} from "../../src/gen/github.com/containerd/containerd/api/services/tasks/v1/tasks.js"
import { type Process, Status } from "../../src/gen/github.com/containerd/containerd/api/types/task/task.js"
import type { Any } from "../../src/gen/google/protobuf/any.js"
import { type AnyType, AnyTypes, pack } from "../../src/containerd/any.js"
import { labelledLookup, matchesFilter } from "../../src/containerd/filters.js"
import type { ContainersApi, TasksApi } from "../Containerd.js"
import type { ContainerdError } from "../containerd/ContainerdError.js"
import { fakeServerStream, filterOf } from "./content.js"
import { type CallContext, fakeUnary, identifierViolation, type NamespaceState, type World } from "./world.js"

/** How a simulated process behaves once started. */
export interface SimulatedProcess {
  /** Exit by itself after `after` with `status`. Default: run until a signal ends it. */
  readonly exit?: { readonly after: Duration.DurationInput; readonly status: number } | undefined
  /** Signals that end the process (exit status 128 + signal); SIGKILL always does. Default "all". */
  readonly diesOn?: ReadonlyArray<number> | "all" | undefined
}

/** Chooses the script of a process from its ids and command line (the spec's process.args). */
export type ProcessBehaviour = (process: {
  readonly containerId: string
  readonly execId: string
  readonly args: ReadonlyArray<string>
}) => SimulatedProcess

export interface ProcessRecord {
  readonly containerId: string
  /** "" for the task's init process. */
  readonly execId: string
  pid: number
  status: Status
  readonly stdin: string
  readonly stdout: string
  readonly stderr: string
  readonly terminal: boolean
  exitStatus: number
  exitedAt: Date | undefined
  readonly exited: Deferred.Deferred<{ readonly exitStatus: number; readonly exitedAt: Date }>
  readonly script: SimulatedProcess
}

export interface TaskRecord {
  readonly init: ProcessRecord
  readonly execs: Map<string, ProcessRecord>
  /** Last Tasks.Update resources. */
  resources: Any | undefined
  /** Metrics set by the test; otherwise synthesized. */
  metrics: Any | undefined
  metricsSamples: number
}

export interface TaskDeps {
  readonly world: World
  readonly behaviour: ProcessBehaviour
  readonly cgroupVersion: 1 | 2
  /** Runs background work (scheduled exits) for the lifetime of the fake. */
  readonly background: FiberSet.FiberSet<unknown, unknown>
}

/** Go's zero time, which containerd reports as exited_at of a process that never ran. */
export const goZeroTime = new Date(-62135596800000)

/** The string array at `path` in a JSON Any payload (a runtime-spec Spec or Process), or [] if absent. */
const argsOf = (any: Any | undefined, path: ReadonlyArray<string>): ReadonlyArray<string> => {
  if (any === undefined) return []
  const decoded = Either.try(() => JSON.parse(any.value.toString("utf8")) as unknown)
  if (Either.isLeft(decoded)) return []
  let value: unknown = decoded.right
  for (const key of path) value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined
  return Array.isArray(value) ? value.filter((a): a is string => typeof a === "string") : []
}

const toProcess = (record: ProcessRecord): Process => ({
  containerId: record.containerId,
  id: record.execId === "" ? record.containerId : record.execId,
  pid: record.pid,
  status: record.status,
  stdin: record.stdin,
  stdout: record.stdout,
  stderr: record.stderr,
  terminal: record.terminal,
  exitStatus: record.exitStatus,
  exitedAt: record.exitedAt
})

const packed = <T>(type: AnyType<T>, value: T): Any => Either.getOrThrow(pack(type, value))

const isRunning = (record: ProcessRecord) => record.status === Status.RUNNING || record.status === Status.PAUSED || record.status === Status.PAUSING

export const makeFakeTasks = (deps: TaskDeps): { readonly containers: ContainersApi; readonly tasks: TasksApi; readonly exit: (context: CallContext, ns: NamespaceState, record: ProcessRecord, exitStatus: number) => Effect.Effect<void> } => {
  const { world } = deps
  const Co = ContainersService
  const T = TasksService

  const containerMissing = (context: CallContext, id: string) =>
    context.fail("NotFound", `container "${id}" in namespace "${context.namespace}"`)
  const taskMissing = (context: CallContext, id: string) => context.fail("NotFound", `task ${id} not found`)

  const taskOf = (context: CallContext, containerId: string): Effect.Effect<TaskRecord, ContainerdError> => {
    const task = context.view.tasks.get(containerId)
    return task === undefined ? Effect.fail(taskMissing(context, containerId)) : Effect.succeed(task)
  }
  const processOf = (context: CallContext, containerId: string, execId: string) =>
    Effect.flatMap(taskOf(context, containerId), (task) => {
      if (execId === "") return Effect.succeed({ task, record: task.init })
      const record = task.execs.get(execId)
      return record === undefined
        ? Effect.fail(context.fail("NotFound", `process ${execId} does not exist`))
        : Effect.succeed({ task, record })
    })

  /** Ends a process: status, exit event, waiters; when the init process ends, its execs die with it. */
  const exit = (context: CallContext, ns: NamespaceState, record: ProcessRecord, exitStatus: number): Effect.Effect<void> =>
    Effect.gen(function*() {
      if (record.status === Status.STOPPED) return
      const exitedAt = new Date(yield* Clock.currentTimeMillis)
      record.status = Status.STOPPED
      record.exitStatus = exitStatus
      record.exitedAt = exitedAt
      yield* context.publish("/tasks/exit", packed(AnyTypes.TaskExit, {
        containerId: record.containerId,
        id: record.execId === "" ? record.containerId : record.execId,
        pid: record.pid,
        exitStatus,
        exitedAt
      }))
      yield* Deferred.succeed(record.exited, { exitStatus, exitedAt })
      if (record.execId === "") {
        const task = ns.tasks.get(record.containerId)
        for (const exec of task?.execs.values() ?? []) {
          if (isRunning(exec)) yield* exit(context, ns, exec, 137)
        }
      }
    })

  const newProcess = (
    containerId: string,
    execId: string,
    io: { stdin: string; stdout: string; stderr: string; terminal: boolean },
    args: ReadonlyArray<string>
  ): Effect.Effect<ProcessRecord> =>
    Effect.map(Deferred.make<{ readonly exitStatus: number; readonly exitedAt: Date }>(), (exited) => ({
      containerId,
      execId,
      pid: 0,
      status: Status.CREATED,
      ...io,
      exitStatus: 0,
      exitedAt: undefined,
      exited,
      script: deps.behaviour({ containerId, execId, args })
    }))

  const containers: ContainersApi = {
    get: fakeUnary(world, Co.get, GetContainerRequest, "namespaced", (request, context) => {
      const container = context.view.containers.get(request.id)
      return container === undefined ? Effect.fail(containerMissing(context, request.id)) : Effect.succeed({ container })
    }),
    list: fakeUnary(world, Co.list, ListContainersRequest, "namespaced", (request, context) =>
      Effect.map(filterOf(context, request.filters), (filter) => ({
        containers: [...context.view.containers.values()].filter((c) => matchesFilter(filter, containerLookup(c)))
      }))),
    listStream: fakeServerStream(world, Co.listStream, ListContainersRequest, (request, context) =>
      Effect.map(filterOf(context, request.filters), (filter) =>
        Stream.fromIterable(
          [...context.view.containers.values()]
            .filter((c) => matchesFilter(filter, containerLookup(c)))
            .map((container) => ({ container }))
        ))),
    create: fakeUnary(world, Co.create, CreateContainerRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const container = request.container
        const invalid = (detail: string) => Effect.fail(context.fail("InvalidArgument", `create container failed validation: ${detail}`))
        if (container === undefined) return yield* invalid("container must be set")
        const idViolation = identifierViolation("container.ID", container.id)
        if (idViolation !== undefined) return yield* invalid(idViolation)
        if ((container.runtime?.name ?? "") === "") return yield* invalid("container.Runtime.Name must be set")
        if (container.spec === undefined) return yield* invalid("container.Spec must be set")
        if (container.snapshotKey !== "" && container.snapshotter === "") {
          return yield* invalid("container.Snapshotter must be set if container.SnapshotKey is set")
        }
        const ns = context.state()
        if (ns.containers.has(container.id)) {
          return yield* Effect.fail(context.fail("AlreadyExists", `container "${container.id}"`))
        }
        const stored: Container = { ...container, createdAt: context.now, updatedAt: context.now }
        ns.containers.set(container.id, stored)
        yield* context.publish("/containers/create", packed(AnyTypes.ContainerCreate, {
          id: stored.id,
          image: stored.image,
          runtime: { name: stored.runtime?.name ?? "", options: stored.runtime?.options }
        }))
        return { container: stored }
      })),
    update: fakeUnary(world, Co.update, UpdateContainerRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const incoming = request.container
        const id = incoming?.id ?? ""
        const current = context.view.containers.get(id)
        if (incoming === undefined || current === undefined) return yield* Effect.fail(context.fail("NotFound", `container "${id}"`))
        const immutable = (field: string) => Effect.fail(context.fail("InvalidArgument", `cannot update "${field}" field on "${id}"`))
        const next: Container = { ...current, labels: { ...current.labels }, extensions: { ...current.extensions } }
        const mask = request.updateMask ?? []
        if (mask.length === 0) {
          if (incoming.runtime?.name !== current.runtime?.name) return yield* immutable("runtime")
          if (incoming.snapshotter !== current.snapshotter) return yield* immutable("snapshotter")
          Object.assign(next, {
            labels: incoming.labels,
            image: incoming.image,
            spec: incoming.spec,
            snapshotKey: incoming.snapshotKey,
            extensions: incoming.extensions
          })
        }
        for (const path of mask) {
          if (path === "labels") next.labels = { ...incoming.labels }
          else if (path.startsWith("labels.")) {
            const key = path.slice(7)
            const value = incoming.labels[key]
            if (value === undefined || value === "") delete next.labels[key]
            else next.labels[key] = value
          } else if (path === "image") next.image = incoming.image
          else if (path === "spec") next.spec = incoming.spec
          else if (path === "snapshotkey") next.snapshotKey = incoming.snapshotKey
          else if (path === "extensions") next.extensions = { ...incoming.extensions }
          else if (path.startsWith("extensions.")) {
            const key = path.slice(11)
            const value = incoming.extensions[key]
            if (value === undefined) delete next.extensions[key]
            else next.extensions[key] = value
          } else return yield* immutable(path)
        }
        next.updatedAt = context.now
        context.state().containers.set(id, next)
        yield* context.publish("/containers/update", packed(AnyTypes.ContainerUpdate, {
          id,
          image: next.image,
          labels: next.labels,
          snapshotKey: next.snapshotKey
        }))
        return { container: next }
      })),
    delete: fakeUnary(world, Co.delete, DeleteContainerRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        if (!context.view.containers.delete(request.id)) return yield* Effect.fail(containerMissing(context, request.id))
        yield* context.publish("/containers/delete", packed(AnyTypes.ContainerDelete, { id: request.id }))
        return {}
      }))
  }

  const scheduleExit = (context: CallContext, ns: NamespaceState, record: ProcessRecord): Effect.Effect<void> => {
    const script = record.script.exit
    if (script === undefined) return Effect.void
    const after = Duration.decode(script.after)
    const wait = Duration.toMillis(after) === 0 ? Effect.yieldNow() : Effect.sleep(after)
    return FiberSet.run(deps.background, Effect.zipRight(wait, exit(context, ns, record, script.status))).pipe(Effect.asVoid)
  }

  const diesOn = (record: ProcessRecord, signal: number): boolean => {
    const diesOn = record.script.diesOn ?? "all"
    return signal === 9 || diesOn === "all" || diesOn.includes(signal)
  }

  const tasks: TasksApi = {
    create: fakeUnary(world, T.create, CreateTaskRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const ns = context.state()
        const container = ns.containers.get(request.containerId)
        if (container === undefined) return yield* Effect.fail(containerMissing(context, request.containerId))
        if (ns.tasks.has(request.containerId)) {
          return yield* Effect.fail(context.fail("AlreadyExists", `task ${request.containerId}`))
        }
        const io = { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal }
        const init = yield* newProcess(request.containerId, "", io, argsOf(container.spec, ["process", "args"]))
        init.pid = world.nextPid++
        ns.tasks.set(request.containerId, { init, execs: new Map(), resources: undefined, metrics: undefined, metricsSamples: 0 })
        yield* context.publish("/tasks/create", packed(AnyTypes.TaskCreate, {
          containerId: request.containerId,
          bundle: `/run/containerd/io.containerd.runtime.v2.task/${context.namespace}/${request.containerId}`,
          rootfs: request.rootfs,
          io,
          checkpoint: "",
          pid: init.pid
        }))
        return { containerId: request.containerId, pid: init.pid }
      })),
    start: fakeUnary(world, T.start, StartRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const { record } = yield* processOf(context, request.containerId, request.execId)
        if (record.status !== Status.CREATED) {
          return yield* Effect.fail(context.fail("FailedPrecondition", `process ${record.execId || record.containerId} is not in created state`))
        }
        if (record.execId !== "") record.pid = world.nextPid++
        record.status = Status.RUNNING
        yield* record.execId === ""
          ? context.publish("/tasks/start", packed(AnyTypes.TaskStart, { containerId: record.containerId, pid: record.pid }))
          : context.publish("/tasks/exec-started", packed(AnyTypes.TaskExecStarted, {
            containerId: record.containerId,
            execId: record.execId,
            pid: record.pid
          }))
        yield* scheduleExit(context, context.view, record)
        return { pid: record.pid }
      })),
    delete: fakeUnary(world, T.delete, DeleteTaskRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const task = yield* taskOf(context, request.containerId)
        const init = task.init
        if (isRunning(init)) {
          return yield* Effect.fail(context.fail("Unknown", "failed to delete task: cannot delete a running process"))
        }
        const exitedAt = init.exitedAt ?? goZeroTime
        yield* Deferred.succeed(init.exited, { exitStatus: init.exitStatus, exitedAt })
        context.view.tasks.delete(request.containerId)
        yield* context.publish("/tasks/delete", packed(AnyTypes.TaskDelete, {
          containerId: request.containerId,
          pid: init.pid,
          exitStatus: init.exitStatus,
          exitedAt,
          id: request.containerId
        }))
        // containerd 1.6 leaves `id` empty here.
        return { id: "", pid: init.pid, exitStatus: init.exitStatus, exitedAt }
      })),
    deleteProcess: fakeUnary(world, T.deleteProcess, DeleteProcessRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const { record, task } = yield* processOf(context, request.containerId, request.execId)
        if (record.execId === "") return yield* Effect.fail(context.fail("InvalidArgument", "cannot delete init process with DeleteProcess"))
        if (isRunning(record)) {
          return yield* Effect.fail(context.fail("Unknown", "failed to delete process: cannot delete a running process"))
        }
        const exitedAt = record.exitedAt ?? goZeroTime
        yield* Deferred.succeed(record.exited, { exitStatus: record.exitStatus, exitedAt })
        task.execs.delete(request.execId)
        return { id: request.execId, pid: record.pid, exitStatus: record.exitStatus, exitedAt }
      })),
    get: fakeUnary(world, T.get, GetRequest, "namespaced", (request, context) =>
      Effect.map(processOf(context, request.containerId, request.execId), ({ record }) => ({ process: toProcess(record) }))),
    list: fakeUnary(world, T.list, ListTasksRequest, "namespaced", (_request, context) =>
      Effect.succeed({ tasks: [...context.view.tasks.values()].map((task) => toProcess(task.init)) })),
    kill: fakeUnary(world, T.kill, KillRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const { record, task } = yield* processOf(context, request.containerId, request.execId)
        if (record.status === Status.STOPPED) return yield* Effect.fail(context.fail("NotFound", "process already finished"))
        const targets = request.all && request.execId === "" ? [...task.execs.values(), record] : [record]
        for (const target of targets) {
          if (target.status !== Status.STOPPED && diesOn(target, request.signal)) {
            yield* exit(context, context.view, target, 128 + request.signal)
          }
        }
        return {}
      })),
    exec: fakeUnary(world, T.exec, ExecProcessRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const task = yield* taskOf(context, request.containerId)
        if (identifierViolation("exec id", request.execId) !== undefined) {
          return yield* Effect.fail(context.fail("InvalidArgument", `invalid exec id ${request.execId}`))
        }
        if (task.execs.has(request.execId)) {
          return yield* Effect.fail(context.fail("AlreadyExists", `id ${request.execId}`))
        }
        if (request.spec === undefined) return yield* Effect.fail(context.fail("InvalidArgument", "exec spec must be set"))
        if (task.init.status !== Status.RUNNING) {
          return yield* Effect.fail(context.fail("FailedPrecondition", `container ${request.containerId} is not running`))
        }
        const io = { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal }
        task.execs.set(request.execId, yield* newProcess(request.containerId, request.execId, io, argsOf(request.spec, ["args"])))
        yield* context.publish("/tasks/exec-added", packed(AnyTypes.TaskExecAdded, {
          containerId: request.containerId,
          execId: request.execId
        }))
        return {}
      })),
    resizePty: fakeUnary(world, T.resizePty, ResizePtyRequest, "namespaced", (request, context) =>
      Effect.as(processOf(context, request.containerId, request.execId), {})),
    closeIo: fakeUnary(world, T.closeIo, CloseIORequest, "namespaced", (request, context) =>
      Effect.as(processOf(context, request.containerId, request.execId), {})),
    pause: fakeUnary(world, T.pause, PauseTaskRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const { init } = yield* taskOf(context, request.containerId)
        if (init.status !== Status.RUNNING) return yield* Effect.fail(context.fail("FailedPrecondition", "container is not running"))
        init.status = Status.PAUSED
        yield* context.publish("/tasks/paused", packed(AnyTypes.TaskPaused, { containerId: request.containerId }))
        return {}
      })),
    resume: fakeUnary(world, T.resume, ResumeTaskRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const { init } = yield* taskOf(context, request.containerId)
        if (init.status !== Status.PAUSED) return yield* Effect.fail(context.fail("FailedPrecondition", "container is not paused"))
        init.status = Status.RUNNING
        yield* context.publish("/tasks/resumed", packed(AnyTypes.TaskResumed, { containerId: request.containerId }))
        return {}
      })),
    listPids: fakeUnary(world, T.listPids, ListPidsRequest, "namespaced", (request, context) =>
      Effect.map(taskOf(context, request.containerId), (task) => ({
        processes: [
          ...(isRunning(task.init) ? [{ pid: task.init.pid, info: undefined }] : []),
          ...[...task.execs.values()].filter(isRunning).map((exec) => ({
            pid: exec.pid,
            info: packed(AnyTypes.RuncProcessDetails, { execId: exec.execId })
          }))
        ]
      }))),
    checkpoint: fakeUnary(world, T.checkpoint, CheckpointTaskRequest, "namespaced", (_request, context) =>
      Effect.fail(context.fail("Unimplemented", "fake containerd does not checkpoint tasks"))),
    update: fakeUnary(world, T.update, UpdateTaskRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const task = yield* taskOf(context, request.containerId)
        task.resources = request.resources
        return {}
      })),
    metrics: fakeUnary(world, T.metrics, MetricsRequest, "namespaced", (request, context) =>
      Effect.map(filterOf(context, request.filters), (filter) => ({
        metrics: [...context.view.tasks.entries()]
          .filter(([id]) => matchesFilter(filter, labelledLookup({ id, namespace: context.namespace })))
          .map(([id, task]) => ({ timestamp: context.now, id, data: task.metrics ?? synthesizedMetrics(deps.cgroupVersion, task) }))
      }))),
    wait: fakeUnary(world, T.wait, WaitRequest, "namespaced", (request, context) =>
      Effect.flatMap(processOf(context, request.containerId, request.execId), ({ record }) => Deferred.await(record.exited)))
  }

  return { containers, tasks, exit }
}

const containerLookup = (container: Container) =>
  labelledLookup(
    { id: container.id, image: container.image, "runtime.name": container.runtime?.name, snapshotter: container.snapshotter },
    container.labels
  )

/** Plausible, steadily growing metrics for a task whose metrics the test did not set. */
const synthesizedMetrics = (cgroupVersion: 1 | 2, task: TaskRecord): Any => {
  task.metricsSamples++
  const running = [task.init, ...task.execs.values()].filter(isRunning).length
  const cpuMicros = BigInt(task.metricsSamples) * 10_000n
  const memory = 4n << 20n
  if (cgroupVersion === 1) {
    return packed(AnyTypes.CgroupV1Metrics, Cgroup1.Metrics.fromPartial({
      pids: { current: BigInt(running), limit: 0n },
      cpu: { usage: { total: cpuMicros * 1000n, kernel: cpuMicros * 200n, user: cpuMicros * 800n, perCpu: [cpuMicros * 1000n] } },
      memory: { rss: memory, cache: 0n, usage: { usage: memory, max: memory, limit: 9223372036854771712n } }
    }))
  }
  return packed(AnyTypes.CgroupV2Metrics, Cgroup2.Metrics.fromPartial({
    pids: { current: BigInt(running), limit: 0n },
    cpu: { usageUsec: cpuMicros, userUsec: (cpuMicros * 4n) / 5n, systemUsec: cpuMicros / 5n },
    memory: { usage: memory, anon: memory, usageLimit: 9223372036854771712n }
  }))
}

