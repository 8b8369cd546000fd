// FakeContainerd follows the same observable rules as the real daemon (the shared contract, also run by
// test/integration/containerd.test.ts against containerd: describe, info fields, events, GC, Diff.Apply, mounts,
// tasks, exec, stdio and metrics), plus its own controls: injected faults, an unreachable daemon, scripted
// processes and their output, set metrics and raised OOM kills.
import { it } from "@effect/vitest"
import { join } from "node:path"
import { Chunk, Effect, Either, Fiber, Option, Schedule, Stream, TestClock } from "effect"
import { describe, expect } from "vitest"
import { Metrics as V2Metrics } from "../../src/gen/github.com/containerd/cgroups/cgroup2/stats/metrics.js"
import { Status } from "../../src/gen/github.com/containerd/containerd/api/types/task/task.js"
import { AnyTypes, pack, unpack } from "../../src/containerd/any.js"
import { Containerd } from "../../layers/Containerd.js"
import { FakeContainerd, layer as fakeLayer, type ProcessBehaviour } from "../../layers/FakeContainerd.js"
import { busyboxSpec, containerdContract, contractCommands } from "../support/containerdContract.js"
import { makeFifo, readFifo, tempDirectory } from "../support/fifo.js"

const sameArgs = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => a.length === b.length && a.every((arg, i) => arg === b[i])

/** What each of the contract's commands does on a real host (see contractCommands), as a script. */
const contractBehaviour: ProcessBehaviour = ({ args, execId }) => {
  const c = contractCommands
  // The kernel gives PID 1 no default signal actions: without handlers it dies only on SIGKILL.
  if (sameArgs(args, c.sleeper)) return execId === "" ? { diesOn: [] } : {}
  if (sameArgs(args, c.exit3)) return { exit: { after: 0, status: 3 } }
  if (sameArgs(args, c.echo)) return { stdout: "out\n", stderr: "err\n", exit: { after: 0, status: 0 } }
  if (sameArgs(args, c.execEcho)) return { stdout: "exec-out\n", stderr: "exec-err\n", exit: { after: 0, status: 7 } }
  if (sameArgs(args, c.untilReleased)) return { stdout: "before\n" }
  if (sameArgs(args, c.memoryHog)) return { outOfMemory: true }
  return {}
}

containerdContract("FakeContainerd", () => fakeLayer({ behaviour: contractBehaviour }), {
  prepareRootfs: () => Effect.void,
  cgroupVersion: 2,
  // The fake has no connection to reopen: a process's pipes belong to the fake, not to the call that opened them.
  withNewClient: (body) => body,
  release: ({ containerId }) =>
    Effect.gen(function*() {
      const fake = yield* FakeContainerd
      yield* fake.write({ containerId, stdout: "after\n" })
      yield* fake.exitProcess({ containerId, exitStatus: 0 })
    }).pipe(Effect.orDie)
})

const withContainer = (id: string, args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const cd = yield* Containerd
    const spec = Either.getOrThrow(pack(AnyTypes.Spec, busyboxSpec("default", id, args)))
    yield* cd.containers.create({ container: { id, spec, runtime: { name: "io.containerd.runc.v2" } } })
    return yield* cd.tasks.create({ containerId: id })
  })

describe("FakeContainerd controls", () => {
  it.effect("failNext fails exactly the next call of that method with the given reason", () =>
    Effect.gen(function*() {
      const cd = yield* Containerd
      const fake = yield* FakeContainerd
      yield* fake.failNext("Leases.List", "Unavailable", "ref locked")
      const error = yield* Effect.flip(cd.leases.list({}))
      expect(error.reason).toBe("Unavailable")
      expect(error.method).toBe("Leases.List")
      expect(error.detail).toBe("ref locked: unavailable")
      expect(error.unreachable).toBe(false)
      expect((yield* cd.leases.list({})).leases).toEqual([])
    }).pipe(Effect.provide(fakeLayer())))

  it.effect("setReachable(false) makes every call fail as an unreachable daemon, until it comes back", () =>
    Effect.gen(function*() {
      const cd = yield* Containerd
      const fake = yield* FakeContainerd
      yield* fake.setReachable(false)
      const error = yield* Effect.flip(cd.version)
      expect(error.reason).toBe("Unavailable")
      expect(error.unreachable).toBe(true)
      expect(error.message).toContain("containerd is not reachable at /tmp/fake.sock")
      expect((yield* Effect.flip(cd.containers.list({}))).unreachable).toBe(true)
      yield* fake.setReachable(true)
      expect((yield* cd.version).version).toBe("1.6.20~ds1")
    }).pipe(Effect.provide(fakeLayer({ address: "/tmp/fake.sock" }))))

  it.effect("a scripted process exits by itself after its time; Wait returns its status", () =>
    Effect.gen(function*() {
      const cd = yield* Containerd
      yield* withContainer("job", ["/app"])
      const waiting = yield* Effect.fork(cd.tasks.wait({ containerId: "job" }))
      yield* cd.tasks.start({ containerId: "job" })
      yield* TestClock.adjust("4 seconds")
      expect((yield* cd.tasks.get({ containerId: "job" })).process?.status).toBe(Status.RUNNING)
      yield* TestClock.adjust("1 second")
      const exited = yield* Fiber.join(waiting)
      expect(exited.exitStatus).toBe(3)
      expect(exited.exitedAt?.getTime()).toBe(5_000)
    }).pipe(Effect.provide(fakeLayer({ behaviour: () => ({ exit: { after: "5 seconds", status: 3 } }) }))))

  it.effect("a process that ignores SIGTERM survives it and dies on SIGKILL; exitProcess ends a process", () =>
    Effect.gen(function*() {
      const cd = yield* Containerd
      const fake = yield* FakeContainerd
      yield* withContainer("stubborn", ["/app"])
      yield* cd.tasks.start({ containerId: "stubborn" })
      yield* cd.tasks.kill({ containerId: "stubborn", signal: 15 })
      expect((yield* cd.tasks.get({ containerId: "stubborn" })).process?.status).toBe(Status.RUNNING)
      yield* cd.tasks.kill({ containerId: "stubborn", signal: 9 })
      expect((yield* cd.tasks.wait({ containerId: "stubborn" })).exitStatus).toBe(137)

      yield* withContainer("worker", ["/app"])
      yield* cd.tasks.start({ containerId: "worker" })
      yield* fake.exitProcess({ containerId: "worker", exitStatus: 42 })
      expect((yield* cd.tasks.wait({ containerId: "worker" })).exitStatus).toBe(42)
    }).pipe(Effect.provide(fakeLayer({ behaviour: () => ({ diesOn: [] }) }))))

  it.effect("oom raises /tasks/oom between the task's start and its exit (the order of the rest is in the contract)", () =>
    Effect.gen(function*() {
      const cd = yield* Containerd
      const fake = yield* FakeContainerd
      const events = yield* Effect.fork(
        cd.events.subscribe({ filters: ["namespace==default,topic~=\"^/(tasks|containers)/\""] }).pipe(Stream.take(6), Stream.runCollect)
      )
      yield* fake.awaitSubscribers(1)
      yield* withContainer("web", ["/app"])
      yield* cd.tasks.start({ containerId: "web" })
      yield* fake.oom({ containerId: "web" })
      yield* cd.tasks.kill({ containerId: "web", signal: 9 })
      yield* cd.tasks.delete({ containerId: "web" })
      const envelopes = Chunk.toReadonlyArray(yield* Fiber.join(events))
      expect(envelopes.map((e) => e.topic)).toEqual([
        "/containers/create",
        "/tasks/create",
        "/tasks/start",
        "/tasks/oom",
        "/tasks/exit",
        "/tasks/delete"
      ])
      const exit = Either.getOrThrow(unpack(AnyTypes.TaskExit, envelopes[4]?.event))
      expect(exit).toMatchObject({ containerId: "web", id: "web", exitStatus: 137 })
    }).pipe(Effect.provide(fakeLayer())))

  it.effect("oom counts the kill in v1 and v2 metrics; it kills the process only when asked, with its execs", () =>
    Effect.forEach([1, 2] as const, (cgroupVersion) =>
      Effect.gen(function*() {
        const cd = yield* Containerd
        const fake = yield* FakeContainerd
        const oomKills = Effect.map(cd.tasks.metrics({ filters: ["id==app"] }), ({ metrics }) => {
          const data = metrics[0]?.data
          return cgroupVersion === 1
            ? Either.getOrThrow(unpack(AnyTypes.CgroupV1Metrics, data)).memoryOomControl?.oomKill
            : Either.getOrThrow(unpack(AnyTypes.CgroupV2Metrics, data)).memoryEvents?.oomKill
        })
        yield* withContainer("app", ["/app"])
        yield* cd.tasks.start({ containerId: "app" })
        yield* cd.tasks.exec({ containerId: "app", execId: "side", spec: Either.getOrThrow(pack(AnyTypes.Process, { args: ["/side"] })) })
        yield* cd.tasks.start({ containerId: "app", execId: "side" })
        expect(yield* oomKills).toBe(0n)
        yield* fake.oom({ containerId: "app" })
        expect(yield* oomKills).toBe(1n)
        expect((yield* cd.tasks.get({ containerId: "app" })).process?.status).toBe(Status.RUNNING)
        yield* fake.oom({ containerId: "app", kill: true })
        expect((yield* cd.tasks.wait({ containerId: "app" })).exitStatus).toBe(137)
        expect((yield* cd.tasks.wait({ containerId: "app", execId: "side" })).exitStatus).toBe(137)
        // Still readable after the exit, until Tasks.Delete (what the lifecycle reads to report an OOM kill).
        expect(yield* oomKills).toBe(2n)
      }).pipe(Effect.provide(fakeLayer({ cgroupVersion })))))

  it.live("write sends output to a running process's FIFO; a reader that comes back misses nothing; EOF at the exit", () =>
    Effect.scoped(Effect.gen(function*() {
      const cd = yield* Containerd
      const fake = yield* FakeContainerd
      const dir = yield* tempDirectory("fake-write")
      const path = join(dir, "stdout")
      yield* makeFifo(path)
      const first = yield* Effect.scoped(Effect.flatMap(readFifo(path), (reader) =>
        Effect.gen(function*() {
          const spec = Either.getOrThrow(pack(AnyTypes.Spec, busyboxSpec("default", "talker", ["/app"])))
          yield* cd.containers.create({ container: { id: "talker", spec, runtime: { name: "io.containerd.runc.v2" } } })
          yield* cd.tasks.create({ containerId: "talker", stdout: path, stderr: path })
          yield* cd.tasks.start({ containerId: "talker" })
          yield* fake.write({ containerId: "talker", stdout: "one\n", stderr: "two\n" })
          return yield* reader.waitFor("two\n")
        })))
      expect(first).toBe("one\ntwo\n")
      // Nobody reads now: like the shim, the fake holds its own read end, so the pipe keeps this for the next reader.
      yield* fake.write({ containerId: "talker", stdout: "three\n" })
      const second = yield* readFifo(path)
      expect(yield* second.waitFor("three\n")).toBe("three\n")
      yield* fake.exitProcess({ containerId: "talker", exitStatus: 0 })
      expect(yield* second.untilEof).toBe("three\n")
      const stopped = yield* Effect.flip(fake.write({ containerId: "talker", stdout: "late\n" }))
      expect(stopped.reason).toBe("FailedPrecondition")
    }).pipe(Effect.provide(fakeLayer()))))

  it.live("an interrupted Create that waits for a FIFO reader leaves no task; the fake's end closes open pipes", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDirectory("fake-blocked")
      const path = join(dir, "stdout")
      yield* makeFifo(path)
      const reader = yield* Effect.gen(function*() {
        const cd = yield* Containerd
        const spec = Either.getOrThrow(pack(AnyTypes.Spec, busyboxSpec("default", "web", ["/app"])))
        yield* cd.containers.create({ container: { id: "web", spec, runtime: { name: "io.containerd.runc.v2" } } })
        const creating = yield* Effect.fork(cd.tasks.create({ containerId: "web", stdout: path, stderr: path }))
        yield* cd.tasks.get({ containerId: "web" }).pipe(
          Effect.filterOrFail((got) => got.process?.status === Status.UNKNOWN),
          Effect.retry({ schedule: Schedule.spaced("10 millis"), times: 100 })
        )
        yield* Fiber.interrupt(creating)
        expect((yield* Effect.flip(cd.tasks.get({ containerId: "web" }))).reason).toBe("NotFound")
        const reader = yield* readFifo(path)
        yield* cd.tasks.create({ containerId: "web", stdout: path, stderr: path })
        yield* cd.tasks.start({ containerId: "web" })
        return reader
      }).pipe(Effect.provide(fakeLayer({ behaviour: () => ({ stdout: "hello\n" }) })))
      // The fake is gone with its process still running: its pipes closed.
      expect(yield* reader.untilEof).toBe("hello\n")
    })))

  it.effect("a missing stdout file fails Tasks.Create like the shim; stdio URIs are not simulated", () =>
    Effect.gen(function*() {
      const cd = yield* Containerd
      const spec = Either.getOrThrow(pack(AnyTypes.Spec, busyboxSpec("default", "c", ["/app"])))
      yield* cd.containers.create({ container: { id: "c", spec, runtime: { name: "io.containerd.runc.v2" } } })
      const missing = yield* Effect.flip(cd.tasks.create({ containerId: "c", stdout: "/nonexistent/out.log", stderr: "/nonexistent/out.log" }))
      expect(missing.reason).toBe("Unknown")
      expect(missing.detail).toBe(
        "failed to create shim task: failed to start io pipe copy: unable to copy pipes: containerd-shim: opening file " +
          "\"/nonexistent/out.log\" failed: open /nonexistent/out.log: no such file or directory: unknown"
      )
      const uri = yield* Effect.flip(cd.tasks.create({ containerId: "c", stdout: "file:///tmp/x.log" }))
      expect(uri.reason).toBe("Unimplemented")
      expect((yield* cd.tasks.create({ containerId: "c" })).pid).toBeGreaterThan(0)
    }).pipe(Effect.provide(fakeLayer())))

  it.effect("metrics are cgroup v2 by default and can be set per task", () =>
    Effect.gen(function*() {
      const cd = yield* Containerd
      const fake = yield* FakeContainerd
      yield* withContainer("m", ["/app"])
      yield* cd.tasks.start({ containerId: "m" })
      const first = (yield* cd.tasks.metrics({ filters: ["id==m"] })).metrics[0]
      expect(first?.data?.typeUrl).toBe("io.containerd.cgroups.v2.Metrics")
      const chosen = V2Metrics.fromPartial({ memory: { usage: 123n, swapUsage: 7n }, pids: { current: 5n } })
      yield* fake.setMetrics({ containerId: "m" }, Either.getOrThrow(pack(AnyTypes.CgroupV2Metrics, chosen)))
      const second = (yield* cd.tasks.metrics({ filters: ["id==m"] })).metrics[0]
      expect(Either.getOrThrow(unpack(AnyTypes.CgroupV2Metrics, second?.data))).toEqual(chosen)
      expect((yield* cd.tasks.metrics({ filters: ["id==other"] })).metrics).toEqual([])
    }).pipe(Effect.provide(fakeLayer())))

  it.effect("Tasks.Update resources are recorded for inspection", () =>
    Effect.gen(function*() {
      const cd = yield* Containerd
      const fake = yield* FakeContainerd
      yield* withContainer("u", ["/app"])
      const resources = Either.getOrThrow(pack(AnyTypes.LinuxResources, { memory: { limit: 1048576 } }))
      yield* cd.tasks.update({ containerId: "u", resources })
      expect(Option.getOrThrow(yield* fake.taskResources({ containerId: "u" }))).toEqual(resources)
    }).pipe(Effect.provide(fakeLayer())))
})
