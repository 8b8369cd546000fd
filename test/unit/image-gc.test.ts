/**
 * The image GC (layers/ImageGc.ts) through the task lifecycle on FakeContainerd, with the test clock: an image the
 * driver pulled is removed once no task has used it for `image_delay`, kept when a task uses it again within the
 * delay, kept while another task shares it, never removed when the driver did not pull it, and a new plugin process
 * (a restart) removes nothing its tasks use. The same behaviours run on the real containerd through the built plugin
 * in test/integration/gc.test.ts.
 */
import { it } from "@effect/vitest"
import { Context, type Duration, Effect, Exit, Layer, Scope, TestClock } from "effect"
import { describe, expect } from "vitest"
import { Containerd, type ContainerdService } from "../../layers/Containerd.js"
import * as FakeContainerdLayer from "../../layers/FakeContainerd.js"
import { ImageGc } from "../../layers/ImageGc.js"
import { NodeConfig } from "../../layers/NodeConfig.js"
import { driverLayer } from "../../layers/Serve.js"
import { Tasks } from "../../layers/Tasks.js"
import type { TaskHandle } from "../../src/gen/plugins/drivers/proto/driver.js"
import * as Platform from "../../src/image/Platform.js"
import { fakeRegistry, makeImage } from "../support/fakeImages.js"
import { makeAllocation, pluginConfigBytes, taskConfig } from "../support/nomadTask.js"

const platform = Platform.host()
const base = [
  { path: "bin", type: "dir" as const },
  { path: "bin/app", data: "#!app\n", mode: 0o755 },
  { path: "etc", type: "dir" as const },
  { path: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\n" },
  { path: "etc/group", data: "root:x:0:\n" }
]
// Two images sharing their bottom layer.
const app = makeImage("registry.test/team/app:1", [base, [{ path: "app.conf", data: "one\n" }]], { Cmd: ["/bin/app"] }, { platform })
const tool = makeImage("registry.test/team/tool:1", [base, [{ path: "tool.conf", data: "two\n" }]], { Cmd: ["/bin/app"] }, { platform })

const namespace = "nomad"
const gcOn = { gc: [{ image: true, image_delay: "3m" }] }

const inNs = <A, E>(effect: Effect.Effect<A, E, Containerd>, containerd: ContainerdService) =>
  effect.pipe(Effect.provideService(Containerd, containerd))

const fixture = Effect.gen(function*() {
  const fake = yield* FakeContainerdLayer.make({ namespace, cgroupVersion: 1 })
  const registry = fakeRegistry([app, tool])
  const alloc = makeAllocation()
  yield* Effect.addFinalizer(() => Effect.sync(() => alloc.remove()))

  /** A plugin process with `config`; `stop` ends it as a crash would (its tasks keep running in containerd). */
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
      return {
        tasks: Context.get(context, Tasks),
        gc: Context.get(context, ImageGc),
        node: Effect.orDie(Context.get(context, NodeConfig).node),
        stop: Scope.close(scope, Exit.void)
      }
    })

  const request = (image: string, name = "app") => taskConfig({ alloc, task: alloc.task(name), config: { image } })

  const images = inNs(
    Effect.flatMap(Containerd, (cd) => cd.images.list({})).pipe(Effect.map(({ images }) => images.map((i) => i.name).sort())),
    fake.containerd
  )
  return { fake, plugin, request, images, registry }
})

/** Lets the fibers the clock woke (a removal that fell due) run to the end. */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

const passes = (duration: Duration.DurationInput) => Effect.zipRight(TestClock.adjust(duration), settle)

describe("image GC", () => {
  it.scoped("removes an image the driver pulled once no task has used it for image_delay; a shared layer stays", () =>
    Effect.gen(function*() {
      const { fake, images, plugin, registry, request } = yield* fixture
      const { tasks } = yield* plugin(gcOn)
      const first = request(app.name, "one")
      const other = request(tool.name, "two")
      yield* tasks.start(first)
      yield* tasks.start(other)
      yield* tasks.destroy(first.id, true)
      yield* passes("2 minutes")
      expect(yield* images).toEqual([app.name, tool.name])
      yield* passes("1 minute")
      expect(yield* images).toEqual([tool.name])
      // containerd's GC freed the removed image's own layer; the layer both images share stays.
      expect(app.layers[0]!.digest).toBe(tool.layers[0]!.digest)
      const blob = (digest: string) =>
        inNs(Effect.flatMap(Containerd, (cd) => cd.content.info({ digest })), fake.containerd).pipe(Effect.map(() => "present"), Effect.orElseSucceed(() => "gone"))
      expect(yield* blob(app.layers[1]!.digest)).toBe("gone")
      expect(yield* blob(app.layers[0]!.digest)).toBe("present")
      // The other image still starts from what is present, without the registry's blobs.
      const fetched = registry.calls.fetchBlob
      yield* tasks.start(request(tool.name, "three"))
      expect(registry.calls.fetchBlob).toBe(fetched)
    }))

  it.scoped("keeps an image a task uses again within the delay, and removes it after its last user", () =>
    Effect.gen(function*() {
      const { images, plugin, request } = yield* fixture
      const { tasks } = yield* plugin(gcOn)
      const first = request(app.name)
      yield* tasks.start(first)
      yield* tasks.destroy(first.id, true)
      yield* passes("2 minutes")
      const again = request(app.name)
      yield* tasks.start(again)
      yield* passes("10 minutes")
      expect(yield* images).toEqual([app.name])
      yield* tasks.destroy(again.id, true)
      yield* passes("3 minutes")
      expect(yield* images).toEqual([])
    }))

  it.scoped("keeps an image shared by two tasks when the first is destroyed", () =>
    Effect.gen(function*() {
      const { images, plugin, request } = yield* fixture
      const { gc, tasks } = yield* plugin(gcOn)
      const one = request(app.name, "one")
      const two = request(app.name, "two")
      yield* tasks.start(one)
      yield* tasks.start(two)
      expect((yield* gc.references).get(`${namespace}\0${app.name}`)).toEqual(new Set([one.id, two.id]))
      yield* tasks.destroy(one.id, true)
      yield* passes("10 minutes")
      expect(yield* images).toEqual([app.name])
      yield* tasks.destroy(two.id, true)
      yield* passes("3 minutes")
      expect(yield* images).toEqual([])
    }))

  it.scoped("a failed start releases the image it counted", () =>
    Effect.gen(function*() {
      const { fake, images, plugin, request } = yield* fixture
      const { gc, tasks } = yield* plugin(gcOn)
      yield* fake.control.failNext("Tasks.Start", "Unknown")
      const failed = request(app.name)
      yield* Effect.flip(tasks.start(failed))
      expect((yield* gc.references).size).toBe(0)
      yield* passes("3 minutes")
      expect(yield* images).toEqual([])
    }))

  it.scoped("a plugin restart removes nothing its tasks use, recovered or not yet recovered", () =>
    Effect.gen(function*() {
      const { images, plugin, request } = yield* fixture
      const before = yield* plugin(gcOn)
      const recovered = request(app.name, "one")
      const notYet = request(tool.name, "two")
      const handles: Array<TaskHandle> = []
      handles.push((yield* before.tasks.start(recovered)).handle)
      yield* before.tasks.start(notYet)
      yield* before.stop

      // The new process finds both images marked and uncounted, schedules them, and recovers one task.
      const after = yield* plugin(gcOn)
      yield* after.tasks.recover(handles[0]!)
      yield* passes("30 minutes")
      // The recovered task counts for its image; the other is still named by its container.
      expect(yield* images).toEqual([app.name, tool.name])
      yield* after.tasks.destroy(recovered.id, true)
      yield* passes("3 minutes")
      expect(yield* images).toEqual([tool.name])
    }))

  it.scoped("a plugin restart schedules the images pulled for tasks that no task uses any more", () =>
    Effect.gen(function*() {
      const { images, plugin, request } = yield* fixture
      const before = yield* plugin({})
      const task = request(app.name)
      yield* before.tasks.start(task)
      yield* before.tasks.destroy(task.id, true)
      yield* passes("10 minutes")
      // gc.image is off in that process: the image stays.
      expect(yield* images).toEqual([app.name])
      yield* before.stop
      yield* plugin(gcOn)
      yield* passes("3 minutes")
      expect(yield* images).toEqual([])
    }))

  it.scoped("never removes an image the driver did not pull for a task", () =>
    Effect.gen(function*() {
      const { fake, images, plugin, request } = yield* fixture
      const { node, tasks } = yield* plugin(gcOn)
      // Pulled by the operator (as `ctr pull` or `containerd-driver pull` would), before any task uses it.
      yield* Effect.flatMap(node, (n) => n.images.pull(app.name)).pipe(Effect.orDie)
      const task = request(app.name)
      yield* tasks.start(task)
      yield* tasks.destroy(task.id, true)
      yield* passes("1 hour")
      expect(yield* images).toEqual([app.name])
      const { image } = yield* inNs(Effect.flatMap(Containerd, (cd) => cd.images.get({ name: app.name })), fake.containerd).pipe(Effect.orDie)
      expect(image?.labels["containerd-driver.pulled-for-task"]).toBeUndefined()
    }))

  it.scoped("marks the images it pulls for tasks, and removes nothing with gc.image off", () =>
    Effect.gen(function*() {
      const { fake, images, plugin, request } = yield* fixture
      const { tasks } = yield* plugin({})
      const task = request(app.name)
      yield* tasks.start(task)
      const { image } = yield* inNs(Effect.flatMap(Containerd, (cd) => cd.images.get({ name: app.name })), fake.containerd).pipe(Effect.orDie)
      expect(image?.labels["containerd-driver.pulled-for-task"]).toBe("true")
      yield* tasks.destroy(task.id, true)
      yield* passes("1 hour")
      expect(yield* images).toEqual([app.name])
    }))
})
