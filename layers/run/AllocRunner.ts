/**
 * One allocation of a group, as Nomad's alloc runner runs it: its directory, its ports and group network, and its
 * tasks in lifecycle order (Nomad's task hook coordinator): prestart tasks first — the main tasks wait for every
 * prestart task that is not a sidecar to complete and for prestart sidecars to run — then the main tasks, then
 * poststart tasks once the main tasks run; when every task that is not a sidecar is done the sidecars are stopped;
 * poststop tasks run last. A task that fails (its restart policy given up), or a leader task that ends, stops the
 * others. Stopping (Ctrl-C) kills the main and poststart tasks, then the sidecars, then runs the poststop tasks.
 */
import { randomUUID } from "node:crypto"
import { Deferred, Effect, type Scope } from "effect"
import type { Group, Job, Task } from "../../src/job/Job.js"
import type { NodeInfo } from "../../src/job/TaskEnv.js"
import { makeAllocDir } from "./AllocDir.js"
import { allocatePorts, groupNamespace, hostAddress } from "./Network.js"
import type { Plugin } from "./Plugin.js"
import type { RunError } from "./RunError.js"
import { type Output, type RunningTask, runTask, type TaskResult } from "./TaskRunner.js"

export type AllocResult = "complete" | "failed" | "stopped"

export interface AllocContext {
  readonly job: Job
  readonly group: Group
  readonly index: number
  readonly plugin: Plugin
  readonly output: Output
  readonly node: NodeInfo
  readonly nodeCompute: number
  readonly hostVolumes: Readonly<Record<string, string>>
  readonly dataDir: string
}

export interface RunningAlloc {
  readonly id: string
  readonly result: Deferred.Deferred<AllocResult>
  /** Stops the allocation as `nomad job stop` would (idempotent). */
  readonly stop: Effect.Effect<void>
  /** Destroys every task at once. */
  readonly forceStop: Effect.Effect<void>
}

const isSidecar = (t: Task) => t.lifecycle?.sidecar === true

export const allocPrefix = (group: Group, index: number, task: Task) => `${group.name}[${index}].${task.name}`

export const runAlloc = (ctx: AllocContext): Effect.Effect<RunningAlloc, RunError, Scope.Scope> =>
  Effect.gen(function*() {
    const { group } = ctx
    const id = randomUUID()
    const allocDir = yield* makeAllocDir(ctx.dataDir, id)
    const mode = group.network?.mode ?? "host"
    const ports = yield* allocatePorts(group.network?.ports ?? [], mode === "bridge")
    const network = mode === "host" ? undefined : yield* groupNamespace(id, mode, ports)
    const hostIp = hostAddress()
    const alloc = {
      id,
      index: ctx.index,
      ports,
      hostIp,
      ...(network?.address === undefined ? {} : { bridge: { address: network.address, interfaceName: network.interfaceName } })
    }
    if (ports.length > 0) {
      const where = ports.map((p) => `${p.label} ${p.value}${mode === "bridge" ? ` -> ${p.to}` : ""}`).join(", ")
      ctx.output.event(`${group.name}[${ctx.index}]`, `Ports: ${where}${network?.address === undefined ? "" : ` (allocation address ${network.address})`}`)
    }
    const result = yield* Deferred.make<AllocResult>()
    const stopRequested = yield* Deferred.make<void>()
    const started: Array<RunningTask> = []
    const results = new Map<string, TaskResult>()

    const start = (task: Task) =>
      Effect.tap(
        runTask({
          job: ctx.job,
          group,
          task,
          alloc,
          allocDir,
          node: ctx.node,
          nodeCompute: ctx.nodeCompute,
          plugin: ctx.plugin,
          output: ctx.output,
          network,
          hostVolumes: ctx.hostVolumes,
          prefix: allocPrefix(group, ctx.index, task)
        }),
        (running) => Effect.sync(() => started.push(running))
      )
    const awaitResult = (t: RunningTask) => Effect.tap(Deferred.await(t.result), (r) => Effect.sync(() => results.set(t.name, r)))
    const failed = () => [...results.values()].some((r) => r._tag === "Failed")
    const stopping = () => Deferred.isDone(stopRequested)
    /** Waits until `done` holds, re-checking whenever a task ends or a stop is asked for. */
    const until = (tasks: ReadonlyArray<RunningTask>, done: () => Effect.Effect<boolean>) =>
      Effect.gen(function*() {
        for (;;) {
          if (yield* done()) return
          const pending: Array<Effect.Effect<unknown>> = []
          for (const t of tasks) if (!results.has(t.name)) pending.push(awaitResult(t))
          pending.push(Deferred.await(stopRequested))
          yield* Effect.raceAll(pending)
        }
      })
    const killAll = (tasks: ReadonlyArray<RunningTask>) =>
      Effect.forEach(tasks, (t) => Effect.zipRight(t.kill, awaitResult(t)), { concurrency: "unbounded", discard: true })

    const lifecycle = Effect.gen(function*() {
      const byHook = (hook: string | undefined) => group.tasks.filter((t) => t.lifecycle?.hook === hook)
      const prestart = yield* Effect.forEach(byHook("prestart"), start)
      // Main tasks wait for prestart tasks: ephemeral ones complete, sidecars running.
      yield* until(prestart, () =>
        Effect.gen(function*() {
          if (failed() || (yield* stopping())) return true
          for (const t of prestart) {
            const task = group.tasks.find((x) => x.name === t.name)!
            if (isSidecar(task) ? !(yield* Deferred.isDone(t.started)) : !results.has(t.name)) return false
          }
          return true
        }))
      const ephemeralFailed = prestart.some((t) => results.get(t.name)?._tag === "Failed")
      if (!ephemeralFailed && !(yield* stopping())) {
        const main = yield* Effect.forEach(byHook(undefined), start)
        let poststart: Array<RunningTask> = []
        yield* until(main, () =>
          Effect.gen(function*() {
            if (failed() || (yield* stopping())) return true
            for (const t of main) if (!(yield* Deferred.isDone(t.started))) return false
            return true
          }))
        if (!failed() && !(yield* stopping())) poststart = yield* Effect.forEach(byHook("poststart"), start)
        // Until every task that is not a sidecar is done, a task fails, a leader ends, or a stop.
        const watched = [...prestart, ...main, ...poststart]
        yield* until(watched, () =>
          Effect.gen(function*() {
            if (failed() || (yield* stopping())) return true
            const leaders = group.tasks.filter((t) => t.leader).map((t) => t.name)
            if (leaders.some((l) => results.has(l))) return true
            return watched.every((t) => results.has(t.name) || isSidecar(group.tasks.find((x) => x.name === t.name)!))
          }))
        const nonSidecars = watched.filter((t) => !isSidecar(group.tasks.find((x) => x.name === t.name)!))
        yield* killAll([...main, ...nonSidecars.filter((t) => !main.includes(t))])
      }
      yield* killAll(started.filter((t) => group.tasks.find((x) => x.name === t.name)!.lifecycle?.hook !== "poststop"))
      // Poststop tasks run after the others, also when the allocation is stopped.
      const poststop = yield* Effect.forEach(byHook("poststop"), start)
      yield* Effect.forEach(poststop, awaitResult, { discard: true })
      const outcome: AllocResult = failed() ? "failed" : (yield* stopping()) ? "stopped" : "complete"
      yield* Deferred.succeed(result, outcome)
    })
    yield* Effect.forkScoped(lifecycle)
    return {
      id,
      result,
      stop: Effect.asVoid(Deferred.succeed(stopRequested, undefined)),
      forceStop: Effect.suspend(() => Effect.forEach(started, (t) => t.forceKill, { discard: true, concurrency: "unbounded" }))
    }
  })
