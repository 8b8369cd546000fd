// FakeContainerd follows the same observable rules as the real daemon (the shared contract, also run by
// test/integration/containerd.test.ts against containerd), plus its own controls: injected faults, an
// unreachable daemon, scripted processes, metrics, OOM events and garbage collection.
import { it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { Chunk, Effect, Either, Fiber, Option, Stream, TestClock } from "effect"
import { describe, expect } from "vitest"
import { Metrics as V2Metrics } from "../../src/gen/github.com/containerd/cgroups/cgroup2/stats/metrics.js"
import { Status } from "../../src/gen/github.com/containerd/containerd/api/types/task/task.js"
import { AnyTypes, pack, unpack } from "../../src/containerd/any.js"
import { Containerd, inLease } from "../../layers/Containerd.js"
import { FakeContainerd, layer as fakeLayer, type ProcessBehaviour } from "../../layers/FakeContainerd.js"
import { busyboxSpec, containerdContract, sha256 } from "../support/containerdContract.js"

/** `sh -c "exit N"` exits by itself with N, like the real command; everything else runs until signalled. */
const shellExit: ProcessBehaviour = ({ args }) => {
  const match = args.length === 4 && args[1] === "sh" && args[2] === "-c" ? /^exit (\d+)$/.exec(args[3] ?? "") : null
  return match === null ? {} : { exit: { after: 0, status: Number(match[1]) } }
}

containerdContract("FakeContainerd", () => fakeLayer({ behaviour: shellExit }))

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

  it.effect("describe reports the configured plugins like the real daemon does", () =>
    Effect.gen(function*() {
      const cd = yield* Containerd
      const description = yield* cd.describe
      expect(description.snapshotters.filter((s) => s.ok).map((s) => s.id)).toEqual(["native", "overlayfs"])
      expect(description.snapshotters.find((s) => s.id === "devmapper")).toEqual({
        id: "devmapper",
        ok: false,
        error: "devmapper not configured"
      })
      expect(description.runtimes).toContain("io.containerd.runc.v2")
      expect(description.hasTransfer).toBe(false)
      expect(description.serving).toBe(true)
    }).pipe(Effect.provide(fakeLayer())))

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

  it.effect("task events arrive in the order containerd publishes them, and OOM can be raised", () =>
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

  it.effect("GC keeps what images and labels reference and removes the rest of a deleted lease", () =>
    Effect.gen(function*() {
      const cd = yield* Containerd
      const layerBlob = randomBytes(64)
      const manifest = Buffer.from("{\"manifest\":true}")
      const orphan = randomBytes(32)
      yield* cd.leases.create({ id: "pull" })
      yield* Effect.gen(function*() {
        for (const blob of [layerBlob, orphan]) {
          yield* cd.content.write({ ref: sha256(blob), expected: sha256(blob), total: blob.length, data: Stream.make(blob) })
        }
        yield* cd.content.write({
          ref: "manifest",
          expected: sha256(manifest),
          total: manifest.length,
          labels: { "containerd.io/gc.ref.content.l.0": sha256(layerBlob) },
          data: Stream.make(manifest)
        })
      }).pipe(inLease("pull"))
      yield* cd.images.create({
        image: {
          name: "example.com/app:1",
          target: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(manifest), size: BigInt(manifest.length) }
        }
      })
      yield* cd.leases.delete({ id: "pull", sync: true })
      const kept = Chunk.toReadonlyArray(yield* Stream.runCollect(cd.content.list({}))).flatMap((r) => r.info.map((i) => i.digest))
      expect(kept.sort()).toEqual([sha256(layerBlob), sha256(manifest)].sort())
      yield* cd.images.delete({ name: "example.com/app:1", sync: true })
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(cd.content.list({})))).toEqual([])
    }).pipe(Effect.provide(fakeLayer())))

  it.effect("Diff.Apply reports the uncompressed digest of a gzip layer", () =>
    Effect.gen(function*() {
      const { gzipSync } = yield* Effect.promise(() => import("node:zlib"))
      const cd = yield* Containerd
      const tar = randomBytes(2048)
      const gz = gzipSync(tar)
      yield* cd.content.write({ ref: "layer", expected: sha256(gz), total: gz.length, data: Stream.make(gz) })
      const { mounts } = yield* cd.snapshots.prepare({ snapshotter: "overlayfs", key: "extract" })
      const { applied } = yield* cd.diff.apply({
        diff: { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256(gz), size: BigInt(gz.length) },
        mounts
      })
      expect(applied).toEqual({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(tar), size: 2048n, annotations: {} })
      expect((yield* cd.snapshots.usage({ snapshotter: "overlayfs", key: "extract" })).size).toBe(2048n)
      const unknown = yield* Effect.flip(cd.diff.apply({
        diff: { mediaType: "application/x-unknown", digest: sha256(gz), size: BigInt(gz.length) },
        mounts
      }))
      expect(unknown.reason).toBe("Unknown")
    }).pipe(Effect.provide(fakeLayer())))

  it.effect("overlayfs mounts chain parents top-first like the real snapshotter", () =>
    Effect.gen(function*() {
      const cd = yield* Containerd
      yield* cd.snapshots.prepare({ snapshotter: "overlayfs", key: "l1-active" })
      yield* cd.snapshots.commit({ snapshotter: "overlayfs", name: "l1", key: "l1-active" })
      yield* cd.snapshots.prepare({ snapshotter: "overlayfs", key: "l2-active", parent: "l1" })
      yield* cd.snapshots.commit({ snapshotter: "overlayfs", name: "l2", key: "l2-active" })
      const [mount] = (yield* cd.snapshots.prepare({ snapshotter: "overlayfs", key: "rw", parent: "l2" })).mounts
      expect(mount?.type).toBe("overlay")
      const lowerdir = mount?.options.find((o) => o.startsWith("lowerdir="))?.slice("lowerdir=".length).split(":")
      expect(lowerdir).toEqual([
        "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/2/fs",
        "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs"
      ])
      expect(mount?.options).toContain("index=off")
    }).pipe(Effect.provide(fakeLayer())))
})
