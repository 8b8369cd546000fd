/**
 * The dangling-container reaper (layers/Reaper.ts) on FakeContainerd with the test clock: a container this driver
 * labelled that no task of the plugin owns is removed, with its snapshot and generated files, once it is older than
 * `creation_grace`, at the first look a period after the plugin started; with `dry_run` it is only logged. Owned
 * containers, young ones, those of a start in progress and unlabelled ones are never touched. The same runs on the
 * real containerd through the built plugin in test/integration/gc.test.ts.
 */
import { it } from "@effect/vitest"
import { Context, type Duration, Effect, Exit, Layer, Logger, Scope, TestClock } from "effect"
import * as fs from "node:fs"
import { describe, expect } from "vitest"
import { Containerd, type ContainerdService } from "../../layers/Containerd.js"
import * as FakeContainerdLayer from "../../layers/FakeContainerd.js"
import { NodeConfig } from "../../layers/NodeConfig.js"
import { Reaper } from "../../layers/Reaper.js"
import { driverLayer } from "../../layers/Serve.js"
import { Tasks } from "../../layers/Tasks.js"
import { AnyTypes } from "../../src/containerd/any.js"
import * as Platform from "../../src/image/Platform.js"
import { leaseContainerLabel, taskIdLabel } from "../../src/task/TaskIdentity.js"
import { fakeRegistry, makeImage } from "../support/fakeImages.js"
import { makeAllocation, pluginConfigBytes, taskConfig } from "../support/nomadTask.js"

const platform = Platform.host()
const app = makeImage("registry.test/team/app:1", [[
  { path: "bin", type: "dir" },
  { path: "bin/app", data: "#!app\n", mode: 0o755 }
]], { Cmd: ["/bin/app"] }, { platform })

const namespace = "nomad"

const inNs = <A, E>(effect: Effect.Effect<A, E, Containerd>, containerd: ContainerdService) =>
  effect.pipe(Effect.provideService(Containerd, containerd), Effect.orDie)

const dangling = (config: Record<string, unknown>) => ({ gc: [{ dangling_containers: [config] }] })

const fixture = Effect.gen(function*() {
  const fake = yield* FakeContainerdLayer.make({ namespace, cgroupVersion: 1 })
  const registry = fakeRegistry([app])
  const alloc = makeAllocation()
  yield* Effect.addFinalizer(() => Effect.sync(() => alloc.remove()))

  const plugin = (config: Record<string, unknown>) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
      const context = yield* Layer.buildWithScope(
        driverLayer({
          node: {
            connect: () => Effect.succeed(fake.containerd),
            registry: registry.layer,
            cgroupVersion: 1,
            imageStore: { platform, progressInterval: "1 hour" }
          }
        }),
        scope
      )
      yield* Context.get(context, NodeConfig).setConfig(pluginConfigBytes(config)).pipe(Effect.orDie)
      return { tasks: Context.get(context, Tasks), reaper: Context.get(context, Reaper), stop: Scope.close(scope, Exit.void) }
    })

  const request = (name: string) => taskConfig({ alloc, task: alloc.task(name), config: { image: app.name } })

  const containers = inNs(
    Effect.flatMap(Containerd, (cd) => cd.containers.list({})).pipe(Effect.map(({ containers }) => containers.map((c) => c.id).sort())),
    fake.containerd
  )
  const snapshotExists = (key: string) =>
    Effect.flatMap(Containerd, (cd) => cd.snapshots.stat({ snapshotter: "overlayfs", key })).pipe(
      Effect.provideService(Containerd, fake.containerd),
      Effect.map(() => true),
      Effect.orElseSucceed(() => false)
    )
  /** A task started by a plugin process that then died without DestroyTask: its container is left behind. */
  const leftBehind = (name: string) =>
    Effect.gen(function*() {
      const gone = yield* plugin({ gc: [{ dangling_containers: [{ enabled: false }] }] })
      const config = request(name)
      const { handle } = yield* gone.tasks.start(config)
      yield* gone.stop
      return { config, handle }
    })
  return { fake, plugin, request, containers, snapshotExists, leftBehind, allocDir: alloc.dir }
})

/** Lets the fibers the clock woke run to the end. */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

/** Waits (in real time: file removal is real I/O, which the test clock does not drive) until `path` is gone. */
const gone = (path: string) =>
  Effect.promise(async () => {
    for (let i = 0; i < 200 && fs.existsSync(path); i++) await new Promise((r) => setTimeout(r, 10))
    return !fs.existsSync(path)
  })
const passes = (duration: Duration.DurationInput) => Effect.zipRight(TestClock.adjust(duration), settle)

/** The log lines `effect` writes. */
const logsOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.make(({ annotations, message }) => {
      lines.push(`${String(message)} ${JSON.stringify(Object.fromEntries(annotations))}`)
    })
    const result = yield* effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return { result, lines }
  })

describe("dangling-container reaper", () => {
  it.scoped("removes a container no task owns once it is older than creation_grace, at the first look a period on", () =>
    Effect.gen(function*() {
      const { allocDir, containers, leftBehind, plugin, snapshotExists } = yield* fixture
      const { config } = yield* leftBehind("lost")
      const lostContainer = (yield* containers)[0]!
      expect(fs.existsSync(`${allocDir}/lost/containerd-driver`)).toBe(true)
      expect(yield* snapshotExists(`${lostContainer}-snapshot`)).toBe(true)
      yield* plugin(dangling({ period: "1m", creation_grace: "90s" }))
      yield* passes("59 seconds")
      expect(yield* containers).toEqual([lostContainer])
      // The first look (1 minute) finds it too young; the next one (2 minutes) removes it.
      yield* passes("1 second")
      expect(yield* containers).toEqual([lostContainer])
      yield* passes("1 minute")
      expect(yield* containers).toEqual([])
      expect(yield* snapshotExists(`${lostContainer}-snapshot`)).toBe(false)
      expect(yield* gone(`${allocDir}/lost/containerd-driver`)).toBe(true)
      expect(config.id).toContain("/lost/")
    }))

  it.scoped("leaves the containers of the tasks the plugin knows, recovered ones included", () =>
    Effect.gen(function*() {
      const { containers, leftBehind, plugin, request } = yield* fixture
      const { handle } = yield* leftBehind("recovered")
      const { tasks } = yield* plugin(dangling({ period: "1m", creation_grace: "0s" }))
      yield* tasks.recover(handle)
      yield* tasks.start(request("started"))
      yield* passes("5 minutes")
      expect((yield* containers).length).toBe(2)
    }))

  it.scoped("with dry_run only logs, once per container and look", () =>
    Effect.gen(function*() {
      const { containers, leftBehind, plugin } = yield* fixture
      const { config } = yield* leftBehind("lost")
      const { reaper } = yield* plugin(dangling({ creation_grace: "0s", dry_run: true }))
      const before = yield* containers
      const { lines, result } = yield* logsOf(reaper.sweep)
      expect(result).toEqual([{ containerId: before[0], taskId: config.id, outcome: "dry-run" }])
      expect(yield* containers).toEqual(before)
      expect(lines.filter((l) => l.includes("would be removed"))).toHaveLength(1)
      expect(lines[0]).toContain(config.id)
    }))

  it.scoped("never touches a container without the driver's label, nor one whose start is in progress", () =>
    Effect.gen(function*() {
      const { containers, fake, plugin } = yield* fixture
      const create = (id: string, labels: Record<string, string>) =>
        inNs(
          Effect.flatMap(Containerd, (cd) =>
            cd.containers.create({
              container: {
                id,
                labels,
                image: app.name,
                runtime: { name: "io.containerd.runc.v2" },
                spec: { typeUrl: AnyTypes.Spec.typeUrl, value: Buffer.from("{}") },
                snapshotter: "overlayfs",
                snapshotKey: "",
                extensions: {},
                sandbox: ""
              }
            })),
          fake.containerd
        )
      yield* create("operators-own", { owner: "someone" })
      yield* create("starting", { [taskIdLabel]: "alloc/starting/1" })
      yield* inNs(Effect.flatMap(Containerd, (cd) => cd.leases.create({ id: "start-lease", labels: { [leaseContainerLabel]: "starting" } })), fake.containerd)
      const { reaper } = yield* plugin(dangling({ creation_grace: "0s" }))
      expect(yield* reaper.sweep).toEqual([])
      expect(yield* containers).toEqual(["operators-own", "starting"])
    }))

  it.scoped("does not look while disabled", () =>
    Effect.gen(function*() {
      const { containers, leftBehind, plugin } = yield* fixture
      yield* leftBehind("lost")
      yield* plugin(dangling({ enabled: false, period: "1m", creation_grace: "0s" }))
      yield* passes("1 hour")
      expect((yield* containers).length).toBe(1)
    }))
})
