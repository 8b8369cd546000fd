/**
 * A command run inside a task as a containerd exec process: it gets the task's own process settings — env,
 * user, cwd, capabilities, seccomp, rlimits — and its namespaces, with its stdio on the given paths. The exit is
 * waited for from before the start, resizes go to the exec's own terminal (the original driver resized the
 * task's), and the process is killed if still running and removed from containerd when the scope closes.
 */
import { Data, Deferred, Effect, Either, type Scope } from "effect"
import { randomBytes } from "node:crypto"
import { AnyTypes } from "../../src/containerd/any.js"
import type { Any } from "../../src/gen/google/protobuf/any.js"
import { decodeJson, encodeJson } from "../../src/oci/SpecJson.js"
import { SIGKILL } from "../../src/task/Signals.js"
import { type ContainerdError, type ContainerdService, inNamespace } from "../Containerd.js"
import { ignoreNotFound } from "../tasks/containers.js"

export interface ExecIo {
  readonly stdin: string
  readonly stdout: string
  readonly stderr: string
  readonly terminal: boolean
}

export interface RunningExec {
  readonly execId: string
  /** The exit status (128 + N for signal N), once the process has exited. */
  readonly exit: Effect.Effect<number, ContainerdError>
  readonly resize: (width: number, height: number) => Effect.Effect<void, ContainerdError>
  readonly kill: (signal: number) => Effect.Effect<void, ContainerdError>
  /** Ends the process's stdin: the shim holds the pipe open, so closing the writer alone is not an end-of-file. */
  readonly closeStdin: Effect.Effect<void, ContainerdError>
}

/** Why a command could not be run: the container's spec is unreadable (not one this driver wrote). */
export class ExecSpecError extends Data.TaggedError("ExecSpecError")<{ readonly message: string }> {}

/** The task's process settings with `command` as its argv (TERM set for a terminal, as Docker does). */
const processSpec = (containerd: ContainerdService, containerId: string, command: ReadonlyArray<string>, terminal: boolean) =>
  Effect.gen(function*() {
    const { container } = yield* containerd.containers.get({ id: containerId })
    const parsed = container?.spec === undefined
      ? Either.left("no spec")
      : decodeJson(container.spec.value.toString("utf8"))
    const process = Either.isRight(parsed) && typeof parsed.right === "object" && parsed.right !== null
      ? (parsed.right as { readonly process?: { readonly env?: ReadonlyArray<string> } & Record<string, unknown> }).process
      : undefined
    if (process === undefined) return yield* new ExecSpecError({ message: `container ${containerId} has no readable process spec` })
    const env = process.env ?? []
    const withTerm = terminal && !env.some((e) => e.startsWith("TERM=")) ? [...env, "TERM=xterm"] : env
    const spec: Any = {
      typeUrl: AnyTypes.Process.typeUrl,
      value: Buffer.from(encodeJson({ ...process, args: command, terminal, env: withTerm }))
    }
    return spec
  })

export const startExec = (
  containerd: ContainerdService,
  task: { readonly namespace: string; readonly containerId: string },
  command: ReadonlyArray<string>,
  io: ExecIo
): Effect.Effect<RunningExec, ContainerdError | ExecSpecError, Scope.Scope> =>
  Effect.gen(function*() {
    const { containerId } = task
    const execId = `exec-${randomBytes(6).toString("hex")}`
    const spec = yield* processSpec(containerd, containerId, command, io.terminal)
    yield* Effect.acquireRelease(
      containerd.tasks.exec({ containerId, execId, ...io, spec }),
      () =>
        ignoreNotFound(containerd.tasks.kill({ containerId, execId, signal: SIGKILL, all: false })).pipe(
          Effect.zipRight(ignoreNotFound(containerd.tasks.wait({ containerId, execId })).pipe(Effect.timeout("10 seconds"))),
          Effect.zipRight(ignoreNotFound(containerd.tasks.deleteProcess({ containerId, execId }))),
          Effect.ignore,
          inNamespace(task.namespace)
        )
    )
    // Waited for before the start, so even an instant exit is seen.
    const exited = yield* Deferred.make<number, ContainerdError>()
    yield* containerd.tasks.wait({ containerId, execId }).pipe(
      Effect.map((response) => response.exitStatus),
      Effect.intoDeferred(exited),
      Effect.forkScoped
    )
    yield* containerd.tasks.start({ containerId, execId })
    const running: RunningExec = {
      execId,
      exit: Deferred.await(exited),
      resize: (width, height) =>
        containerd.tasks.resizePty({ containerId, execId, width, height }).pipe(Effect.asVoid, inNamespace(task.namespace)),
      closeStdin: ignoreNotFound(containerd.tasks.closeIo({ containerId, execId, stdin: true })).pipe(
        Effect.asVoid,
        inNamespace(task.namespace)
      ),
      kill: (signal) =>
        ignoreNotFound(containerd.tasks.kill({ containerId, execId, signal, all: false })).pipe(
          Effect.asVoid,
          inNamespace(task.namespace)
        )
    }
    return running
  }).pipe(inNamespace(task.namespace))
