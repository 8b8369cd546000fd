/**
 * One task of an allocation driven as Nomad's task runner drives it (hashicorp/nomad
 * client/allocrunner/taskrunner/task_runner.go): prestart (task dir, logmon, templates rendered into the task dir,
 * the task's environment), then for every attempt a new TaskConfig — the config interpolated and encoded as the
 * client encodes it — StartTask, WaitTask, DestroyTask, and the restart policy deciding what follows
 * (src/job/Restart.ts). A kill (the allocation stopping) waits out the task's shutdown_delay, then StopTask with its
 * kill_signal and kill_timeout (capped by the client's max_kill_timeout), waits for the exit and destroys the task;
 * a kill during StartTask (a pull) cancels the call and destroys whatever it made. Every step is reported as Nomad's
 * task events.
 */
import { randomBytes } from "node:crypto"
import { Deferred, Effect, Either, Fiber, Option, type Scope } from "effect"
import { hclSpec } from "../../src/config/HclSpec.js"
import { taskOptions } from "../../src/config/TaskConfig.js"
import type { Mount } from "../../src/gen/plugins/drivers/proto/driver.js"
import { clientConfigBytes } from "../../src/job/ClientConfig.js"
import { type Group, type Job, maxKillTimeoutMs, type Task } from "../../src/job/Job.js"
import { initialRestartState, isSuccess, nextAfter, type TaskEnd } from "../../src/job/Restart.js"
import { taskConfigMessage } from "../../src/job/StartRequest.js"
import { type AllocInfo, type NodeInfo, nodeAttributes, taskEnv } from "../../src/job/TaskEnv.js"
import { parseEnvFile, renderTemplate, TemplateError } from "../../src/job/Template.js"
import type { AllocDir } from "./AllocDir.js"
import { makeLogmon } from "./Logmon.js"
import type { Plugin } from "./Plugin.js"

/** How a task ended for good. */
export type TaskResult =
  | { readonly _tag: "Complete" }
  | { readonly _tag: "Failed"; readonly reason: string }
  | { readonly _tag: "Killed" }

export interface Output {
  readonly stdout: (prefix: string, line: string) => void
  readonly stderr: (prefix: string, line: string) => void
  readonly event: (prefix: string, message: string) => void
}

export interface TaskContext {
  readonly job: Job
  readonly group: Group
  readonly task: Task
  readonly alloc: AllocInfo
  readonly allocDir: AllocDir
  readonly node: NodeInfo
  /** The node's compute in MHz (for PercentTicks). */
  readonly nodeCompute: number
  readonly plugin: Plugin
  readonly output: Output
  /** The group network namespace, when the group has one. */
  readonly network: { readonly path: string; readonly address: string | undefined } | undefined
  /** Host volume name to host path. */
  readonly hostVolumes: Readonly<Record<string, string>>
  readonly prefix: string
}

export interface RunningTask {
  readonly name: string
  /** Succeeds with true once the task first runs, false if it ended without ever running. */
  readonly started: Deferred.Deferred<boolean>
  readonly result: Deferred.Deferred<TaskResult>
  /** Asks the task to stop (idempotent). */
  readonly kill: Effect.Effect<void>
  /** Destroys the task at once (a second Ctrl-C). */
  readonly forceKill: Effect.Effect<void>
  /** Whether the task is still starting or running (not done). */
  readonly active: Effect.Effect<boolean>
}

const signalNumbers: Readonly<Record<number, string>> = { 1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 6: "SIGABRT", 9: "SIGKILL", 10: "SIGUSR1", 12: "SIGUSR2", 15: "SIGTERM" }

const describeExit = (exitCode: number, signal: number, oomKilled: boolean, err: string) =>
  `Exit Code: ${exitCode}${signal === 0 ? "" : `, Signal: ${signal}${signalNumbers[signal] === undefined ? "" : ` (${signalNumbers[signal]})`}`}${oomKilled ? ", OOM Killed" : ""}${err === "" ? "" : `, Exit Message: ${JSON.stringify(err)}`}`

const seconds = (ms: number) => `${Math.round(ms / 100) / 10}s`

/** The host volume mounts of the task's volume_mount blocks. */
const mountsOf = (ctx: TaskContext): ReadonlyArray<Mount> =>
  ctx.task.volumeMounts.map((m) => {
    const volume = ctx.group.volumes[m.volume]!
    return {
      taskPath: m.destination,
      hostPath: ctx.hostVolumes[volume.source]!,
      readonly: volume.readOnly || m.readOnly,
      propagationMode: m.propagationMode,
      selinuxLabel: "",
      requestName: m.volume
    }
  })

/** Starts the task's life in the background (a daemon fiber the caller's scope ends); returns its handle. */
export const runTask = (ctx: TaskContext): Effect.Effect<RunningTask, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { output, plugin, prefix, task } = ctx
    const started = yield* Deferred.make<boolean>()
    const result = yield* Deferred.make<TaskResult>()
    const killRequested = yield* Deferred.make<void>()
    let currentId: string | undefined
    const event = (message: string) => Effect.sync(() => output.event(prefix, message))

    const finish = (r: TaskResult) =>
      Effect.gen(function*() {
        yield* Deferred.succeed(started, false)
        yield* Deferred.succeed(result, r)
      })

    const life = Effect.gen(function*() {
      yield* event("Received: Task received by client")
      const taskDir = yield* ctx.allocDir.taskDir(task.name)
      const logmon = yield* makeLogmon(ctx.allocDir.dir, task.name, (line) => output.stdout(prefix, line), (line) => output.stderr(prefix, line))
      yield* event(`Task Setup: Building Task Directory (${taskDir})`)
      let restartState = initialRestartState(Date.now())
      const attributes = nodeAttributes(ctx.job, ctx.node)
      for (;;) {
        if (yield* Deferred.isDone(killRequested)) return yield* finish({ _tag: "Killed" })
        // Templates, rendered with the task's environment, may add to it (env = true).
        const baseEnv = taskEnv(ctx.job, ctx.group, task, ctx.alloc, ctx.node)
        let templateEnv: Record<string, string> = {}
        for (const t of task.templates) {
          const rendered = Either.try({
            try: () => renderTemplate(t.data, { env: baseEnv, leftDelimiter: t.leftDelimiter, rightDelimiter: t.rightDelimiter, errorOnMissingKey: t.errorOnMissingKey }),
            catch: (e) => (e instanceof TemplateError ? e.message : String(e))
          })
          if (Either.isLeft(rendered)) {
            yield* event(`Killing: Template failed: ${t.destination}${t.pos === undefined ? "" : ` (line ${t.pos.line})`}: ${rendered.left}`)
            return yield* finish({ _tag: "Failed", reason: `template ${t.destination}: ${rendered.left}` })
          }
          const written = yield* Effect.either(ctx.allocDir.writeFile(task.name, t.destination, rendered.right, parseInt(t.perms, 8)))
          if (Either.isLeft(written)) return yield* finish({ _tag: "Failed", reason: written.left.message })
          if (t.env) {
            const parsed = Either.try({ try: () => parseEnvFile(rendered.right), catch: (e) => (e as Error).message })
            if (Either.isLeft(parsed)) return yield* finish({ _tag: "Failed", reason: `template ${t.destination}: ${parsed.left}` })
            templateEnv = { ...templateEnv, ...parsed.right }
          }
        }
        const env = taskEnv(ctx.job, ctx.group, task, ctx.alloc, ctx.node, templateEnv)
        const bytes = clientConfigBytes(hclSpec(taskOptions), task.config, env, attributes)
        if (Either.isLeft(bytes)) {
          const where = bytes.left.option !== undefined ? task.configPositions[bytes.left.option] : undefined
          const reason = `${where === undefined ? "" : `line ${where.line}: `}failed to parse config: ${bytes.left.detail}`
          yield* event(`Failed Validation: ${reason}`)
          return yield* finish({ _tag: "Failed", reason })
        }
        const id = `${ctx.alloc.id}/${task.name}/${randomBytes(4).toString("hex")}`
        currentId = id
        const config = taskConfigMessage({
          id,
          job: ctx.job,
          group: ctx.group.name,
          task: task.name,
          allocId: ctx.alloc.id,
          allocDir: ctx.allocDir.dir,
          env,
          user: task.user,
          resources: task.resources,
          nodeCompute: ctx.nodeCompute,
          config: bytes.right,
          stdoutPath: task.logsDisabled ? "/dev/null" : logmon.stdoutPath,
          stderrPath: task.logsDisabled ? "/dev/null" : logmon.stderrPath,
          mounts: mountsOf(ctx),
          ports: ctx.alloc.ports.map((p) => ({ ...p, hostIp: ctx.alloc.hostIp })),
          network: ctx.network === undefined
            ? undefined
            : {
              path: ctx.network.path,
              ...(ctx.group.network?.hostname === undefined
                ? {}
                : { hostname: String(taskEnvInterpolated(ctx.group.network.hostname, env)), address: ctx.network.address ?? "" })
            },
          dns: ctx.group.network?.dns,
          node: ctx.node
        })
        // StartTask may pull for a long time. A kill meanwhile gives it the kill timeout to finish (the task is then
        // stopped as usual); after that the call is cancelled (the plugin rolls back what it made) and the task
        // destroyed in case it got further.
        const timeout = Math.min(task.killTimeoutMs, maxKillTimeoutMs)
        const starting = yield* Effect.fork(Effect.either(plugin.start(config)))
        let killedAt: number | undefined
        let start = yield* Effect.raceFirst(
          Fiber.join(starting).pipe(Effect.map(Option.some)),
          Deferred.await(killRequested).pipe(Effect.as(Option.none()))
        )
        if (Option.isNone(start)) {
          killedAt = Date.now()
          start = yield* Effect.timeoutOption(Fiber.join(starting), timeout)
          if (Option.isNone(start)) {
            yield* Fiber.interrupt(starting)
            yield* Effect.ignore(plugin.destroy(id))
            yield* event("Killed: Task killed while starting")
            return yield* finish({ _tag: "Killed" })
          }
        }
        let end: TaskEnd
        if (Either.isLeft(start.value)) {
          const failure = start.value.left
          yield* event(`Driver Failure: ${failure.message}`)
          yield* Effect.ignore(plugin.destroy(id))
          end = { _tag: "StartFailed", recoverable: failure.recoverable, message: failure.message }
        } else {
          yield* event("Started: Task started by client")
          yield* Deferred.succeed(started, true)
          const waiting = yield* Effect.fork(Effect.either(plugin.wait(id)))
          const first = yield* Effect.raceFirst(
            Fiber.join(waiting).pipe(Effect.map(Option.some)),
            Deferred.await(killRequested).pipe(Effect.as(Option.none()))
          )
          let exit = Option.isSome(first) ? first.value : undefined
          if (exit === undefined) {
            if (task.shutdownDelayMs > 0) {
              yield* event(`Waiting for shutdown delay: ${seconds(task.shutdownDelayMs)}`)
              yield* Effect.sleep(task.shutdownDelayMs)
            }
            const left = killedAt === undefined ? timeout : Math.max(0, timeout - (Date.now() - killedAt))
            yield* event(`Killing: Sent interrupt${task.killSignal === "" ? "" : ` ${task.killSignal}`}. Waiting ${seconds(left)} before force killing`)
            // Nomad retries StopTask on errors; the task is destroyed below whatever happens.
            yield* Effect.retry(plugin.stop(id, left, task.killSignal), { times: 2 }).pipe(Effect.ignore)
            exit = yield* Fiber.join(waiting)
            yield* Effect.ignore(plugin.destroy(id))
            yield* logmon.drain
            const r = Either.isRight(exit) ? exit.right.result : undefined
            yield* event(`Killed: Task successfully killed${r === undefined ? "" : ` (${describeExit(r.exitCode, r.signal, r.oomKilled, "")})`}`)
            return yield* finish({ _tag: "Killed" })
          }
          if (Either.isLeft(exit)) {
            yield* Effect.ignore(plugin.destroy(id))
            yield* event(`Driver Failure: ${exit.left.message}`)
            return yield* finish({ _tag: "Failed", reason: exit.left.message })
          }
          yield* Effect.ignore(plugin.destroy(id))
          yield* logmon.drain
          const { err, result: r } = exit.right
          yield* event(`Terminated: ${describeExit(r.exitCode, r.signal, r.oomKilled, err)}`)
          end = { _tag: "Exit", exitCode: r.exitCode, signal: r.signal, error: err }
        }
        currentId = undefined
        const decision = nextAfter(task.restart, ctx.job.type, task.lifecycle, restartState, end, Date.now())
        restartState = decision.state
        const outcome = decision.outcome
        if (outcome._tag === "Exited") return yield* finish({ _tag: "Complete" })
        if (outcome._tag === "Failed") {
          yield* event(`Not Restarting: ${outcome.reason}`)
          return yield* finish(isSuccess(end) ? { _tag: "Complete" } : { _tag: "Failed", reason: outcome.reason })
        }
        yield* event(`Restarting: Task restarting in ${seconds(outcome.delayMs)} (${outcome.reason})`)
        const killedMeanwhile = yield* Effect.raceFirst(
          Effect.sleep(outcome.delayMs).pipe(Effect.as(false)),
          Deferred.await(killRequested).pipe(Effect.as(true))
        )
        if (killedMeanwhile) return yield* finish({ _tag: "Killed" })
      }
    }).pipe(
      Effect.catchAll((error) => finish({ _tag: "Failed", reason: error.message })),
      Effect.scoped
    )
    yield* Effect.forkScoped(life)
    const forceKill = Effect.suspend(() => (currentId === undefined ? Effect.void : Effect.ignore(plugin.destroy(currentId))))
    // Should the run end without stopping the task (a crash of this command), the task is destroyed anyway.
    yield* Effect.addFinalizer(() => forceKill)
    return {
      name: task.name,
      started,
      result,
      kill: Effect.asVoid(Deferred.succeed(killRequested, undefined)),
      forceKill,
      active: Effect.map(Deferred.isDone(result), (done) => !done)
    }
  })

/** `${...}` in a group's hostname, as the client interpolates it. */
const taskEnvInterpolated = (text: string, env: Readonly<Record<string, string>>): string =>
  text.replace(/\$\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}/g, (whole, name: string) => env[name] ?? whole)
