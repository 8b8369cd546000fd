// The observable rules of the Containerd service that both the real daemon (test/integration/containerd.test.ts)
// and FakeContainerd (test/unit/fake-containerd.test.ts) must follow; the task cases are in
// containerdTaskContract.ts. Every case runs in a fresh, unique namespace and removes what it created.
import { it } from "@effect/vitest"
import { createHash, randomBytes } from "node:crypto"
import { Chunk, Deferred, Effect, Either, Exit, Fiber, type Layer, Option, Schedule, type Scope, Stream } from "effect"
import { describe, expect } from "vitest"
import { Options as RuncOptions } from "../../src/gen/github.com/containerd/containerd/api/types/runc/options/oci.js"
import { Kind } from "../../src/gen/github.com/containerd/containerd/api/services/snapshots/v1/snapshots.js"
import { AnyTypes, pack, unpack } from "../../src/containerd/any.js"
import { compareVersions, parseVersion } from "../../src/containerd/version.js"
import { Containerd, type ContainerdError, currentLease, inLease, inNamespace } from "../../layers/Containerd.js"
import { tar, tarGz } from "./tarWriter.js"
import { type ContractHooks, taskContract } from "./containerdTaskContract.js"

export { busyboxSpec, contractCommands, type ContractHooks } from "./containerdTaskContract.js"

export const uniqueNamespace = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`

export const sha256 = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

const snapshotter = "native"
/** The snapshotters the cases use: cleanup empties both. */
const snapshotters = ["native", "overlayfs"]

/** Deletes everything a test may have left in the current namespace, then the namespace itself. */
export const cleanupNamespace = (namespace: string): Effect.Effect<void, never, Containerd> =>
  Effect.gen(function*() {
    const cd = yield* Containerd
    const { containers } = yield* cd.containers.list({})
    for (const container of containers) {
      yield* cd.tasks.kill({ containerId: container.id, signal: 9, all: true }).pipe(Effect.ignore)
      // Delete refuses a task until the SIGKILLed process is gone; an undeleted task's shim outlives the namespace.
      yield* cd.tasks.wait({ containerId: container.id }).pipe(Effect.timeout("10 seconds"), Effect.ignore)
      yield* cd.tasks.delete({ containerId: container.id }).pipe(Effect.ignore)
      yield* cd.containers.delete({ id: container.id }).pipe(Effect.ignore)
    }
    const { images } = yield* cd.images.list({})
    for (const image of images) yield* cd.images.delete({ name: image.name }).pipe(Effect.ignore)
    // Children before parents: repeat until nothing is left or nothing more can be removed.
    for (const snapshotter of snapshotters) {
      for (let round = 0; round < 10; round++) {
        const infos = Chunk.toReadonlyArray(yield* Stream.runCollect(cd.snapshots.list({ snapshotter }))).flatMap((r) => r.info)
        if (infos.length === 0) break
        for (const info of infos) yield* cd.snapshots.remove({ snapshotter, key: info.name }).pipe(Effect.ignore)
      }
    }
    const { leases } = yield* cd.leases.list({})
    for (const lease of leases) yield* cd.leases.delete({ id: lease.id }).pipe(Effect.ignore)
    const blobs = Chunk.toReadonlyArray(yield* Stream.runCollect(cd.content.list({}))).flatMap((r) => r.info)
    for (const blob of blobs) yield* cd.content.delete({ digest: blob.digest }).pipe(Effect.ignore)
    const { statuses } = yield* cd.content.listStatuses({})
    for (const status of statuses) yield* cd.content.abort({ ref: status.ref }).pipe(Effect.ignore)
    // What was just deleted can take a moment to be gone (a shim exiting, containerd's GC): a namespace that is
    // not empty yet is asked again rather than left behind.
    yield* cd.namespaces.delete({ name: namespace }).pipe(
      Effect.retry({
        while: (error) => error.reason === "FailedPrecondition",
        schedule: Schedule.spaced("200 millis").pipe(Schedule.upTo("10 seconds"))
      })
    )
  }).pipe(
    inNamespace(namespace),
    Effect.catchAll((error) => Effect.logWarning(`cleanup of namespace ${namespace} failed: ${error.message}`))
  )

/**
 * Runs `body` in a unique namespace against the layer and cleans the namespace up afterwards. The body runs
 * inside a lease: a shared daemon garbage-collects unreferenced content and snapshots at any time (whenever
 * anyone's lease or image goes away), which would otherwise remove what a test just created.
 */
export const inTestNamespace = <A, E, R = never>(
  layer: Layer.Layer<Containerd | R>,
  body: (namespace: string) => Effect.Effect<A, E, Containerd | R | Scope.Scope>
): Effect.Effect<A, E | ContainerdError> => {
  const namespace = uniqueNamespace("cdtest")
  const leased = Effect.scoped(
    Effect.flatMap(Containerd, (cd) => cd.withLease({ id: "contract-test" })).pipe(
      Effect.flatMap((lease) => body(namespace).pipe(inLease(lease.id)))
    )
  )
  return Effect.acquireUseRelease(
    Effect.void,
    () => leased.pipe(inNamespace(namespace)),
    () => cleanupNamespace(namespace)
  ).pipe(Effect.provide(layer))
}

const failure = <A>(effect: Effect.Effect<A, ContainerdError, Containerd>) => Effect.flip(effect)

const leaseIds = Effect.flatMap(Containerd, (cd) => cd.leases.list({})).pipe(Effect.map((r) => r.leases.map((l) => l.id)))

/** Runs `self` outside the test's lease, so that what it creates is protected by nothing it does not create itself. */
const withoutLease = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.locally(self, currentLease, Option.none())

const contentDigests = Effect.flatMap(Containerd, (cd) => Stream.runCollect(cd.content.list({}))).pipe(
  Effect.map((chunk) => Chunk.toReadonlyArray(chunk).flatMap((r) => r.info.map((i) => i.digest)).sort())
)

const snapshotNames = (snapshotter: string) =>
  Effect.flatMap(Containerd, (cd) => Stream.runCollect(cd.snapshots.list({ snapshotter }))).pipe(
    Effect.map((chunk) => Chunk.toReadonlyArray(chunk).flatMap((r) => r.info.map((i) => i.name)).sort())
  )

/** A timestamp the daemon set during the test (the fake and containerd share the host clock; one second of slack). */
const setDuring = (date: Date | undefined, since: number) => {
  expect(date).toBeInstanceOf(Date)
  expect(date?.getTime()).toBeGreaterThanOrEqual(since - 1000)
  expect(date?.getTime()).toBeLessThanOrEqual(Date.now() + 1000)
}

/** The options of an overlay mount that name directories, in their order (index=off and userxattr depend on the host). */
const overlayDirs = (options: ReadonlyArray<string>) =>
  options.filter((o) => o.startsWith("workdir=") || o.startsWith("upperdir=") || o.startsWith("lowerdir="))

const overlayfsDir = /\/io\.containerd\.snapshotter\.v1\.overlayfs\/snapshots\/(\d+)\/fs$/

const specJson = { ociVersion: "1.0.2-dev", process: { args: ["/bin/true"], cwd: "/" }, root: { path: "rootfs" } }

export const containerdContract = <R = never>(
  name: string,
  layer: () => Layer.Layer<Containerd | R>,
  hooks: ContractHooks<R>
): void => {
  describe(`${name}: Containerd contract`, () => {
    const run = <A, E>(body: (namespace: string) => Effect.Effect<A, E, Containerd | R | Scope.Scope>) =>
      inTestNamespace(layer(), body)

    it.live("Containers.Get of a missing id fails with NotFound", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const error = yield* failure(cd.containers.get({ id: "does-not-exist" }))
          expect(error._tag).toBe("ContainerdError")
          expect(error.reason).toBe("NotFound")
          expect(error.method).toBe("Containers.Get")
          expect(error.unreachable).toBe(false)
          expect(error.message).toContain("not found")
        })
      ))

    it.live("an invalid namespace name fails with InvalidArgument", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const error = yield* failure(cd.containers.list({}).pipe(inNamespace("not a valid namespace!")))
          expect(error.reason).toBe("InvalidArgument")
          const nonAscii = yield* failure(cd.containers.list({}).pipe(inNamespace("nämespace")))
          expect(nonAscii.reason).toBe("InvalidArgument")
        })
      ))

    it.live("the namespace header scopes objects: a lease is listed in its namespace only", () =>
      run((namespace) =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const id = `lease-${randomBytes(4).toString("hex")}`
          yield* cd.leases.create({ id, labels: { test: "namespace" } })
          expect(yield* leaseIds).toContain(id)
          const other = `${namespace}-other`
          const elsewhere = yield* Effect.ensuring(leaseIds.pipe(inNamespace(other)), cleanupNamespace(other))
          expect(elsewhere).not.toContain(id)
          yield* cd.leases.delete({ id })
          expect(yield* leaseIds).not.toContain(id)
        })
      ))

    it.live("containers: create stores the spec and runtime Any, a second create fails with AlreadyExists", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const spec = Either.getOrThrow(pack(AnyTypes.Spec, specJson))
          const options = Either.getOrThrow(pack(AnyTypes.RuncOptions, RuncOptions.fromPartial({ binaryName: "runc" })))
          const container = { id: "c1", image: "example/image:1", labels: { a: "b" }, spec, runtime: { name: "io.containerd.runc.v2", options } }
          yield* cd.containers.create({ container })
          const again = yield* failure(cd.containers.create({ container }))
          expect(again.reason).toBe("AlreadyExists")
          const got = (yield* cd.containers.get({ id: "c1" })).container
          expect(got?.labels).toEqual({ a: "b" })
          expect(got?.runtime?.name).toBe("io.containerd.runc.v2")
          expect(got?.runtime?.options?.typeUrl).toBe("containerd.runc.v1.Options")
          expect(Either.getOrThrow(unpack(AnyTypes.RuncOptions, got?.runtime?.options)).binaryName).toBe("runc")
          expect(got?.spec?.typeUrl).toBe("types.containerd.io/opencontainers/runtime-spec/1/Spec")
          expect(Either.getOrThrow(unpack(AnyTypes.Spec, got?.spec))).toEqual(specJson)
          yield* cd.containers.delete({ id: "c1" })
          expect((yield* failure(cd.containers.get({ id: "c1" }))).reason).toBe("NotFound")
          expect((yield* failure(cd.containers.delete({ id: "c1" }))).reason).toBe("NotFound")
        })
      ))

    it.live("containers: create without a spec fails with InvalidArgument", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const error = yield* failure(cd.containers.create({ container: { id: "c2", runtime: { name: "io.containerd.runc.v2" } } }))
          expect(error.reason).toBe("InvalidArgument")
        })
      ))

    it.live("tasks of a missing container are NotFound", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          expect((yield* failure(cd.tasks.get({ containerId: "nope" }))).reason).toBe("NotFound")
          expect((yield* failure(cd.tasks.kill({ containerId: "nope", signal: 15 }))).reason).toBe("NotFound")
          expect((yield* failure(cd.tasks.create({ containerId: "nope" }))).reason).toBe("NotFound")
        })
      ))

    it.live("content: write a blob in several chunks, Info and Read show it, rewriting reports alreadyExists", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          // 2.5 MiB in uneven pieces: exercises re-chunking into ≤1 MiB WRITE messages.
          const blob = randomBytes((5 << 20) / 2)
          const digest = sha256(blob)
          const pieces = [blob.subarray(0, 1000), blob.subarray(1000, 1_500_000), blob.subarray(1_500_000)]
          const written = yield* cd.content.write({
            ref: `test-${digest}`,
            expected: digest,
            total: blob.length,
            labels: { "containerd-driver.test": "yes" },
            data: Stream.fromIterable(pieces)
          })
          expect(written).toEqual({ digest, size: BigInt(blob.length), alreadyExists: false })
          const info = (yield* cd.content.info({ digest })).info
          expect(info?.size).toBe(BigInt(blob.length))
          expect(info?.labels).toEqual({ "containerd-driver.test": "yes" })
          const read = yield* Stream.runCollect(cd.content.read({ digest }))
          expect(Buffer.concat(Chunk.toReadonlyArray(read).map((r) => r.data)).equals(blob)).toBe(true)
          const again = yield* cd.content.write({ ref: `test2-${digest}`, expected: digest, total: blob.length, data: Stream.make(blob) })
          expect(again.alreadyExists).toBe(true)
          const { statuses } = yield* cd.content.listStatuses({})
          expect(statuses.map((s) => s.ref)).toEqual([])
        })
      ))

    it.live("content: a wrong digest or size fails with FailedPrecondition and leaves no ingest", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const blob = Buffer.from("hello, containerd")
          const wrongDigest = sha256(Buffer.from("something else"))
          const badDigest = yield* failure(
            cd.content.write({ ref: "bad-digest", expected: wrongDigest, total: blob.length, data: Stream.make(blob) })
          )
          expect(badDigest.reason).toBe("FailedPrecondition")
          expect(badDigest.method).toBe("Content.Write")
          const badSize = yield* failure(
            cd.content.write({ ref: "bad-size", expected: sha256(blob), total: blob.length + 1, data: Stream.make(blob) })
          )
          expect(badSize.reason).toBe("FailedPrecondition")
          const { statuses } = yield* cd.content.listStatuses({})
          expect(statuses.map((s) => s.ref)).toEqual([])
          expect((yield* failure(cd.content.info({ digest: wrongDigest }))).reason).toBe("NotFound")
          expect((yield* failure(cd.content.info({ digest: sha256(blob) }))).reason).toBe("NotFound")
        })
      ))

    it.live("content: a failing source stream aborts the ingest and surfaces the source error", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const blob = randomBytes(4096)
          const result = yield* Effect.flip(
            cd.content.write({
              ref: "source-fails",
              expected: sha256(blob),
              total: blob.length,
              data: Stream.make(blob.subarray(0, 100)).pipe(Stream.concat(Stream.fail("download broke" as const)))
            })
          )
          expect(result).toBe("download broke")
          const { statuses } = yield* cd.content.listStatuses({})
          expect(statuses.map((s) => s.ref)).toEqual([])
        })
      ))

    it.live("content: interrupting a write in progress aborts the ingest", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const firstChunkSent = yield* Deferred.make<void>()
          const data = Stream.make(randomBytes(1 << 20)).pipe(
            // Pulled once the ingest is open and the first (full 1 MiB) WRITE is on its way (not necessarily answered:
            // WRITEs are pipelined).
            Stream.concat(Stream.fromEffect(Effect.zipRight(Deferred.succeed(firstChunkSent, undefined), Effect.never)))
          )
          const writer = yield* Effect.fork(
            cd.content.write({ ref: "interrupted", expected: sha256(Buffer.from("x")), total: 2 << 20, data })
          )
          yield* Deferred.await(firstChunkSent)
          const during = (yield* cd.content.listStatuses({})).statuses
          expect(during.map((s) => [s.ref, s.total])).toEqual([["interrupted", BigInt(2 << 20)]])
          expect([0n, BigInt(1 << 20)]).toContain(during[0]?.offset)
          yield* Fiber.interrupt(writer)
          expect((yield* cd.content.listStatuses({})).statuses).toEqual([])
        })
      ))

    it.live("leases: inLease adds written content to the lease", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const blob = randomBytes(512)
          const digest = sha256(blob)
          const lease = (yield* cd.leases.create({ id: "pull-lease" })).lease
          expect(lease?.id).toBe("pull-lease")
          yield* cd.content.write({ ref: "leased", expected: digest, total: blob.length, data: Stream.make(blob) }).pipe(
            inLease("pull-lease")
          )
          const { resources } = yield* cd.leases.listResources({ id: "pull-lease" })
          expect(resources).toContainEqual({ id: digest, type: "content" })
        })
      ))

    it.live("withLease deletes its lease when the scope ends, fails or is interrupted", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const inside = yield* Effect.scoped(
            Effect.gen(function*() {
              const lease = yield* cd.withLease({ labels: { purpose: "test" } })
              expect(lease.labels["containerd.io/gc.expire"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
              expect(lease.labels["purpose"]).toBe("test")
              expect(yield* leaseIds).toContain(lease.id)
              return lease.id
            })
          )
          expect(yield* leaseIds).not.toContain(inside)

          const failed = yield* Effect.exit(Effect.scoped(
            Effect.gen(function*() {
              const lease = yield* cd.withLease({ id: "failing-lease" })
              expect(yield* leaseIds).toContain(lease.id)
              return yield* Effect.fail("boom" as const)
            })
          ))
          expect(Exit.isFailure(failed)).toBe(true)
          expect(yield* leaseIds).not.toContain("failing-lease")

          const acquired = yield* Deferred.make<string>()
          const fiber = yield* Effect.fork(Effect.scoped(
            Effect.gen(function*() {
              const lease = yield* cd.withLease()
              yield* Deferred.succeed(acquired, lease.id)
              return yield* Effect.never
            })
          ))
          const interruptedId = yield* Deferred.await(acquired)
          expect(yield* leaseIds).toContain(interruptedId)
          yield* Fiber.interrupt(fiber)
          expect(yield* leaseIds).not.toContain(interruptedId)
        })
      ))

    it.live("images: missing is NotFound, a duplicate name is AlreadyExists", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          expect((yield* failure(cd.images.get({ name: "example.com/missing:1" }))).reason).toBe("NotFound")
          const target = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(Buffer.from("m")), size: 1n }
          const created = (yield* cd.images.create({ image: { name: "example.com/app:1", target } })).image
          expect(created?.target?.digest).toBe(target.digest)
          expect((yield* failure(cd.images.create({ image: { name: "example.com/app:1", target } }))).reason).toBe("AlreadyExists")
          expect((yield* cd.images.list({})).images.map((i) => i.name)).toEqual(["example.com/app:1"])
          yield* cd.images.delete({ name: "example.com/app:1" })
          expect((yield* failure(cd.images.get({ name: "example.com/app:1" }))).reason).toBe("NotFound")
        })
      ))

    it.live("snapshots: prepare, commit, parent chains and removal rules", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const mounts = (yield* cd.snapshots.prepare({ snapshotter, key: "base-active" })).mounts
          expect(mounts.length).toBe(1)
          expect(mounts[0]?.type).toBe("bind")
          expect((yield* failure(cd.snapshots.prepare({ snapshotter, key: "base-active" }))).reason).toBe("AlreadyExists")
          yield* cd.snapshots.commit({ snapshotter, name: "base", key: "base-active" })
          expect((yield* failure(cd.snapshots.stat({ snapshotter, key: "base-active" }))).reason).toBe("NotFound")
          expect((yield* cd.snapshots.stat({ snapshotter, key: "base" })).info?.kind).toBe(Kind.COMMITTED)
          yield* cd.snapshots.prepare({ snapshotter, key: "child", parent: "base" })
          const child = (yield* cd.snapshots.stat({ snapshotter, key: "child" })).info
          expect(child?.parent).toBe("base")
          expect(child?.kind).toBe(Kind.ACTIVE)
          expect((yield* cd.snapshots.mounts({ snapshotter, key: "child" })).mounts.length).toBe(1)
          expect((yield* failure(cd.snapshots.prepare({ snapshotter, key: "orphan", parent: "missing" }))).reason).toBe("NotFound")
          expect((yield* failure(cd.snapshots.remove({ snapshotter, key: "base" }))).reason).toBe("FailedPrecondition")
          yield* cd.snapshots.remove({ snapshotter, key: "child" })
          yield* cd.snapshots.remove({ snapshotter, key: "base" })
          expect((yield* failure(cd.snapshots.remove({ snapshotter, key: "base" }))).reason).toBe("NotFound")
        })
      ))

    it.live("describe: native and overlayfs load, devmapper only with its error, runc v2, Transfer from 1.7 on", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const description = yield* cd.describe
          expect(description.serving).toBe(true)
          const byId = new Map(description.snapshotters.map((s) => [s.id, s]))
          expect(byId.get("native")).toEqual({ id: "native", ok: true })
          expect(byId.get("overlayfs")).toEqual({ id: "overlayfs", ok: true })
          // devmapper is never configured on the test hosts: listed (when built in) with its init error.
          const devmapper = byId.get("devmapper")
          if (devmapper !== undefined) {
            expect(devmapper.ok).toBe(false)
            expect(devmapper.error).toBeTruthy()
          }
          expect(description.runtimes).toContain("io.containerd.runc.v2")
          const version = Option.getOrThrow(parseVersion(description.version))
          expect(description.hasTransfer).toBe(compareVersions(version, { major: 1, minor: 7, patch: 0 }) >= 0)
        })
      ))

    it.live("info: containers, images, snapshots and content report what the driver reads (labels, times, kind, parent)", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const since = Date.now()
          const spec = Either.getOrThrow(pack(AnyTypes.Spec, specJson))
          yield* cd.containers.create({
            container: { id: "info", labels: { owner: "test" }, spec, runtime: { name: "io.containerd.runc.v2" }, snapshotter, snapshotKey: "info-rootfs" }
          })
          const container = (yield* cd.containers.get({ id: "info" })).container
          expect(container).toMatchObject({ id: "info", labels: { owner: "test" }, snapshotter, snapshotKey: "info-rootfs" })
          setDuring(container?.createdAt, since)
          setDuring(container?.updatedAt, since)
          expect((yield* cd.containers.list({})).containers.map((c) => [c.id, c.createdAt])).toEqual([["info", container?.createdAt]])

          const blob = Buffer.from("info blob")
          yield* cd.content.write({ ref: "info", expected: sha256(blob), total: blob.length, labels: { kind: "blob" }, data: Stream.make(blob) })
          const content = (yield* cd.content.info({ digest: sha256(blob) })).info
          expect(content).toMatchObject({ digest: sha256(blob), size: BigInt(blob.length), labels: { kind: "blob" } })
          setDuring(content?.createdAt, since)
          const relabelled = (yield* cd.content.update({
            info: { digest: sha256(blob), labels: { kind: "changed", extra: "x" } },
            updateMask: ["labels.kind", "labels.extra"]
          })).info
          expect(relabelled?.labels).toEqual({ kind: "changed", extra: "x" })
          expect(relabelled?.createdAt).toEqual(content?.createdAt)

          const target = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(blob), size: BigInt(blob.length) }
          yield* cd.images.create({ image: { name: "example.com/info:1", labels: { pulled: "yes" }, target } })
          const image = (yield* cd.images.get({ name: "example.com/info:1" })).image
          expect(image).toMatchObject({ name: "example.com/info:1", labels: { pulled: "yes" }, target: { digest: sha256(blob), size: BigInt(blob.length) } })
          setDuring(image?.createdAt, since)
          setDuring(image?.updatedAt, since)

          yield* cd.snapshots.prepare({ snapshotter, key: "info-base-active", labels: { layer: "0" } })
          const active = (yield* cd.snapshots.stat({ snapshotter, key: "info-base-active" })).info
          expect(active).toMatchObject({ name: "info-base-active", parent: "", kind: Kind.ACTIVE, labels: { layer: "0" } })
          setDuring(active?.createdAt, since)
          yield* cd.snapshots.commit({ snapshotter, name: "info-base", key: "info-base-active", labels: { layer: "1" } })
          expect((yield* cd.snapshots.stat({ snapshotter, key: "info-base" })).info).toMatchObject({
            name: "info-base",
            parent: "",
            kind: Kind.COMMITTED,
            labels: { layer: "1" }
          })
          yield* cd.snapshots.view({ snapshotter, key: "info-view", parent: "info-base" })
          expect((yield* cd.snapshots.stat({ snapshotter, key: "info-view" })).info).toMatchObject({
            name: "info-view",
            parent: "info-base",
            kind: Kind.VIEW,
            labels: {}
          })
        })
      ))

    it.live("GC: a deleted lease's unreferenced content and snapshots go; images, gc.ref labels and parents keep theirs", () =>
      run(() =>
        withoutLease(Effect.gen(function*() {
          const cd = yield* Containerd
          const [layerBlob, orphan, config] = [randomBytes(64), randomBytes(32), Buffer.from("{\"config\":true}")]
          yield* cd.leases.create({ id: "gc-pull" })
          yield* Effect.gen(function*() {
            for (const blob of [layerBlob, orphan]) {
              yield* cd.content.write({ ref: `gc-${sha256(blob)}`, expected: sha256(blob), total: blob.length, data: Stream.make(blob) })
            }
            yield* cd.snapshots.prepare({ snapshotter, key: "gc-base-active" })
            yield* cd.snapshots.commit({ snapshotter, name: "gc-base", key: "gc-base-active" })
            yield* cd.snapshots.prepare({ snapshotter, key: "gc-top-active", parent: "gc-base" })
            yield* cd.snapshots.commit({ snapshotter, name: "gc-top", key: "gc-top-active", labels: {} })
            yield* cd.snapshots.prepare({ snapshotter, key: "gc-stray" })
            // The config names the unpacked snapshot, as an unpack labels it (containerd.io/gc.ref.snapshot.<snapshotter>).
            yield* cd.content.write({
              ref: "gc-config",
              expected: sha256(config),
              total: config.length,
              labels: { [`containerd.io/gc.ref.snapshot.${snapshotter}`]: "gc-top" },
              data: Stream.make(config)
            })
          }).pipe(inLease("gc-pull"))
          const manifest = Buffer.from(JSON.stringify({ config: sha256(config), layers: [sha256(layerBlob)] }))
          yield* cd.content.write({
            ref: "gc-manifest",
            expected: sha256(manifest),
            total: manifest.length,
            labels: { "containerd.io/gc.ref.content.config": sha256(config), "containerd.io/gc.ref.content.l.0": sha256(layerBlob) },
            data: Stream.make(manifest)
          }).pipe(inLease("gc-pull"))
          yield* cd.images.create({
            image: {
              name: "example.com/gc:1",
              target: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(manifest), size: BigInt(manifest.length) }
            }
          })
          expect(yield* contentDigests).toEqual([layerBlob, orphan, config, manifest].map(sha256).sort())
          yield* cd.leases.delete({ id: "gc-pull", sync: true })
          expect(yield* contentDigests).toEqual([layerBlob, config, manifest].map(sha256).sort())
          expect(yield* snapshotNames(snapshotter)).toEqual(["gc-base", "gc-top"])
          yield* cd.images.delete({ name: "example.com/gc:1", sync: true })
          expect(yield* contentDigests).toEqual([])
          expect(yield* snapshotNames(snapshotter)).toEqual([])
        }))
      ))

    it.live("GC: a gc.root label keeps content without a lease or image", () =>
      run(() =>
        withoutLease(Effect.gen(function*() {
          const cd = yield* Containerd
          const [rooted, loose] = [randomBytes(48), randomBytes(48)]
          yield* cd.leases.create({ id: "gc-roots" })
          yield* Effect.forEach([rooted, loose], (blob) =>
            cd.content.write({
              ref: `root-${sha256(blob)}`,
              expected: sha256(blob),
              total: blob.length,
              labels: blob === rooted ? { "containerd.io/gc.root": "2024-01-01T00:00:00Z" } : {},
              data: Stream.make(blob)
            })).pipe(inLease("gc-roots"))
          yield* cd.leases.delete({ id: "gc-roots", sync: true })
          expect(yield* contentDigests).toEqual([sha256(rooted)])
        }))
      ))

    it.live("Diff.Apply unpacks a gzip layer into an active snapshot and reports the uncompressed tar", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const file = randomBytes(6000)
          const entries = [{ path: "etc", type: "dir" as const }, { path: "etc/data.bin", data: file }]
          const [plain, gz] = [tar(entries), tarGz(entries)]
          yield* cd.content.write({ ref: "diff-layer", expected: sha256(gz), total: gz.length, data: Stream.make(gz) })
          const { mounts } = yield* cd.snapshots.prepare({ snapshotter: "overlayfs", key: "diff-extract" })
          const diff = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256(gz), size: BigInt(gz.length) }
          const { applied } = yield* cd.diff.apply({ diff, mounts })
          expect(applied).toEqual({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(plain), size: BigInt(plain.length), annotations: {} })
          // Disk usage: at least the file's bytes (the daemon counts blocks, so it may say more).
          expect((yield* cd.snapshots.usage({ snapshotter: "overlayfs", key: "diff-extract" })).size).toBeGreaterThanOrEqual(BigInt(file.length))
          const missing = yield* failure(cd.diff.apply({ diff: { ...diff, digest: sha256(Buffer.from("absent")) }, mounts }))
          expect(missing.reason).toBe("NotFound")
          const unknown = yield* failure(cd.diff.apply({ diff: { ...diff, mediaType: "application/x-unknown" }, mounts }))
          expect([unknown.reason, unknown.detail]).toEqual([
            "Unknown",
            "failed to get stream processor for application/x-unknown: no processor for media-type"
          ])
          const corrupt = Buffer.from("not gzip at all")
          yield* cd.content.write({ ref: "diff-corrupt", expected: sha256(corrupt), total: corrupt.length, data: Stream.make(corrupt) })
          const broken = yield* failure(cd.diff.apply({ diff: { ...diff, digest: sha256(corrupt), size: BigInt(corrupt.length) }, mounts }))
          expect(broken.reason).toBe("Unknown")
          expect(broken.detail).toMatch(/^mount callback failed on \S+: /)
        })
      ))

    it.live("overlayfs mounts: bind for a base, overlay with work/upper dirs and the parents top-first; a view of one parent is a bind", () =>
      run(() =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const prepare = (key: string, parent?: string) =>
            Effect.map(cd.snapshots.prepare({ snapshotter: "overlayfs", key, ...(parent === undefined ? {} : { parent }) }), (r) => r.mounts)
          const [base] = yield* prepare("ov-l1-active")
          expect(base).toMatchObject({ type: "bind", options: ["rw", "rbind"] })
          expect(base?.source).toMatch(overlayfsDir)
          const l1 = base?.source ?? ""
          yield* cd.snapshots.commit({ snapshotter: "overlayfs", name: "ov-l1", key: "ov-l1-active" })
          const [second] = yield* prepare("ov-l2-active", "ov-l1")
          expect(second?.type).toBe("overlay")
          expect(second?.source).toBe("overlay")
          const upper2 = second?.options.find((o) => o.startsWith("upperdir="))?.slice("upperdir=".length) ?? ""
          expect(upper2).toMatch(overlayfsDir)
          expect(overlayDirs(second?.options ?? [])).toEqual([
            `workdir=${upper2.replace(/\/fs$/, "/work")}`,
            `upperdir=${upper2}`,
            `lowerdir=${l1}`
          ])
          yield* cd.snapshots.commit({ snapshotter: "overlayfs", name: "ov-l2", key: "ov-l2-active" })
          const [rw] = yield* prepare("ov-rw", "ov-l2")
          expect(rw?.type).toBe("overlay")
          const upper3 = rw?.options.find((o) => o.startsWith("upperdir="))?.slice("upperdir=".length) ?? ""
          expect(new Set([l1, upper2, upper3]).size).toBe(3)
          expect(overlayDirs(rw?.options ?? [])).toEqual([
            `workdir=${upper3.replace(/\/fs$/, "/work")}`,
            `upperdir=${upper3}`,
            `lowerdir=${upper2}:${l1}`
          ])
          expect((yield* cd.snapshots.mounts({ snapshotter: "overlayfs", key: "ov-rw" })).mounts).toEqual([rw])
          const single = (yield* cd.snapshots.view({ snapshotter: "overlayfs", key: "ov-view-1", parent: "ov-l1" })).mounts
          expect(single).toEqual([{ type: "bind", source: l1, target: "", options: ["ro", "rbind"] }])
          const [double] = (yield* cd.snapshots.view({ snapshotter: "overlayfs", key: "ov-view-2", parent: "ov-l2" })).mounts
          expect(double?.type).toBe("overlay")
          expect(overlayDirs(double?.options ?? [])).toEqual([`lowerdir=${upper2}:${l1}`])
        })
      ))

    it.live("events: a published event reaches a namespace-filtered subscriber with its Any intact", () =>
      run((namespace) =>
        Effect.gen(function*() {
          const cd = yield* Containerd
          const received = yield* Effect.fork(
            Stream.runHead(cd.events.subscribe({ filters: [`namespace==${namespace}`] }))
          )
          const event = Either.getOrThrow(pack(AnyTypes.TaskOOM, { containerId: "probe" }))
          // The subscription is registered asynchronously: publish until the subscriber has seen one.
          yield* cd.events.publish({ topic: "/tasks/oom", event }).pipe(
            Effect.repeat(Schedule.spaced("50 millis")),
            Effect.raceFirst(Fiber.await(received))
          )
          const envelope = Option.getOrThrow(yield* Fiber.join(received))
          expect(envelope.namespace).toBe(namespace)
          expect(envelope.topic).toBe("/tasks/oom")
          expect(Either.getOrThrow(unpack(AnyTypes.TaskOOM, envelope.event))).toEqual({ containerId: "probe" })
        })
      ))

    taskContract(run, hooks)
  })
}
