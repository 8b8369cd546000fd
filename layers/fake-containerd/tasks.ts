/**
 * FakeContainerd's tasks. Tasks run simulated processes: each process follows a
 * `SimulatedProcess` script (write some output, exit by itself after a while, run out of memory, or run until a
 * signal it dies on), exit statuses follow runc (128 + signal when killed), Wait blocks until the exit, output
 * goes to the stdio paths the way the runc shim writes it (stdio.ts), the states and errors are those of
 * containerd 1.6 with the runc v2 shim, and the task events containerd publishes (/tasks/create, /tasks/start,
 * /tasks/oom, /tasks/exit, /tasks/delete, ...) are published here too.
 */
import { Clock, Deferred, Duration, Effect, Either, FiberSet } from "effect"
import * as Cgroup1 from "../../src/gen/github.com/containerd/cgroups/cgroup1/stats/metrics.js"
import * as Cgroup2 from "../../src/gen/github.com/containerd/cgroups/cgroup2/stats/metrics.js"
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
import type { TasksApi } from "../Containerd.js"
import type { ContainerdError } from "../containerd/ContainerdError.js"
import { containerMissing } from "./containers.js"
import { filterOf } from "./content.js"
import { openOutput, type OutputStream, type ProcessOutput, type StdioError, type StdioPaths } from "./stdio.js"
import { type CallContext, fakeUnary, identifierViolation, type NamespaceState, type World } from "./world.js"

/** How a simulated process behaves once started. */
export interface SimulatedProcess {
  /** Written to the process's stdout / stderr when it starts (more can be written with the control's `write`). */
  readonly stdout?: string | undefined
  readonly stderr?: string | undefined
  /** Exit by itself after `after` with `status`. Default: run until a signal ends it. */
  readonly exit?: { readonly after: Duration.DurationInput; readonly status: number } | undefined
  /** Signals that end the process (exit status 128 + signal); SIGKILL always does. Default "all". */
  readonly diesOn?: ReadonlyArray<number> | "all" | undefined
  /** Exceeds its memory limit right after starting: OOM-killed (137, /tasks/oom, oom_kill counted in metrics). */
  readonly outOfMemory?: boolean | undefined
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
  /** Open from Tasks.Create (init) or Tasks.Start (exec) until the exit or the delete. */
  output: ProcessOutput | undefined
}

export interface TaskRecord {
  readonly init: ProcessRecord
  readonly execs: Map<string, ProcessRecord>
  /** Last Tasks.Update resources. */
  resources: Any | undefined
  /** Metrics set by the test; otherwise synthesized. */
  metrics: Any | undefined
  metricsSamples: number
  /** OOM kills in the task's cgroup (memory_oom_control.oom_kill / memory.events oom_kill). */
  oomKills: number
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

// containerd 1.6 leaves container_id empty and reports Go's zero time until the process exited.
const toProcess = (record: ProcessRecord): Process => ({
  containerId: "",
  id: record.execId === "" ? record.containerId : record.execId,
  pid: record.pid,
  status: record.status,
  stdin: record.stdin,
  stdout: record.stdout,
  stderr: record.stderr,
  terminal: record.terminal,
  exitStatus: record.exitStatus,
  exitedAt: record.exitedAt ?? goZeroTime
})

const packed = <T>(type: AnyType<T>, value: T): Any => Either.getOrThrow(pack(type, value))

/**
 * A task whose Tasks.Create is still opening the output (waiting for a FIFO's reader). containerd lists it
 * (Get/List: status UNKNOWN, pid 0) but nothing else sees it yet.
 */
const isCreating = (task: TaskRecord) => task.init.status === Status.UNKNOWN

const isRunning = (record: ProcessRecord) => record.status === Status.RUNNING || record.status === Status.PAUSED || record.status === Status.PAUSING

/** What the fake's control does to processes, beside the RPCs. */
export interface ProcessControl {
  /** Ends a process with `exitStatus`, as if it exited by itself; its execs die with the init process. */
  readonly exit: (context: CallContext, ns: NamespaceState, record: ProcessRecord, exitStatus: number) => Effect.Effect<void>
  /** The task's cgroup hit its memory limit: counted, /tasks/oom published, and `record` killed if `kill`. */
  readonly outOfMemory: (
    context: CallContext,
    ns: NamespaceState,
    record: ProcessRecord,
    options: { readonly kill: boolean }
  ) => Effect.Effect<void>
}

/** Closes the output of every process of the namespace (when the fake shuts down). */
export const closeOutputs = (ns: NamespaceState): void => {
  for (const task of ns.tasks.values()) {
    for (const record of [task.init, ...task.execs.values()]) record.output?.close()
  }
}

/** Writes to a running process's output. */
export const writeOutput = (record: ProcessRecord, stream: OutputStream, text: string): void => record.output?.write(stream, text)

export const makeFakeTasks = (deps: TaskDeps): { readonly tasks: TasksApi; readonly processes: ProcessControl } => {
  const { world } = deps
  const T = TasksService

  const taskMissing = (context: CallContext, id: string) => context.fail("NotFound", `task ${id} not found`)

  /** A task that exists (not one whose Tasks.Create is still waiting for its output to open). */
  const taskOf = (context: CallContext, containerId: string): Effect.Effect<TaskRecord, ContainerdError> => {
    const task = context.view.tasks.get(containerId)
    return task === undefined || isCreating(task) ? Effect.fail(taskMissing(context, containerId)) : Effect.succeed(task)
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
      // The shim closes the pipes when the process's output ends: readers see EOF before the exit event.
      record.output?.close()
      record.output = undefined
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
      script: deps.behaviour({ containerId, execId, args }),
      output: undefined
    }))

  const outOfMemory: ProcessControl["outOfMemory"] = (context, ns, record, options) =>
    Effect.gen(function*() {
      const task = ns.tasks.get(record.containerId)
      if (task !== undefined) task.oomKills++
      yield* context.publish("/tasks/oom", packed(AnyTypes.TaskOOM, { containerId: record.containerId }))
      if (options.kill) yield* exit(context, ns, record, 137)
    })

  /** Opens a process's output; a failure is the shim's error, prefixed as the RPC reports it. */
  const openProcessOutput = (context: CallContext, io: StdioPaths, prefix: string) =>
    Effect.mapError(openOutput(io), (error: StdioError) =>
      error.reason === "Unsupported"
        ? context.fail("Unimplemented", `fake containerd: ${error.detail}`)
        : context.fail("Unknown", `${prefix}failed to start io pipe copy: unable to copy pipes: ${error.detail}`))

  /** Runs what the script does after the start (exit, OOM) in the background, after Start has answered. */
  const runScript = (context: CallContext, ns: NamespaceState, record: ProcessRecord): Effect.Effect<void> => {
    const { exit: scheduled, outOfMemory: oom } = record.script
    const steps: Array<Effect.Effect<void>> = []
    if (oom === true) steps.push(Effect.zipRight(Effect.yieldNow(), outOfMemory(context, ns, record, { kill: true })))
    if (scheduled !== undefined) {
      const after = Duration.decode(scheduled.after)
      const wait = Duration.toMillis(after) === 0 ? Effect.yieldNow() : Effect.sleep(after)
      steps.push(Effect.zipRight(wait, exit(context, ns, record, scheduled.status)))
    }
    return Effect.forEach(steps, (step) => FiberSet.run(deps.background, step), { discard: true })
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
        init.status = Status.UNKNOWN
        const task: TaskRecord = { init, execs: new Map(), resources: undefined, metrics: undefined, metricsSamples: 0, oomKills: 0 }
        ns.tasks.set(request.containerId, task)
        // May wait for a FIFO's reader, as the shim does; a failed or interrupted Create leaves no task.
        init.output = yield* openProcessOutput(context, io, "failed to create shim task: ").pipe(
          Effect.onError(() => Effect.sync(() => ns.tasks.delete(request.containerId)))
        )
        init.pid = world.nextPid++
        init.status = Status.CREATED
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
          const state = record.status === Status.STOPPED ? "stopped" : "running"
          return yield* Effect.fail(context.fail("Unknown", `cannot start a ${state} process`))
        }
        if (record.execId !== "") {
          // An exec's output is opened by Start (a missing file fails here; the exec stays created).
          const output = yield* openProcessOutput(context, record, "")
          if (record.status !== Status.CREATED) {
            output.close()
            return yield* Effect.fail(context.fail("Unknown", "cannot start a running process"))
          }
          record.output = output
          record.pid = world.nextPid++
        }
        record.status = Status.RUNNING
        if (record.script.stdout !== undefined) writeOutput(record, "stdout", record.script.stdout)
        if (record.script.stderr !== undefined) writeOutput(record, "stderr", record.script.stderr)
        yield* record.execId === ""
          ? context.publish("/tasks/start", packed(AnyTypes.TaskStart, { containerId: record.containerId, pid: record.pid }))
          : context.publish("/tasks/exec-started", packed(AnyTypes.TaskExecStarted, {
            containerId: record.containerId,
            execId: record.execId,
            pid: record.pid
          }))
        yield* runScript(context, context.view, record)
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
        for (const record of [init, ...task.execs.values()]) record.output?.close()
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
        if (isRunning(record)) return yield* Effect.fail(context.fail("Unknown", "cannot delete a running process"))
        const exitedAt = record.exitedAt ?? goZeroTime
        yield* Deferred.succeed(record.exited, { exitStatus: record.exitStatus, exitedAt })
        record.output?.close()
        task.execs.delete(request.execId)
        return { id: request.execId, pid: record.pid, exitStatus: record.exitStatus, exitedAt }
      })),
    get: fakeUnary(world, T.get, GetRequest, "namespaced", (request, context) => {
      const creating = context.view.tasks.get(request.containerId)
      if (request.execId === "" && creating !== undefined && isCreating(creating)) {
        return Effect.succeed({ process: toProcess(creating.init) })
      }
      return Effect.map(processOf(context, request.containerId, request.execId), ({ record }) => ({ process: toProcess(record) }))
    }),
    list: fakeUnary(world, T.list, ListTasksRequest, "namespaced", (_request, context) =>
      Effect.succeed({ tasks: [...context.view.tasks.values()].map((task) => toProcess(task.init)) })),
    kill: fakeUnary(world, T.kill, KillRequest, "namespaced", (request, context) =>
      Effect.gen(function*() {
        const { record, task } = yield* processOf(context, request.containerId, request.execId)
        // runc kill --all of a stopped container has nothing to signal and does not complain.
        if (record.status === Status.STOPPED && !request.all) {
          return yield* Effect.fail(context.fail("NotFound", "process already finished"))
        }
        if (record.status === Status.CREATED && record.execId !== "") {
          return yield* Effect.fail(context.fail("FailedPrecondition", "process not created"))
        }
        const targets = request.all && request.execId === "" ? [...task.execs.values(), record] : [record]
        for (const target of targets) {
          // An exec not started yet has no process to signal (a created init process does: runc's init).
          const signallable = target.execId === "" ? target.status !== Status.STOPPED : isRunning(target)
          if (signallable && diesOn(target, request.signal)) {
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
        if (task.init.status === Status.STOPPED) return yield* Effect.fail(context.fail("Unknown", "cannot exec in a stopped state"))
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
          .filter(([id, task]) => !isCreating(task) && matchesFilter(filter, labelledLookup({ id, namespace: context.namespace })))
          .map(([id, task]) => ({ timestamp: context.now, id, data: task.metrics ?? synthesizedMetrics(deps.cgroupVersion, task) }))
      }))),
    wait: fakeUnary(world, T.wait, WaitRequest, "namespaced", (request, context) =>
      Effect.flatMap(processOf(context, request.containerId, request.execId), ({ record }) => Deferred.await(record.exited)))
  }

  return { tasks, processes: { exit, outOfMemory } }
}

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
      memory: { rss: memory, cache: 0n, usage: { usage: memory, max: memory, limit: 9223372036854771712n } },
      memoryOomControl: { oomKillDisable: 0n, underOom: 0n, oomKill: BigInt(task.oomKills) }
    }))
  }
  return packed(AnyTypes.CgroupV2Metrics, Cgroup2.Metrics.fromPartial({
    pids: { current: BigInt(running), limit: 0n },
    cpu: { usageUsec: cpuMicros, userUsec: (cpuMicros * 4n) / 5n, systemUsec: cpuMicros / 5n },
    memory: { usage: memory, anon: memory, usageLimit: 9223372036854771712n },
    memoryEvents: { oom: BigInt(task.oomKills), oomKill: BigInt(task.oomKills) }
  }))
}

