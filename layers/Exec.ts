/**
 * Exec: commands run inside running tasks (Nomad's ExecTask and ExecTaskStreaming, plugins/drivers/proto/driver.proto), each with the task's own process
 * settings and namespaces (layers/exec/execProcess.ts).
 *
 * - `run` is ExecTask, behind Nomad's script checks (the original driver never implemented it): the output of
 *   each stream captured up to a cap, the timeout SIGKILLs the command, and an exit result always comes back.
 * - `streaming` is ExecTaskStreaming, `nomad alloc exec`: the setup message, with or without a terminal; stdin
 *   data and its close; terminal resizes applied to the exec's own pty; heartbeats ignored; output streamed as
 *   it comes, then a close marker per stream and an `exited` message with the exit result.
 *
 * The exec process is removed from containerd on every path, also when the caller goes away midway.
 */
import { Context, Duration, Effect, Fiber, Layer, Option, Sink, Stream } from "effect"
import * as path from "node:path"
import type {
  ExecTaskStreamingRequest,
  ExecTaskStreamingResponse
} from "../src/gen/plugins/drivers/proto/driver.js"
import { type ExitResult, fromExitStatus } from "../src/task/ExitResult.js"
import { SIGKILL } from "../src/task/Signals.js"
import type { ContainerdError } from "./Containerd.js"
import { type ExecSpecError, startExec } from "./exec/execProcess.js"
import { type FifoError, fifoReader, fifoWriter, scratchDir } from "./exec/fifos.js"
import { NodeConfig } from "./NodeConfig.js"
import { fromContainerd, type TaskError, taskError } from "./tasks/TaskError.js"
import { Tasks } from "./Tasks.js"

export interface ExecResult {
  readonly stdout: Buffer
  readonly stderr: Buffer
  readonly result: ExitResult
}

export class Exec extends Context.Tag("containerd-driver/Exec")<Exec, {
  /** Runs `command` to its end (or `timeout`, when it is killed) and returns its output and exit result. */
  readonly run: (
    taskId: string,
    command: ReadonlyArray<string>,
    timeout: Duration.Duration | undefined
  ) => Effect.Effect<ExecResult, TaskError>
  /** One `nomad alloc exec` session: the client's messages in, the plugin's messages out. */
  readonly streaming: (
    requests: Stream.Stream<ExecTaskStreamingRequest>
  ) => Stream.Stream<ExecTaskStreamingResponse, TaskError>
}>() {}

/** How long output may still arrive after the command exited (a background child can hold the pipe open). */
const outputGrace = Duration.seconds(1)

/** Bytes kept of each output stream of `run` (Nomad keeps only the start of a check's output anyway). */
export const outputCap = 64 * 1024

/** At most `cap` bytes of a stream, which is drained to its end all the same. */
const capped = (data: Stream.Stream<Buffer>, cap: number) =>
  Stream.runFold(data, { chunks: [] as Array<Buffer>, size: 0 }, (acc, chunk) => {
    if (acc.size < cap) acc.chunks.push(chunk.subarray(0, cap - acc.size))
    acc.size += chunk.length
    return acc
  }).pipe(Effect.map((acc) => Buffer.concat(acc.chunks)))

/** Why the command could not be started, in the lifecycle's terms. */
const startFailure = (taskId: string) => (error: ContainerdError | ExecSpecError | TaskError | FifoError): TaskError => {
  switch (error._tag) {
    case "TaskError":
      return error
    case "ContainerdError":
      return error.reason === "FailedPrecondition" || error.reason === "NotFound"
        ? taskError("Exited", `task ${taskId} is not running; a command cannot run in it`, false, error)
        : fromContainerd("Error in exec", error)
    default:
      return taskError("Containerd", `Error in exec: ${error.message}`, false, error)
  }
}

const output = (kind: "stdout" | "stderr", data: Buffer): ExecTaskStreamingResponse =>
  ({ [kind]: { data, close: false }, exited: false }) as ExecTaskStreamingResponse

const closed = (kind: "stdout" | "stderr"): ExecTaskStreamingResponse =>
  ({ [kind]: { data: Buffer.alloc(0), close: true }, exited: false }) as ExecTaskStreamingResponse

export const make = Effect.gen(function*() {
  const tasks = yield* Tasks
  const nodeConfig = yield* NodeConfig

  /** The task, checked to be running, and the containerd client to reach it. */
  const running = (taskId: string) =>
    Effect.gen(function*() {
      const location = yield* tasks.locate(taskId)
      if (Option.isSome(yield* Effect.option(Effect.timeout(location.exited, 0)))) {
        return yield* taskError("Exited", `task ${taskId} has exited; a command cannot run in it`)
      }
      const node = yield* Effect.mapError(nodeConfig.node, (e) => taskError("NotConfigured", e.message, true))
      return { location, containerd: node.containerd }
    })

  const run = (taskId: string, command: ReadonlyArray<string>, timeout: Duration.Duration | undefined) =>
    Effect.scoped(Effect.gen(function*() {
      if (command.length === 0) return yield* taskError("InvalidConfig", "exec needs a command to run")
      const { containerd, location } = yield* running(taskId)
      const { exec, stderr, stdout } = yield* Effect.gen(function*() {
        const dir = yield* scratchDir
        const stdout = yield* fifoReader(path.join(dir, "stdout"))
        const stderr = yield* fifoReader(path.join(dir, "stderr"))
        const exec = yield* startExec(containerd, location, command, {
          stdin: "",
          stdout: stdout.path,
          stderr: stderr.path,
          terminal: false
        })
        return { exec, stderr, stdout }
      }).pipe(Effect.mapError(startFailure(taskId)))
      const outputDone = exec.exit.pipe(Effect.ignore, Effect.zipRight(Effect.sleep(outputGrace)))
      const collect = (data: Stream.Stream<Buffer>) => capped(data.pipe(Stream.interruptWhen(outputDone)), outputCap)
      const outputs = yield* Effect.all([collect(stdout.data), collect(stderr.data)], { concurrency: 2 }).pipe(Effect.fork)
      const finished = timeout === undefined
        ? Option.some(yield* exec.exit)
        : yield* exec.exit.pipe(Effect.timeout(timeout), Effect.option)
      if (Option.isNone(finished)) yield* exec.kill(SIGKILL)
      const status = yield* exec.exit
      const [out, err] = yield* Fiber.join(outputs)
      return { stdout: out, stderr: err, result: fromExitStatus(status, false) }
    }).pipe(
      Effect.mapError((error) => (error._tag === "TaskError" ? error : fromContainerd("Error in exec", error))),
      Effect.withSpan("Exec.run", { attributes: { task: taskId } })
    ))

  const streaming = (requests: Stream.Stream<ExecTaskStreamingRequest>) =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const [first, rest] = yield* Stream.peel(requests, Sink.head())
      const setup = Option.flatMap(first, (request) => Option.fromNullable(request.setup))
      if (Option.isNone(setup)) return yield* taskError("InvalidConfig", "exec: the first message must carry the setup")
      const { command, taskId, tty } = setup.value
      if (command.length === 0) return yield* taskError("InvalidConfig", "exec needs a command to run")
      const { containerd, location } = yield* running(taskId)

      const { exec, stderr, stdin, stdout } = yield* Effect.gen(function*() {
        const dir = yield* scratchDir
        const stdin = yield* fifoWriter(path.join(dir, "stdin"))
        const stdout = yield* fifoReader(path.join(dir, "stdout"))
        const stderr = tty ? undefined : yield* fifoReader(path.join(dir, "stderr"))
        const exec = yield* startExec(containerd, location, command, {
          stdin: stdin.path,
          stdout: stdout.path,
          stderr: stderr?.path ?? "",
          terminal: tty
        })
        return { exec, stderr, stdin, stdout }
      }).pipe(Effect.mapError(startFailure(taskId)))
      yield* Effect.logDebug("exec started").pipe(Effect.annotateLogs({ task_id: taskId, exec_id: exec.execId, tty }))

      const closeStdin = Effect.zipRight(
        stdin.close,
        exec.closeStdin.pipe(Effect.catchAll((error) => Effect.logDebug(`exec stdin close failed: ${error.message}`)))
      )
      // The client's messages: stdin data, its close, terminal sizes; anything else (heartbeats) is ignored.
      // A client that half-closes its side has nothing more to send: its stdin is closed.
      yield* Stream.runForEach(rest, (request) =>
        Effect.gen(function*() {
          if (request.stdin !== undefined && request.stdin.data.length > 0) yield* stdin.write(request.stdin.data)
          if (request.stdin?.close === true) yield* closeStdin
          if (request.ttySize !== undefined && tty) {
            yield* exec.resize(request.ttySize.width, request.ttySize.height).pipe(
              Effect.catchAll((error) => Effect.logDebug(`exec resize failed: ${error.message}`))
            )
          }
        })).pipe(Effect.zipRight(closeStdin), Effect.forkScoped)

      const outputDone = exec.exit.pipe(Effect.ignore, Effect.zipRight(Effect.sleep(outputGrace)))
      const outputs = Stream.merge(
        stdout.data.pipe(Stream.map((data) => output("stdout", data))),
        stderr === undefined ? Stream.empty : stderr.data.pipe(Stream.map((data) => output("stderr", data)))
      ).pipe(Stream.interruptWhen(outputDone))
      const result = exec.exit.pipe(
        Effect.map((status): ExecTaskStreamingResponse => {
          const { err: _err, ...exit } = fromExitStatus(status, false)
          return { exited: true, result: exit }
        }),
        Effect.mapError((error) => fromContainerd("Error in exec", error))
      )
      return outputs.pipe(
        Stream.concat(Stream.make(closed("stdout"), closed("stderr"))),
        Stream.concat(Stream.fromEffect(result))
      )
    }))

  return Exec.of({ run, streaming })
})

export const layer: Layer.Layer<Exec, never, Tasks | NodeConfig> = Layer.effect(Exec, make)
