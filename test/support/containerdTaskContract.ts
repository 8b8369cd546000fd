// The task part of the Containerd contract (containerdContract.ts runs it against the real daemon and
// FakeContainerd): what containerd 1.6 with the runc v2 shim does with tasks and exec processes — states, exit
// statuses and errors, where process output goes, OOM kills, metrics — and what the task lifecycle relies on.
// The real daemon runs `contractCommands` in a busybox rootfs; a fake maps each command to a script that behaves
// the same way from the outside.
import { it } from "@effect/vitest"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Chunk, Deferred, Effect, Either, Exit, Fiber, Option, Schedule, type Scope, Stream } from "effect"
import { expect } from "vitest"
import { Options as RuncOptions } from "../../src/gen/github.com/containerd/containerd/api/types/runc/options/oci.js"
import type { Envelope } from "../../src/gen/github.com/containerd/containerd/api/types/event.js"
import type { Mount } from "../../src/gen/github.com/containerd/containerd/api/types/mount.js"
import { Status } from "../../src/gen/github.com/containerd/containerd/api/types/task/task.js"
import type { Any } from "../../src/gen/google/protobuf/any.js"
import { type AnyType, AnyTypes, pack, unpack } from "../../src/containerd/any.js"
import { Containerd, type ContainerdError } from "../../layers/Containerd.js"
import { makeFifo, readFifo, tempDirectory } from "./fifo.js"

/** The commands the cases run, and what each does on a real host (a fake's behaviour table follows this). */
export const contractCommands = {
  /** Runs until signalled. As PID 1 it has no default signal actions, so it survives SIGTERM; as an exec it dies. */
  sleeper: ["/busybox", "sleep", "1000"],
  /** Exits 3 by itself. */
  exit3: ["/busybox", "sh", "-c", "exit 3"],
  /** Writes "out\n" to stdout and "err\n" to stderr, exits 0. */
  echo: ["/busybox", "sh", "-c", "echo out; echo err >&2"],
  /** Writes "exec-out\n" to stdout and "exec-err\n" to stderr, exits 7. */
  execEcho: ["/busybox", "sh", "-c", "echo exec-out; echo exec-err >&2; exit 7"],
  /** Writes "before\n", waits until released (the `release` hook), writes "after\n", exits 0. */
  untilReleased: ["/busybox", "sh", "-c", "echo before; while [ ! -e /released ]; do sleep 0.1; done; echo after"],
  /** Allocates and fills 64 MiB at once: OOM-killed under the contract's 16 MiB memory limit. */
  memoryHog: ["/busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]
} as const

const memoryLimit = 16 << 20

/** A runc-valid spec running `args` from a rootfs that holds a static busybox at /busybox. */
export const busyboxSpec = (
  namespace: string,
  id: string,
  args: ReadonlyArray<string>,
  options: { readonly memoryLimit?: number } = {}
) => ({
  ociVersion: "1.0.2-dev",
  process: { terminal: false, user: { uid: 0, gid: 0 }, args, env: ["PATH=/"], cwd: "/" },
  root: { path: "rootfs" },
  hostname: id,
  mounts: [{ destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] }],
  linux: {
    cgroupsPath: `/containerd-driver-test/${namespace}-${id}`,
    namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "network" }],
    ...(options.memoryLimit === undefined ? {} : { resources: { memory: { limit: options.memoryLimit } } })
  }
})

export interface ContractHooks<R> {
  /** Makes a snapshot usable as a busybox rootfs (the real daemon needs the binary; a fake needs nothing). */
  readonly prepareRootfs: (mounts: ReadonlyArray<Mount>) => Effect.Effect<void, never, R>
  /** The cgroup version of the daemon's host, which decides the type of Tasks.Metrics data. */
  readonly cgroupVersion: 1 | 2
  /** Runs `body` on a new client of the same daemon (for the real one a new connection, closed when `body` ends). */
  readonly withNewClient: <A, E>(body: Effect.Effect<A, E, Containerd>) => Effect.Effect<A, E, Containerd | R>
  /** Lets the process of `containerId` running `contractCommands.untilReleased` (rootfs `mounts`) go on. */
  readonly release: (process: { readonly containerId: string; readonly mounts: ReadonlyArray<Mount> }) => Effect.Effect<void, never, R>
}

type Run<R> = <A, E>(body: (namespace: string) => Effect.Effect<A, E, Containerd | R | Scope.Scope>) => Effect.Effect<A, E | ContainerdError>

const snapshotter = "native"

const failure = <A>(effect: Effect.Effect<A, ContainerdError, Containerd>) => Effect.flip(effect)

/** Go's zero time: containerd's exited_at of a process that has not exited. */
const isGoZeroTime = (date: Date | undefined) => date?.getUTCFullYear() === 1

const metricsTypeUrl = (cgroupVersion: 1 | 2) =>
  cgroupVersion === 1 ? AnyTypes.CgroupV1Metrics.typeUrl : AnyTypes.CgroupV2Metrics.typeUrl

/** OOM kills in a task's metrics: v1 memory_oom_control.oom_kill, v2 memory_events.oom_kill. */
const oomKills = (data: Any | undefined): bigint =>
  data?.typeUrl === AnyTypes.CgroupV1Metrics.typeUrl
    ? Either.getOrThrow(unpack(AnyTypes.CgroupV1Metrics, data)).memoryOomControl?.oomKill ?? 0n
    : Either.getOrThrow(unpack(AnyTypes.CgroupV2Metrics, data)).memoryEvents?.oomKill ?? 0n

const execSpec = (args: ReadonlyArray<string>) =>
  Either.getOrThrow(pack(AnyTypes.Process, { args, cwd: "/", env: ["PATH=/"], user: { uid: 0, gid: 0 } }))

/** The lines of `text`, sorted (stdout and stderr are copied concurrently: their order in one sink is not fixed). */
const sortedLines = (text: string) => text.split("\n").filter((line) => line !== "").sort()

const probeTopic = "/contract/probe"

/**
 * Collects the namespace's events up to and including the first that matches `last`. Returns once the
 * subscription is live (it has seen a probe event), so nothing published afterwards is missed.
 */
const collectEvents = (namespace: string, last: (envelope: Envelope) => boolean) =>
  Effect.gen(function*() {
    const cd = yield* Containerd
    const live = yield* Deferred.make<void>()
    const collected = yield* Effect.fork(
      cd.events.subscribe({ filters: [`namespace==${namespace}`] }).pipe(
        Stream.tap((envelope) => envelope.topic === probeTopic ? Deferred.succeed(live, undefined) : Effect.void),
        Stream.filter((envelope) => envelope.topic !== probeTopic),
        Stream.takeUntil(last),
        Stream.runCollect
      )
    )
    const probe = Either.getOrThrow(pack(AnyTypes.TaskOOM, { containerId: "probe" }))
    yield* cd.events.publish({ topic: probeTopic, event: probe }).pipe(
      Effect.repeat(Schedule.spaced("50 millis")),
      Effect.raceFirst(Deferred.await(live))
    )
    return Effect.map(Fiber.join(collected), Chunk.toReadonlyArray)
  })

export const taskContract = <R>(run: Run<R>, hooks: ContractHooks<R>): void => {
  /** A container "id" running `args` on a fresh busybox snapshot; returns the rootfs mounts. */
  const busyboxContainer = (
    namespace: string,
    id: string,
    args: ReadonlyArray<string>,
    options: { readonly memoryLimit?: number } = {}
  ) =>
    Effect.gen(function*() {
      const cd = yield* Containerd
      const { mounts } = yield* cd.snapshots.prepare({ snapshotter, key: `${id}-rootfs` })
      yield* hooks.prepareRootfs(mounts)
      const spec = Either.getOrThrow(pack(AnyTypes.Spec, busyboxSpec(namespace, id, args, options)))
      const runtimeOptions = Either.getOrThrow(pack(AnyTypes.RuncOptions, RuncOptions.fromPartial({})))
      yield* cd.containers.create({
        container: {
          id,
          spec,
          runtime: { name: "io.containerd.runc.v2", options: runtimeOptions },
          snapshotter,
          snapshotKey: `${id}-rootfs`
        }
      })
      return mounts
    })

  it.live("tasks: create, wait, start, kill and delete; a killed process exits with 128 + signal", () =>
    run((namespace) =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        const rootfs = yield* busyboxContainer(namespace, "sleeper", contractCommands.sleeper)
        const created = yield* cd.tasks.create({ containerId: "sleeper", rootfs })
        expect(created.pid).toBeGreaterThan(0)
        const createdProcess = (yield* cd.tasks.get({ containerId: "sleeper" })).process
        expect(createdProcess?.status).toBe(Status.CREATED)
        expect(createdProcess?.id).toBe("sleeper")
        expect(isGoZeroTime(createdProcess?.exitedAt)).toBe(true)
        expect((yield* failure(cd.tasks.create({ containerId: "sleeper", rootfs }))).reason).toBe("AlreadyExists")
        const waiting = yield* Effect.fork(cd.tasks.wait({ containerId: "sleeper" }))
        const started = yield* cd.tasks.start({ containerId: "sleeper" })
        expect(started.pid).toBe(created.pid)
        const running = (yield* cd.tasks.get({ containerId: "sleeper" })).process
        expect(running?.status).toBe(Status.RUNNING)
        expect(running?.pid).toBe(created.pid)
        expect(isGoZeroTime(running?.exitedAt)).toBe(true)
        expect((yield* cd.tasks.list({})).tasks.map((t) => t.id)).toEqual(["sleeper"])
        const metrics = (yield* cd.tasks.metrics({ filters: ["id==sleeper"] })).metrics
        expect(metrics.map((m) => m.id)).toEqual(["sleeper"])
        const data = metrics[0]?.data
        const pids = data?.typeUrl === AnyTypes.CgroupV1Metrics.typeUrl
          ? Either.getOrThrow(unpack(AnyTypes.CgroupV1Metrics, data)).pids?.current
          : Either.getOrThrow(unpack(AnyTypes.CgroupV2Metrics, data)).pids?.current
        expect(pids).toBeGreaterThanOrEqual(1n)
        const runningDelete = yield* failure(cd.tasks.delete({ containerId: "sleeper" }))
        expect(runningDelete.reason).toBe("Unknown")
        expect(runningDelete.detail).toContain("cannot delete a running process")
        expect((yield* failure(cd.tasks.start({ containerId: "sleeper" }))).reason).toBe("Unknown")
        yield* cd.tasks.kill({ containerId: "sleeper", signal: 9 })
        const exited = yield* Fiber.join(waiting)
        expect(exited.exitStatus).toBe(137)
        const stopped = (yield* cd.tasks.get({ containerId: "sleeper" })).process
        expect(stopped?.status).toBe(Status.STOPPED)
        expect(stopped?.exitStatus).toBe(137)
        expect(stopped?.exitedAt).toEqual(exited.exitedAt)
        const killStopped = yield* failure(cd.tasks.kill({ containerId: "sleeper", signal: 9 }))
        expect(killStopped.reason).toBe("NotFound")
        expect(killStopped.detail).toContain("process already finished")
        // runc kill --all finds nothing left to signal and does not complain.
        yield* cd.tasks.kill({ containerId: "sleeper", signal: 9, all: true })
        const startStopped = yield* failure(cd.tasks.start({ containerId: "sleeper" }))
        expect(startStopped.reason).toBe("Unknown")
        expect(startStopped.detail).toContain("cannot start a stopped process")
        expect((yield* cd.tasks.wait({ containerId: "sleeper" })).exitStatus).toBe(137)
        const deleted = yield* cd.tasks.delete({ containerId: "sleeper" })
        expect(deleted.exitStatus).toBe(137)
        expect(deleted.pid).toBe(created.pid)
        expect(deleted.exitedAt).toEqual(exited.exitedAt)
        expect((yield* failure(cd.tasks.get({ containerId: "sleeper" }))).reason).toBe("NotFound")
        expect((yield* failure(cd.tasks.wait({ containerId: "sleeper" }))).reason).toBe("NotFound")
        expect((yield* failure(cd.tasks.kill({ containerId: "sleeper", signal: 9 }))).reason).toBe("NotFound")
      })
    ), 60_000)

  it.live("tasks: after a process exited by itself, every Wait returns its status at once, until Delete", () =>
    run((namespace) =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        const rootfs = yield* busyboxContainer(namespace, "quick", contractCommands.exit3)
        yield* cd.tasks.create({ containerId: "quick", rootfs })
        yield* cd.tasks.start({ containerId: "quick" })
        // No Wait before the exit: learn of it from Get, then ask Wait afterwards.
        const stopped = yield* cd.tasks.get({ containerId: "quick" }).pipe(
          Effect.filterOrFail((got) => got.process?.status === Status.STOPPED, () => "still running" as const),
          Effect.retry({ schedule: Schedule.spaced("50 millis"), while: (error) => error === "still running" })
        )
        expect(stopped.process?.exitStatus).toBe(3)
        expect(isGoZeroTime(stopped.process?.exitedAt)).toBe(false)
        const waits = yield* Effect.all([1, 2, 3].map(() => cd.tasks.wait({ containerId: "quick" })))
        expect(waits).toEqual([1, 2, 3].map(() => ({ exitStatus: 3, exitedAt: stopped.process?.exitedAt })))
        const deleted = yield* cd.tasks.delete({ containerId: "quick" })
        expect(deleted).toMatchObject({ exitStatus: 3, exitedAt: stopped.process?.exitedAt })
        expect((yield* failure(cd.tasks.wait({ containerId: "quick" }))).reason).toBe("NotFound")
      })
    ), 60_000)

  it.live("tasks: a never-started task deletes cleanly and reports Go's zero time", () =>
    run((namespace) =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        const idle = yield* busyboxContainer(namespace, "idle", contractCommands.sleeper)
        const created = yield* cd.tasks.create({ containerId: "idle", rootfs: idle })
        const removed = yield* cd.tasks.delete({ containerId: "idle" })
        expect(removed.exitStatus).toBe(0)
        expect(removed.pid).toBe(created.pid)
        expect(isGoZeroTime(removed.exitedAt)).toBe(true)
        expect((yield* failure(cd.tasks.get({ containerId: "idle" }))).reason).toBe("NotFound")
      })
    ), 60_000)

  it.live("tasks: Kill with all signals exec processes too; a PID 1 without handlers survives SIGTERM", () =>
    run((namespace) =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        const rootfs = yield* busyboxContainer(namespace, "group", contractCommands.sleeper)
        yield* cd.tasks.create({ containerId: "group", rootfs })
        yield* cd.tasks.start({ containerId: "group" })
        yield* cd.tasks.exec({ containerId: "group", execId: "worker", spec: execSpec(contractCommands.sleeper) })
        const worker = yield* Effect.fork(cd.tasks.wait({ containerId: "group", execId: "worker" }))
        yield* cd.tasks.start({ containerId: "group", execId: "worker" })
        yield* cd.tasks.kill({ containerId: "group", signal: 15 })
        expect((yield* cd.tasks.get({ containerId: "group" })).process?.status).toBe(Status.RUNNING)
        expect((yield* cd.tasks.get({ containerId: "group", execId: "worker" })).process?.status).toBe(Status.RUNNING)
        yield* cd.tasks.kill({ containerId: "group", signal: 15, all: true })
        expect((yield* Fiber.join(worker)).exitStatus).toBe(143)
        expect((yield* cd.tasks.get({ containerId: "group" })).process?.status).toBe(Status.RUNNING)
        const init = yield* Effect.fork(cd.tasks.wait({ containerId: "group" }))
        yield* cd.tasks.kill({ containerId: "group", signal: 9, all: true })
        expect((yield* Fiber.join(init)).exitStatus).toBe(137)
        yield* cd.tasks.delete({ containerId: "group" })
      })
    ), 60_000)

  it.live("events: a task's lifecycle publishes container and task events in order, with exit statuses", () =>
    run((namespace) =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        const events = yield* collectEvents(namespace, (envelope) => envelope.topic === "/containers/delete")
        const rootfs = yield* busyboxContainer(namespace, "evented", contractCommands.sleeper)
        const created = yield* cd.tasks.create({ containerId: "evented", rootfs })
        yield* cd.tasks.start({ containerId: "evented" })
        yield* cd.tasks.exec({ containerId: "evented", execId: "side", spec: execSpec(contractCommands.sleeper) })
        const side = yield* cd.tasks.start({ containerId: "evented", execId: "side" })
        const sideExit = yield* Effect.fork(cd.tasks.wait({ containerId: "evented", execId: "side" }))
        yield* cd.tasks.kill({ containerId: "evented", execId: "side", signal: 9 })
        yield* Fiber.join(sideExit)
        yield* cd.tasks.deleteProcess({ containerId: "evented", execId: "side" })
        const initExit = yield* Effect.fork(cd.tasks.wait({ containerId: "evented" }))
        yield* cd.tasks.kill({ containerId: "evented", signal: 9 })
        yield* Fiber.join(initExit)
        yield* cd.tasks.delete({ containerId: "evented" })
        yield* cd.containers.delete({ id: "evented" })
        const lifecycle = (yield* events).filter((envelope) => /^\/(tasks|containers)\//.test(envelope.topic))
        expect(lifecycle.map((envelope) => envelope.topic)).toEqual([
          "/containers/create",
          "/tasks/create",
          "/tasks/start",
          "/tasks/exec-added",
          "/tasks/exec-started",
          "/tasks/exit",
          "/tasks/exit",
          "/tasks/delete",
          "/containers/delete"
        ])
        expect(lifecycle.every((envelope) => envelope.namespace === namespace)).toBe(true)
        const payload = <A>(type: AnyType<A>, index: number) => Either.getOrThrow(unpack(type, lifecycle[index]?.event))
        expect(payload(AnyTypes.TaskCreate, 1)).toMatchObject({ containerId: "evented", pid: created.pid })
        expect(payload(AnyTypes.TaskStart, 2)).toMatchObject({ containerId: "evented", pid: created.pid })
        expect(payload(AnyTypes.TaskExecAdded, 3)).toMatchObject({ containerId: "evented", execId: "side" })
        expect(payload(AnyTypes.TaskExecStarted, 4)).toMatchObject({ containerId: "evented", execId: "side", pid: side.pid })
        expect(payload(AnyTypes.TaskExit, 5)).toMatchObject({ containerId: "evented", id: "side", pid: side.pid, exitStatus: 137 })
        expect(payload(AnyTypes.TaskExit, 6)).toMatchObject({ containerId: "evented", id: "evented", pid: created.pid, exitStatus: 137 })
        expect(payload(AnyTypes.TaskDelete, 7)).toMatchObject({ containerId: "evented", pid: created.pid, exitStatus: 137 })
        expect(payload(AnyTypes.ContainerDelete, 8)).toEqual({ id: "evented" })
      })
    ), 60_000)

  it.live("exec: Wait before Start, output to a FIFO and a file, exit status, DeleteProcess; refusals as the shim's", () =>
    run((namespace) =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        const dir = yield* tempDirectory("contract-exec")
        const rootfs = yield* busyboxContainer(namespace, "host", contractCommands.sleeper)
        yield* cd.tasks.create({ containerId: "host", rootfs })
        yield* cd.tasks.start({ containerId: "host" })
        const [fifo, file, missing] = [join(dir, "out"), join(dir, "err.log"), join(dir, "missing.log")]
        yield* makeFifo(fifo)
        const stdout = yield* readFifo(fifo)
        writeFileSync(file, "")

        expect((yield* failure(cd.tasks.exec({ containerId: "host", execId: "bad id", spec: execSpec(["/busybox", "true"]) }))).reason)
          .toBe("InvalidArgument")
        expect((yield* failure(cd.tasks.exec({ containerId: "host", execId: "", spec: execSpec(["/busybox", "true"]) }))).reason)
          .toBe("InvalidArgument")
        yield* cd.tasks.exec({ containerId: "host", execId: "probe", spec: execSpec(contractCommands.execEcho), stdout: fifo, stderr: file })
        const created = (yield* cd.tasks.get({ containerId: "host", execId: "probe" })).process
        expect(created).toMatchObject({ id: "probe", pid: 0, status: Status.CREATED, stdout: fifo, stderr: file })
        expect(isGoZeroTime(created?.exitedAt)).toBe(true)
        const waiting = yield* Effect.fork(cd.tasks.wait({ containerId: "host", execId: "probe" }))
        const started = yield* cd.tasks.start({ containerId: "host", execId: "probe" })
        expect(started.pid).toBeGreaterThan(0)
        const exited = yield* Fiber.join(waiting)
        expect(exited.exitStatus).toBe(7)
        expect(yield* stdout.untilEof).toBe("exec-out\n")
        const stopped = (yield* cd.tasks.get({ containerId: "host", execId: "probe" })).process
        expect(stopped).toMatchObject({ status: Status.STOPPED, exitStatus: 7, exitedAt: exited.exitedAt, pid: started.pid })
        expect((yield* failure(cd.tasks.kill({ containerId: "host", execId: "probe", signal: 9 }))).reason).toBe("NotFound")
        const deleted = yield* cd.tasks.deleteProcess({ containerId: "host", execId: "probe" })
        expect(deleted).toEqual({ id: "probe", pid: started.pid, exitStatus: 7, exitedAt: exited.exitedAt })
        // The shim has drained the process's pipes once DeleteProcess answered.
        expect(readFileSync(file, "utf8")).toBe("exec-err\n")
        expect((yield* failure(cd.tasks.get({ containerId: "host", execId: "probe" }))).reason).toBe("NotFound")
        expect((yield* failure(cd.tasks.wait({ containerId: "host", execId: "probe" }))).reason).toBe("NotFound")

        // An exec's output is opened by Start: a missing file fails Start, and the exec stays created.
        yield* cd.tasks.exec({ containerId: "host", execId: "nofile", spec: execSpec(contractCommands.execEcho), stdout: missing, stderr: missing })
        const notStarted = yield* failure(cd.tasks.start({ containerId: "host", execId: "nofile" }))
        expect(notStarted.reason).toBe("Unknown")
        expect(notStarted.detail).toContain(`opening file "${missing}"`)
        expect(notStarted.detail).toContain("no such file or directory")
        expect((yield* cd.tasks.get({ containerId: "host", execId: "nofile" })).process?.status).toBe(Status.CREATED)
        const neverRan = yield* cd.tasks.deleteProcess({ containerId: "host", execId: "nofile" })
        expect(neverRan.exitStatus).toBe(0)
        expect(isGoZeroTime(neverRan.exitedAt)).toBe(true)

        yield* cd.tasks.exec({ containerId: "host", execId: "busy", spec: execSpec(contractCommands.sleeper) })
        const notCreated = yield* failure(cd.tasks.kill({ containerId: "host", execId: "busy", signal: 9 }))
        expect(notCreated.reason).toBe("FailedPrecondition")
        const busy = yield* Effect.fork(cd.tasks.wait({ containerId: "host", execId: "busy" }))
        yield* cd.tasks.start({ containerId: "host", execId: "busy" })
        const runningDelete = yield* failure(cd.tasks.deleteProcess({ containerId: "host", execId: "busy" }))
        expect(runningDelete.reason).toBe("Unknown")
        expect(runningDelete.detail).toContain("cannot delete a running process")
        expect((yield* failure(cd.tasks.exec({ containerId: "host", execId: "busy", spec: execSpec(contractCommands.sleeper) }))).reason)
          .toBe("AlreadyExists")
        yield* cd.tasks.kill({ containerId: "host", execId: "busy", signal: 9 })
        expect((yield* Fiber.join(busy)).exitStatus).toBe(137)
        yield* cd.tasks.deleteProcess({ containerId: "host", execId: "busy" })

        const host = yield* Effect.fork(cd.tasks.wait({ containerId: "host" }))
        yield* cd.tasks.kill({ containerId: "host", signal: 9 })
        yield* Fiber.join(host)
        const stoppedExec = yield* failure(cd.tasks.exec({ containerId: "host", execId: "late", spec: execSpec(contractCommands.sleeper) }))
        expect(stoppedExec.reason).toBe("Unknown")
        expect(stoppedExec.detail).toContain("cannot exec in a stopped state")
        yield* cd.tasks.delete({ containerId: "host" })
      })
    ), 60_000)

  it.live("stdio: stdout and stderr go to the FIFOs given to Tasks.Create; readers see EOF after the exit", () =>
    run((namespace) =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        const dir = yield* tempDirectory("contract-fifo")
        const [outPath, errPath] = [join(dir, "stdout"), join(dir, "stderr")]
        yield* makeFifo(outPath)
        yield* makeFifo(errPath)
        const [stdout, stderr] = [yield* readFifo(outPath), yield* readFifo(errPath)]
        const rootfs = yield* busyboxContainer(namespace, "echo", contractCommands.echo)
        yield* cd.tasks.create({ containerId: "echo", rootfs, stdout: outPath, stderr: errPath })
        const waiting = yield* Effect.fork(cd.tasks.wait({ containerId: "echo" }))
        yield* cd.tasks.start({ containerId: "echo" })
        expect((yield* Fiber.join(waiting)).exitStatus).toBe(0)
        expect(yield* stdout.untilEof).toBe("out\n")
        expect(yield* stderr.untilEof).toBe("err\n")
        const got = (yield* cd.tasks.get({ containerId: "echo" })).process
        expect([got?.stdout, got?.stderr]).toEqual([outPath, errPath])
        yield* cd.tasks.delete({ containerId: "echo" })
      })
    ), 60_000)

  it.live("stdio: Tasks.Create does not complete while a stdout FIFO has no reader, and does once one opens", () =>
    run((namespace) =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        const dir = yield* tempDirectory("contract-blocked")
        const path = join(dir, "output")
        yield* makeFifo(path)
        const rootfs = yield* busyboxContainer(namespace, "late", contractCommands.echo)
        const creating = yield* Effect.fork(cd.tasks.create({ containerId: "late", rootfs, stdout: path, stderr: path }))
        const whileBlocked = yield* Effect.exit(Effect.gen(function*() {
          yield* Effect.sleep("1 second")
          const done = Option.isSome(yield* Fiber.poll(creating))
          const process = (yield* cd.tasks.get({ containerId: "late" })).process
          return { done, status: process?.status, pid: process?.pid }
        }))
        // Whatever was seen, the Create gets its reader and is waited for: cancelling a Create blocked like this
        // leaves the real shim alive for good.
        const output = yield* readFifo(path)
        const created = yield* Fiber.join(creating)
        // While blocked the task is listed, in state UNKNOWN without a pid.
        expect(whileBlocked).toEqual(Exit.succeed({ done: false, status: Status.UNKNOWN, pid: 0 }))
        expect((yield* cd.tasks.get({ containerId: "late" })).process).toMatchObject({ status: Status.CREATED, pid: created.pid })
        const waiting = yield* Effect.fork(cd.tasks.wait({ containerId: "late" }))
        yield* cd.tasks.start({ containerId: "late" })
        expect((yield* Fiber.join(waiting)).exitStatus).toBe(0)
        expect(sortedLines(yield* output.untilEof)).toEqual(["err", "out"])
        yield* cd.tasks.delete({ containerId: "late" })
      })
    ), 60_000)

  it.live("stdio: a regular file is appended to and must exist; an empty path beside a set one fails like a missing file", () =>
    run((namespace) =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        const dir = yield* tempDirectory("contract-files")
        const [log, missing] = [join(dir, "task.log"), join(dir, "missing.log")]
        writeFileSync(log, "earlier\n")
        const rootfs = yield* busyboxContainer(namespace, "logger", contractCommands.echo)
        yield* cd.tasks.create({ containerId: "logger", rootfs, stdout: log, stderr: log })
        const waiting = yield* Effect.fork(cd.tasks.wait({ containerId: "logger" }))
        yield* cd.tasks.start({ containerId: "logger" })
        expect((yield* Fiber.join(waiting)).exitStatus).toBe(0)
        // The shim copies each pipe into the file on its own, and may still be copying when the exit is reported;
        // deleting the task then can lose a line (seen twice in full runs on containerd 1.6 under load, once with
        // the wait after Delete). So the file is read until it holds both lines, for up to 5 s, before Delete.
        const written = yield* Effect.sync(() => readFileSync(log, "utf8")).pipe(
          Effect.filterOrFail((text) => text.split("\n").length > 3),
          Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("5 seconds"))),
          Effect.orElse(() => Effect.sync(() => readFileSync(log, "utf8")))
        )
        yield* cd.tasks.delete({ containerId: "logger" })
        expect(written.startsWith("earlier\n")).toBe(true)
        expect(sortedLines(written.slice("earlier\n".length))).toEqual(["err", "out"])

        const nowhere = yield* busyboxContainer(namespace, "nowhere", contractCommands.echo)
        const missingFile = yield* failure(cd.tasks.create({ containerId: "nowhere", rootfs: nowhere, stdout: missing, stderr: log }))
        expect(missingFile.reason).toBe("Unknown")
        expect(missingFile.detail).toContain(`opening file "${missing}"`)
        expect(missingFile.detail).toContain("no such file or directory")
        expect((yield* failure(cd.tasks.get({ containerId: "nowhere" }))).reason).toBe("NotFound")

        const halfSet = yield* busyboxContainer(namespace, "half", contractCommands.echo)
        const emptyStderr = yield* failure(cd.tasks.create({ containerId: "half", rootfs: halfSet, stdout: log, stderr: "" }))
        expect(emptyStderr.reason).toBe("Unknown")
        expect(emptyStderr.detail).toContain("opening file \"\"")
        expect((yield* failure(cd.tasks.get({ containerId: "half" }))).reason).toBe("NotFound")
      })
    ), 60_000)

  it.live("stdio: output reaches the FIFO after the client that created and started the task is closed", () =>
    run((namespace) =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        const dir = yield* tempDirectory("contract-reconnect")
        const path = join(dir, "stdout")
        yield* makeFifo(path)
        const stdout = yield* readFifo(path)
        const rootfs = yield* busyboxContainer(namespace, "chatty", contractCommands.untilReleased)
        yield* hooks.withNewClient(
          Effect.flatMap(Containerd, (client) =>
            Effect.zipRight(
              client.tasks.create({ containerId: "chatty", rootfs, stdout: path, stderr: path }),
              client.tasks.start({ containerId: "chatty" })
            ))
        )
        expect(yield* stdout.waitFor("before\n")).toBe("before\n")
        yield* hooks.release({ containerId: "chatty", mounts: rootfs })
        expect(yield* stdout.untilEof).toBe("before\nafter\n")
        expect((yield* cd.tasks.wait({ containerId: "chatty" })).exitStatus).toBe(0)
        yield* cd.tasks.delete({ containerId: "chatty" })
      })
    ), 60_000)

  it.live("OOM: over its memory limit a process is killed (137); metrics before Delete count the kill; /tasks/oom is published", () =>
    run((namespace) =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        const rootfs = yield* busyboxContainer(namespace, "hog", contractCommands.memoryHog, { memoryLimit })
        const events = yield* collectEvents(namespace, (envelope) => envelope.topic === "/tasks/delete")
        yield* cd.tasks.create({ containerId: "hog", rootfs })
        const waiting = yield* Effect.fork(cd.tasks.wait({ containerId: "hog" }))
        yield* cd.tasks.start({ containerId: "hog" })
        expect((yield* Fiber.join(waiting)).exitStatus).toBe(137)
        const { metrics } = yield* cd.tasks.metrics({ filters: ["id==hog"] })
        expect(metrics.map((m) => [m.id, m.data?.typeUrl])).toEqual([["hog", metricsTypeUrl(hooks.cgroupVersion)]])
        expect(oomKills(metrics[0]?.data)).toBeGreaterThanOrEqual(1n)
        yield* cd.tasks.delete({ containerId: "hog" })
        const ooms = (yield* events).filter((envelope) => envelope.topic === "/tasks/oom")
        expect(ooms.map((envelope) => Either.getOrThrow(unpack(AnyTypes.TaskOOM, envelope.event)))).toContainEqual({ containerId: "hog" })
      })
    ), 60_000)

  it.live("metrics: one entry per task in the host's cgroup format; `id==` selects one", () =>
    run((namespace) =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        for (const id of ["first", "second"]) {
          const rootfs = yield* busyboxContainer(namespace, id, contractCommands.sleeper)
          yield* cd.tasks.create({ containerId: id, rootfs })
        }
        yield* cd.tasks.start({ containerId: "second" })
        const all = (yield* cd.tasks.metrics({})).metrics
        expect(all.map((m) => m.id).sort()).toEqual(["first", "second"])
        expect(new Set(all.map((m) => m.data?.typeUrl))).toEqual(new Set([metricsTypeUrl(hooks.cgroupVersion)]))
        expect((yield* cd.tasks.metrics({ filters: ["id==second"] })).metrics.map((m) => m.id)).toEqual(["second"])
        expect((yield* cd.tasks.metrics({ filters: ["id==none"] })).metrics).toEqual([])
      })
    ), 60_000)
}
