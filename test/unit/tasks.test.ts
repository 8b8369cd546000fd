// The task lifecycle (layers/Tasks.ts) on FakeContainerd: what StartTask creates and how it rolls back, exit
// results, stop/destroy/signal semantics, recovery by a new plugin process, and containerd outages. The same
// behaviours run on the real containerd through the built plugin in test/integration/lifecycle.test.ts.
import { it } from "@effect/vitest"
import { encode as encodeMsgpack } from "@msgpack/msgpack"
import { Chunk, Context, Effect, Exit, Fiber, Layer, Option, Scope, Stream } from "effect"
import * as fs from "node:fs"
import { describe, expect } from "vitest"
import { Containerd, type ContainerdService } from "../../layers/Containerd.js"
import * as FakeContainerdLayer from "../../layers/FakeContainerd.js"
import type { FakeContainerdControl, ProcessBehaviour } from "../../layers/FakeContainerd.js"
import { NodeConfig } from "../../layers/NodeConfig.js"
import { driverLayer } from "../../layers/Serve.js"
import { TaskEvents } from "../../layers/TaskEvents.js"
import { type TaskError, Tasks } from "../../layers/Tasks.js"
import { Status } from "../../src/gen/github.com/containerd/containerd/api/types/task/task.js"
import { type DriverTaskEvent, TaskState } from "../../src/gen/plugins/drivers/proto/driver.js"
import * as Platform from "../../src/image/Platform.js"
import { decodeDriverState } from "../../src/task/DriverState.js"
import { fakeRegistry, makeImage } from "../support/fakeImages.js"
import { makeAllocation, pluginConfigBytes, type TaskRequest, taskConfig } from "../support/nomadTask.js"

const platform = Platform.host()
const image = makeImage("registry.test/team/app:1", [[
  { path: "bin", type: "dir" },
  { path: "bin/app", data: "#!app\n", mode: 0o755 },
  { path: "etc", type: "dir" },
  { path: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n" },
  { path: "etc/group", data: "root:x:0:\napp:x:1000:\n" }
]], { Env: ["PATH=/bin"], Cmd: ["/bin/app"], StopSignal: "SIGQUIT" }, { platform })

const namespace = "nomad"

/** `/bin/app exit N` exits by itself with N; `/bin/app stubborn` ignores every signal but SIGKILL. */
const behaviour: ProcessBehaviour = ({ args }) => {
  if (args[1] === "exit") return { exit: { after: Number(args[3] ?? 0), status: Number(args[2]) } }
  if (args[1] === "stubborn") return { diesOn: [] }
  if (args[1] === "quits-on") return { diesOn: [Number(args[2])] }
  return {}
}

interface Fixture {
  readonly fake: { readonly containerd: ContainerdService; readonly control: FakeContainerdControl }
  /** A plugin process: its services, until `scope` closes. */
  readonly plugin: () => Effect.Effect<{ readonly tasks: Tasks["Type"]; readonly events: Array<DriverTaskEvent> }, never, Scope.Scope>
  readonly request: (config: Record<string, unknown>, extra?: Partial<TaskRequest>) => ReturnType<typeof taskConfig>
  readonly allocDir: string
}

const fixture = Effect.gen(function*() {
  const fake = yield* FakeContainerdLayer.make({ namespace, cgroupVersion: 1, behaviour })
  const registry = fakeRegistry([image])
  const alloc = makeAllocation()
  yield* Effect.addFinalizer(() => Effect.sync(() => alloc.remove()))
  const plugin = () =>
    Effect.gen(function*() {
      const layer = driverLayer({
        node: {
          connect: () => Effect.succeed(fake.containerd),
          registry: registry.layer,
          cgroupVersion: 1,
          imageStore: { platform, progressInterval: "1 hour" }
        }
      })
      const context = yield* Layer.build(layer)
      yield* Context.get(context, NodeConfig).setConfig(pluginConfigBytes({})).pipe(Effect.orDie)
      const events: Array<DriverTaskEvent> = []
      yield* Context.get(context, TaskEvents).stream.pipe(
        Stream.runForEach((event) => Effect.sync(() => events.push(event))),
        Effect.forkScoped
      )
      return { tasks: Context.get(context, Tasks), events }
    })
  const request = (config: Record<string, unknown>, extra: Partial<TaskRequest> = {}) =>
    taskConfig({ alloc, task: alloc.task("app"), config, ...extra })
  return { fake, plugin, request, allocDir: alloc.dir } satisfies Fixture
})

const inNs = <A, E>(effect: Effect.Effect<A, E, Containerd>, containerd: ContainerdService) =>
  effect.pipe(Effect.provideService(Containerd, containerd))

/** What is left in containerd besides the image: containers, tasks, leases, and non-image snapshots. */
const leftovers = (containerd: ContainerdService) =>
  inNs(
    Effect.gen(function*() {
      const cd = yield* Containerd
      const { containers } = yield* cd.containers.list({})
      const { tasks } = yield* cd.tasks.list({})
      const { leases } = yield* cd.leases.list({})
      const snapshots = Chunk.toReadonlyArray(yield* Stream.runCollect(cd.snapshots.list({ snapshotter: "overlayfs" })))
        .flatMap((r) => r.info)
        .filter((info) => info.name.endsWith("-snapshot"))
      return { containers: containers.length, tasks: tasks.length, leases: leases.length, snapshots: snapshots.length }
    }),
    containerd
  )

const nothingLeft = { containers: 0, tasks: 0, leases: 0, snapshots: 0 }

const failure = <A>(effect: Effect.Effect<A, TaskError>) => Effect.flip(effect)

describe("StartTask", () => {
  it.scoped("creates a labelled container on a snapshot of the image, starts it, and returns a self-sufficient handle", () =>
    Effect.gen(function*() {
      const { allocDir, fake, plugin, request } = yield* fixture
      const { tasks } = yield* plugin()
      const config = request({ image: "registry.test/team/app:1" })
      const { handle } = yield* tasks.start(config)

      expect(handle.version).toBe(1)
      expect(handle.config?.id).toBe(config.id)
      expect(handle.state).toBe(TaskState.RUNNING)
      const decoded = decodeDriverState(handle.driverState)
      expect(decoded._tag).toBe("Right")
      const state = Option.getOrThrow(Option.fromNullable(decoded._tag === "Right" && decoded.right._tag === "Current" ? decoded.right.state : undefined))
      expect(state.containerId).toBe(`app-${config.allocId}`)
      expect(state.namespace).toBe(namespace)
      expect(state.stopSignal).toBe("SIGQUIT")

      const { container } = yield* inNs(Effect.flatMap(Containerd, (cd) => cd.containers.get({ id: state.containerId })), fake.containerd)
      expect(container?.labels).toMatchObject({
        "com.hashicorp.nomad.alloc_id": config.allocId,
        "com.hashicorp.nomad.task_name": "app",
        "com.hashicorp.nomad.job_name": "example",
        "com.hashicorp.nomad.task_group_name": "group",
        "containerd-driver.task_id": config.id,
        "io.containerd.image.config.stop-signal": "SIGQUIT"
      })
      expect(container?.snapshotKey).toBe(`${state.containerId}-snapshot`)
      const got = yield* inNs(Effect.flatMap(Containerd, (cd) => cd.tasks.get({ containerId: state.containerId })), fake.containerd)
      expect(got.process?.status).toBe(Status.RUNNING)

      const inspected = yield* tasks.inspect(config.id)
      expect(inspected.status.state).toBe(TaskState.RUNNING)
      expect(inspected.status.completedAt?.getTime()).toBe(-62135596800000)
      // The hosts file is generated outside the task's writable dirs.
      expect(fs.readFileSync(`${allocDir}/app/containerd-driver/hosts`, "utf8")).toContain("localhost")
    }))

  it.scoped("an invalid config fails with the option named and is not recoverable", () =>
    Effect.gen(function*() {
      const { plugin, request } = yield* fixture
      const { tasks } = yield* plugin()
      const error = yield* failure(tasks.start(request({ image: "registry.test/team/app:1", pid_mode: "shared" })))
      expect(error.reason).toBe("InvalidConfig")
      expect(error.recoverable).toBe(false)
      expect(error.message).toBe("Invalid pid_mode. Set pid_mode=host to enable host pid namespace.")
    }))

  it.scoped("a missing image is not recoverable; the original's message prefix is kept", () =>
    Effect.gen(function*() {
      const { plugin, request } = yield* fixture
      const { tasks } = yield* plugin()
      const error = yield* failure(tasks.start(request({ image: "registry.test/team/missing:1" })))
      expect(error.reason).toBe("Image")
      expect(error.recoverable).toBe(false)
      expect(error.message).toMatch(/^Error in pulling image registry\.test\/team\/missing:1: /)
    }))

  for (const [method, reason, recoverable] of [
    ["Snapshots.Prepare", "Unknown", false],
    ["Containers.Create", "Unavailable", true],
    ["Tasks.Create", "Unknown", false],
    ["Tasks.Start", "Unknown", false]
  ] as const) {
    it.scoped(`a failure of ${method} rolls back everything created (recoverable: ${recoverable})`, () =>
      Effect.gen(function*() {
        const { allocDir, fake, plugin, request } = yield* fixture
        const { tasks } = yield* plugin()
        yield* fake.control.failNext(method, reason)
        const config = request({ image: "registry.test/team/app:1" })
        const error = yield* failure(tasks.start(config))
        expect(error.recoverable).toBe(recoverable)
        expect(yield* leftovers(fake.containerd)).toEqual(nothingLeft)
        expect(fs.existsSync(`${allocDir}/app/containerd-driver`)).toBe(false)
        // Nothing of the failed attempt is known either, and a new attempt works.
        expect((yield* failure(tasks.wait(config.id))).reason).toBe("UnknownTask")
        yield* tasks.start(request({ image: "registry.test/team/app:1" }))
      }))
  }

  it.scoped("a leftover container with the task's id (a host reboot, a crash between steps) is replaced", () =>
    Effect.gen(function*() {
      const { fake, plugin, request } = yield* fixture
      const first = yield* plugin()
      const config = request({ image: "registry.test/team/app:1" })
      yield* first.tasks.start(config)
      // A new plugin process that does not know the first attempt starts the task again.
      const second = yield* plugin()
      const again = { ...request({ image: "registry.test/team/app:1" }), allocId: config.allocId }
      yield* second.tasks.start(again)
      const { containers } = yield* inNs(Effect.flatMap(Containerd, (cd) => cd.containers.list({})), fake.containerd)
      expect(containers.map((c) => c.labels["containerd-driver.task_id"])).toEqual([again.id])
    }))

  it.scoped("starting a task id twice is refused", () =>
    Effect.gen(function*() {
      const { plugin, request } = yield* fixture
      const { tasks } = yield* plugin()
      const config = request({ image: "registry.test/team/app:1" })
      yield* tasks.start(config)
      expect((yield* failure(tasks.start(config))).reason).toBe("AlreadyStarted")
    }))
})

describe("WaitTask", () => {
  it.scoped("gives the exit code to every caller, also after the exit, until DestroyTask", () =>
    Effect.gen(function*() {
      const { plugin, request } = yield* fixture
      const { tasks } = yield* plugin()
      const config = request({ image: "registry.test/team/app:1", command: "/bin/app", args: ["exit", "3", "0"] })
      yield* tasks.start(config)
      const waiters = yield* Effect.all([Effect.fork(tasks.wait(config.id)), Effect.fork(tasks.wait(config.id))])
      const results = yield* Effect.all(waiters.map(Fiber.join))
      for (const result of results) expect(result).toEqual({ exitCode: 3, signal: 0, oomKilled: false, err: "" })
      // Asked again after the exit: the same result at once.
      expect(yield* tasks.wait(config.id)).toEqual(results[0])
      const inspected = yield* tasks.inspect(config.id)
      expect(inspected.status.state).toBe(TaskState.EXITED)
      expect(inspected.status.result?.exitCode).toBe(3)
      yield* tasks.destroy(config.id, true)
      expect((yield* failure(tasks.wait(config.id))).reason).toBe("UnknownTask")
    }))

  it.scoped("reports a signal death with its signal and an OOM kill as such", () =>
    Effect.gen(function*() {
      const { fake, plugin, request } = yield* fixture
      const { tasks } = yield* plugin()
      const config = request({ image: "registry.test/team/app:1" })
      yield* tasks.start(config)
      yield* fake.control.oom({ containerId: `app-${config.allocId}` })
      yield* fake.control.exitProcess({ containerId: `app-${config.allocId}`, exitStatus: 137 })
      const result = yield* tasks.wait(config.id)
      expect(result.exitCode).toBe(137)
      expect(result.signal).toBe(9)
      expect(result.oomKilled).toBe(true)
    }))

  it.live("keeps waiting while containerd is unreachable and gets the exit when it is back", () =>
    Effect.gen(function*() {
      const { fake, plugin, request } = yield* fixture
      const { tasks } = yield* plugin()
      const config = request({ image: "registry.test/team/app:1" })
      yield* tasks.start(config)
      const waiting = yield* Effect.fork(tasks.wait(config.id))
      yield* fake.control.setReachable(false)
      yield* Effect.sleep("300 millis")
      yield* fake.control.exitProcess({ containerId: `app-${config.allocId}`, exitStatus: 7 })
      yield* Effect.sleep("300 millis")
      expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
      yield* fake.control.setReachable(true)
      expect((yield* Fiber.join(waiting)).exitCode).toBe(7)
    }).pipe(Effect.scoped))
})

describe("StopTask", () => {
  it.live("sends the image's STOPSIGNAL when Nomad names none, and returns as soon as the task exits", () =>
    Effect.gen(function*() {
      const { plugin, request } = yield* fixture
      const { tasks } = yield* plugin()
      const config = request({ image: "registry.test/team/app:1", command: "/bin/app", args: ["quits-on", "3"] })
      yield* tasks.start(config)
      yield* tasks.stop(config.id, "1 hour", "")
      expect((yield* tasks.wait(config.id)).signal).toBe(3)
    }).pipe(Effect.scoped))

  it.live("sends kill_signal when Nomad names it", () =>
    Effect.gen(function*() {
      const { plugin, request } = yield* fixture
      const { tasks } = yield* plugin()
      const config = request({ image: "registry.test/team/app:1", command: "/bin/app", args: ["quits-on", "10"] })
      yield* tasks.start(config)
      yield* tasks.stop(config.id, "1 hour", "SIGUSR1")
      expect((yield* tasks.wait(config.id)).signal).toBe(10)
    }).pipe(Effect.scoped))

  it.live("SIGKILLs a task that ignores its signal when the timeout passes", () =>
    Effect.gen(function*() {
      const { plugin, request } = yield* fixture
      const { tasks } = yield* plugin()
      const config = request({ image: "registry.test/team/app:1", command: "/bin/app", args: ["stubborn"] })
      yield* tasks.start(config)
      const stopping = yield* Effect.fork(tasks.stop(config.id, "300 millis", "SIGTERM"))
      yield* Effect.sleep("100 millis")
      expect(Option.isNone(yield* Fiber.poll(stopping))).toBe(true)
      yield* Fiber.join(stopping)
      expect((yield* tasks.wait(config.id)).signal).toBe(9)
    }).pipe(Effect.scoped))

  it.scoped("succeeds for unknown and exited tasks, and again for a stopped one", () =>
    Effect.gen(function*() {
      const { plugin, request } = yield* fixture
      const { tasks } = yield* plugin()
      yield* tasks.stop("no-such-alloc/app/12345678", "1 second", "")
      const config = request({ image: "registry.test/team/app:1", command: "/bin/app", args: ["quits-on", "15"] })
      yield* tasks.start(config)
      yield* tasks.stop(config.id, "1 hour", "SIGTERM")
      yield* tasks.stop(config.id, "1 hour", "SIGTERM")
    }))

  it.scoped("refuses a signal name it does not know", () =>
    Effect.gen(function*() {
      const { plugin, request } = yield* fixture
      const { tasks } = yield* plugin()
      const config = request({ image: "registry.test/team/app:1" })
      yield* tasks.start(config)
      expect((yield* failure(tasks.stop(config.id, "1 second", "SIGNOPE"))).message).toBe("Invalid signal: SIGNOPE")
    }))
})

describe("DestroyTask", () => {
  it.scoped("refuses a running task without force; with force kills it and removes everything", () =>
    Effect.gen(function*() {
      const { allocDir, fake, plugin, request } = yield* fixture
      const { tasks } = yield* plugin()
      const config = request({ image: "registry.test/team/app:1" })
      yield* tasks.start(config)
      expect((yield* failure(tasks.destroy(config.id, false))).message).toBe("cannot destroy running task")
      yield* tasks.destroy(config.id, true)
      expect(yield* leftovers(fake.containerd)).toEqual(nothingLeft)
      expect(fs.existsSync(`${allocDir}/app/containerd-driver`)).toBe(false)
      // Idempotent, and fine for ids never seen.
      yield* tasks.destroy(config.id, true)
      yield* tasks.destroy("no-such-alloc/app/12345678", true)
    }))

  it.scoped("removes the container of a task this process does not know, but only if it carries that task's id", () =>
    Effect.gen(function*() {
      const { fake, plugin, request } = yield* fixture
      const first = yield* plugin()
      const config = request({ image: "registry.test/team/app:1" })
      yield* first.tasks.start(config)
      const second = yield* plugin()
      yield* second.tasks.destroy(`${config.allocId}/app/othersuffix`, true)
      expect((yield* leftovers(fake.containerd)).containers).toBe(1)
      yield* second.tasks.destroy(config.id, true)
      expect(yield* leftovers(fake.containerd)).toEqual(nothingLeft)
    }))
})

describe("SignalTask", () => {
  it.scoped("delivers a named signal; an unknown name gets the original's message", () =>
    Effect.gen(function*() {
      const { plugin, request } = yield* fixture
      const { tasks } = yield* plugin()
      const config = request({ image: "registry.test/team/app:1", command: "/bin/app", args: ["quits-on", "1"] })
      yield* tasks.start(config)
      expect((yield* failure(tasks.signal(config.id, "INVALID"))).message).toBe("Invalid signal: INVALID")
      yield* tasks.signal(config.id, "SIGHUP")
      expect((yield* tasks.wait(config.id)).signal).toBe(1)
      expect((yield* failure(tasks.signal(config.id, "SIGHUP"))).reason).toBe("Exited")
    }))
})

describe("RecoverTask in a new plugin process", () => {
  it.scoped("re-adopts a running task, reports the real exit of one that ended meanwhile, and refuses a vanished one", () =>
    Effect.gen(function*() {
      const { fake, plugin, request } = yield* fixture
      const scope = yield* Scope.make()
      const first = yield* Scope.extend(plugin(), scope)
      const running = request({ image: "registry.test/team/app:1" })
      const ended = request({ image: "registry.test/team/app:1" }, { task: { name: "ended" } })
      const vanished = request({ image: "registry.test/team/app:1" }, { task: { name: "vanished" } })
      const handles = [
        (yield* first.tasks.start(running)).handle,
        (yield* first.tasks.start(ended)).handle,
        (yield* first.tasks.start(vanished)).handle
      ]
      yield* Scope.close(scope, Exit.void)

      // While no plugin runs: one task exits, another's container disappears.
      yield* fake.control.exitProcess({ containerId: `ended-${ended.allocId}`, exitStatus: 4 })
      yield* inNs(
        Effect.gen(function*() {
          const cd = yield* Containerd
          const id = `vanished-${vanished.allocId}`
          yield* cd.tasks.kill({ containerId: id, signal: 9, all: true })
          yield* cd.tasks.delete({ containerId: id })
          yield* cd.containers.delete({ id })
        }),
        fake.containerd
      )

      const second = yield* plugin()
      yield* second.tasks.recover(handles[0]!)
      yield* second.tasks.recover(handles[1]!)
      const error = yield* failure(second.tasks.recover(handles[2]!))
      expect(error.message).toMatch(/^Error in recovering container: /)
      // Recovering twice is fine.
      yield* second.tasks.recover(handles[0]!)

      // The task that exited while no plugin ran is EXITED from the first inspection after its recovery.
      expect((yield* second.tasks.inspect(ended.id)).status.state).toBe(TaskState.EXITED)
      expect((yield* second.tasks.wait(ended.id)).exitCode).toBe(4)
      expect((yield* second.tasks.inspect(running.id)).status.state).toBe(TaskState.RUNNING)
      yield* second.tasks.stop(running.id, "1 hour", "SIGTERM")
      expect((yield* second.tasks.wait(running.id)).signal).toBe(15)
    }))

  it.live("waits for a containerd that is not answering yet, rather than failing the recovery", () =>
    Effect.gen(function*() {
      const { fake, plugin, request } = yield* fixture
      const scope = yield* Scope.make()
      const first = yield* Scope.extend(plugin(), scope)
      const config = request({ image: "registry.test/team/app:1" })
      const { handle } = yield* first.tasks.start(config)
      yield* Scope.close(scope, Exit.void)
      const second = yield* plugin()
      yield* fake.control.setReachable(false)
      const recovering = yield* Effect.fork(second.tasks.recover(handle))
      yield* Effect.sleep("700 millis")
      expect(Option.isNone(yield* Fiber.poll(recovering))).toBe(true)
      yield* fake.control.setReachable(true)
      yield* Fiber.join(recovering)
      expect((yield* second.tasks.inspect(config.id)).status.state).toBe(TaskState.RUNNING)
    }).pipe(Effect.scoped))

  it.scoped("reads a handle written by the original Go driver", () =>
    Effect.gen(function*() {
      const { plugin, request } = yield* fixture
      const first = yield* plugin()
      const config = request({ image: "registry.test/team/app:1" })
      yield* first.tasks.start(config)
      const second = yield* plugin()
      const legacy = encodeMsgpack({
        StartedAt: new Date(),
        ContainerName: `app-${config.allocId}`,
        StdoutPath: config.stdoutPath,
        StderrPath: config.stderrPath
      })
      yield* second.tasks.recover({ version: 1, config: { ...config, msgpackDriverConfig: Buffer.alloc(0) }, state: TaskState.RUNNING, driverState: Buffer.from(legacy) })
      expect((yield* second.tasks.inspect(config.id)).attributes["containerName"]).toBe(`app-${config.allocId}`)
    }))
})
