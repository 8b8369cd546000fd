// ImageStore against FakeContainerd and an in-memory registry: what ends up in containerd (blobs with the GC
// labels, snapshot chain, image record), what is asked of the registry (nothing for a present image, one fetch for
// concurrent pulls), timeouts and interruption leaving nothing behind, progress, errors, and readFile.
import { createHash } from "node:crypto"
import { it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Layer, Option, Stream } from "effect"
import { describe, expect } from "vitest"
import { Containerd } from "../../layers/Containerd.js"
import * as FakeContainerdLayer from "../../layers/FakeContainerd.js"
import { FakeContainerd } from "../../layers/FakeContainerd.js"
import * as ImageStoreLayer from "../../layers/ImageStore.js"
import { ImageStore, type PullProgress } from "../../layers/ImageStore.js"
import { chainIds } from "../../src/image/ImageConfig.js"
import type { Platform } from "../../src/image/Manifest.js"
import { type FakeImage, fakeRegistry, type FakeRegistryOptions, makeGate, makeImage } from "../support/fakeImages.js"
import type { TarSpec } from "../support/tarWriter.js"

const amd64: Platform = { os: "linux", architecture: "amd64" }
const arm64: Platform = { os: "linux", architecture: "arm64" }
const snapshotter = "overlayfs"

const baseLayer: ReadonlyArray<TarSpec> = [
  { path: "bin", type: "dir" },
  { path: "bin/busybox", data: "#!busybox\n", mode: 0o755 },
  { path: "bin/sh", type: "symlink", linkName: "busybox" },
  { path: "etc", type: "dir" },
  { path: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n" },
  { path: "etc/group", data: "root:x:0:\napp:x:1000:\n" }
]
// 60 kB that gzip cannot shrink, yet the same on every run, so the layers' DiffIDs and the image's ChainID are
// fixed values (see appImageChain below).
const incompressible = (size: number): Buffer => {
  const blocks: Array<Buffer> = []
  for (let i = 0, total = 0; total < size; i++, total += 32) blocks.push(createHash("sha256").update(`block ${i}`).digest())
  return Buffer.concat(blocks).subarray(0, size)
}
const dataLayer: ReadonlyArray<TarSpec> = [
  { path: "data", type: "dir" },
  { path: "data/a.txt", data: incompressible(60_000).toString("base64") },
  { path: "data/deleted.txt", data: "deleted later\n" }
]
const changeLayer: ReadonlyArray<TarSpec> = [{ path: "data/.wh.deleted.txt" }, { path: "data/b.txt", data: "b\n" }]

const appImage = makeImage("registry.test/team/app:1", [baseLayer, dataLayer, changeLayer], {
  Env: ["PATH=/bin", "FOO=bar"],
  Entrypoint: ["/bin/sh", "-c"],
  Cmd: ["echo hi"],
  WorkingDir: "/data",
  User: "app",
  StopSignal: "SIGQUIT",
  Labels: { kind: "app" },
  ExposedPorts: { "8080/tcp": {} }
}, { platform: amd64 })

// appImage's layer DiffIDs (sha256 of each uncompressed tar test/support/tarWriter.ts writes) and the ChainIDs of
// the image-spec (config.md, "Layer ChainID": ChainID(L0|...|Ln) = SHA256(ChainID(L0|...|Ln-1) + " " + DiffID(Ln))),
// worked out in a shell, not by the driver:
//   printf '%s %s' "$L0" "$L1" | sha256sum   -> chain 1;   printf '%s %s' "sha256:<chain 1>" "$L2" | sha256sum -> chain 2
const appImageDiffIds = [
  "sha256:9e9581a4690298d8397a5591d9f40f083258e99007d522009c02958717cd46ea",
  "sha256:311ebbe70b59aafabab2629f757d9e9fd125b1468df6a6f10b7a52baaf668ba6",
  "sha256:4513c70a0a866d13c4dc6486376fb5be19388d44b477caaaaef783d73cec83f3"
]
const appImageChain = [
  appImageDiffIds[0],
  "sha256:6521c841544bc0b81ad6b38056746d74b7fd6b53082a9c6f37e7c3937f9f8687",
  "sha256:8470371ffd6d4c1496039b511ff69d4bfaf5718d13eac94b1b14b2594ce25aca"
]

const multiArch = makeImage("registry.test/team/multi:latest", [baseLayer], { Env: ["PLATFORM=amd64"] }, {
  platform: amd64,
  otherPlatforms: [arm64]
})

const setup = (images: ReadonlyArray<FakeImage>, options: FakeRegistryOptions = {}, platform: Platform = amd64) => {
  const registry = fakeRegistry(images, options)
  const store = ImageStoreLayer.layer({ snapshotter, platform, progressInterval: "1 hour" })
  const layer = store.pipe(Layer.provideMerge(Layer.merge(FakeContainerdLayer.layer({ namespace: "nomad" }), registry.layer)))
  return { registry, layer }
}

const contentLabels = Effect.gen(function*() {
  const cd = yield* Containerd
  const infos = Chunk.toReadonlyArray(yield* Stream.runCollect(cd.content.list({}))).flatMap((r) => r.info)
  return new Map(infos.map((info) => [info.digest, info.labels]))
})

const snapshotNames = Effect.gen(function*() {
  const cd = yield* Containerd
  const infos = Chunk.toReadonlyArray(yield* Stream.runCollect(cd.snapshots.list({ snapshotter }))).flatMap((r) => r.info)
  return infos.map((info) => info.name).sort()
})

/** Leases and open ingests: a finished or abandoned pull must leave none. */
const leftovers = Effect.gen(function*() {
  const cd = yield* Containerd
  const { leases } = yield* cd.leases.list({})
  const { statuses } = yield* cd.content.listStatuses({})
  return { leases: leases.length, ingests: statuses.length }
})

describe("ImageStore.pull from the registry", () => {
  it.live("stores every blob with the GC labels, unpacks the chain and records the image", () => {
    const { layer } = setup([appImage])
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const image = yield* store.pull("registry.test/team/app:1")
      expect(appImage.layers.map((l) => l.diffId)).toEqual(appImageDiffIds) // the fixture is the one worked out above
      expect(image.name).toBe("registry.test/team/app:1")
      expect(image.target.digest).toBe(appImage.root.digest)
      expect(image.config.digest).toBe(appImage.configDigest)
      expect(image.chainId).toBe(appImageChain[2])
      expect(image.snapshotter).toBe(snapshotter)
      expect(image.platform).toEqual(amd64)
      expect(image.imageConfig).toEqual({
        env: ["PATH=/bin", "FOO=bar"],
        entrypoint: ["/bin/sh", "-c"],
        cmd: ["echo hi"],
        workingDir: "/data",
        user: "app",
        stopSignal: "SIGQUIT",
        labels: { kind: "app" },
        exposedPorts: ["8080/tcp"]
      })

      const labels = yield* contentLabels
      const source = { "containerd.io/distribution.source.registry.test": "team/app" }
      expect(labels.get(appImage.root.digest)).toEqual({
        ...source,
        "containerd.io/gc.ref.content.config": appImage.configDigest,
        "containerd.io/gc.ref.content.l.0": appImage.layers[0]!.digest,
        "containerd.io/gc.ref.content.l.1": appImage.layers[1]!.digest,
        "containerd.io/gc.ref.content.l.2": appImage.layers[2]!.digest
      })
      expect(labels.get(appImage.configDigest)).toEqual({ ...source, "containerd.io/gc.ref.snapshot.overlayfs": appImageChain[2] })
      appImage.layers.forEach((l) => expect(labels.get(l.digest)).toEqual({ ...source, "containerd.io/uncompressed": l.diffId }))
      expect(yield* snapshotNames).toEqual([...appImageChain].sort())

      const cd = yield* Containerd
      const { image: record } = yield* cd.images.get({ name: "registry.test/team/app:1" })
      expect(record?.target).toMatchObject({ digest: appImage.root.digest, mediaType: appImage.root.mediaType, size: BigInt(appImage.root.size) })
      expect(yield* leftovers).toEqual({ leases: 0, ingests: 0 })

      // The labels are the whole retention chain: GC keeps everything while the record exists, and nothing after.
      const fake = yield* FakeContainerd
      yield* fake.collectGarbage()
      expect((yield* contentLabels).size).toBe(5)
      expect((yield* snapshotNames).length).toBe(3)
      yield* store.remove("registry.test/team/app:1")
      yield* fake.collectGarbage()
      expect((yield* contentLabels).size).toBe(0)
      expect(yield* snapshotNames).toEqual([])
    }).pipe(Effect.provide(layer))
  })

  it.live("picks the host platform from an index and records the index as the target", () =>
    Effect.gen(function*() {
      for (const [platform, expected] of [[amd64, "PLATFORM=amd64"], [arm64, "PLATFORM=arm64"]] as const) {
        const { layer } = setup([multiArch], {}, platform)
        const image = yield* Effect.flatMap(ImageStore, (store) => store.pull("registry.test/team/multi")).pipe(Effect.provide(layer))
        expect(image.target.digest).toBe(multiArch.root.digest)
        expect(image.manifest.digest).not.toBe(multiArch.root.digest)
        expect(image.imageConfig.env).toEqual([expected])
        expect(image.platform.architecture).toBe(platform.architecture)
      }
    }))

  it.live("a present image is resolved again but nothing is downloaded; force_pull downloads every blob again", () => {
    const { layer, registry } = setup([appImage])
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const first = yield* store.pull("registry.test/team/app:1")
      const afterFirst = { ...registry.calls }
      expect(afterFirst.resolve).toBe(1)
      expect(afterFirst.fetchBlob).toBe(4) // config + 3 layers
      const second = yield* store.pull("registry.test/team/app:1")
      expect(registry.calls).toEqual({ ...afterFirst, resolve: 2 })
      expect(second).toEqual(first)
      const events: Array<PullProgress> = []
      const forced = yield* store.pull("registry.test/team/app:1", { forcePull: true, onProgress: (p) => Effect.sync(() => events.push(p)) })
      expect(registry.calls.resolve).toBe(3)
      expect(registry.calls.fetchManifest).toBe(afterFirst.fetchManifest + 1)
      expect(registry.calls.fetchBlob).toBe(afterFirst.fetchBlob * 2)
      expect(registry.calls.blobBytes).toBe(afterFirst.blobBytes * 2)
      expect(events.at(-1)?.layers.map((l) => l.fetch)).toEqual(["downloaded", "downloaded", "downloaded"])
      expect(forced).toEqual(first)
      expect((yield* store.get("registry.test/team/app:1")).chainId).toBe(first.chainId)
    }).pipe(Effect.provide(layer))
  })

  it.live("a missing snapshot chain is unpacked again from the content store, downloading nothing", () => {
    const { layer, registry } = setup([appImage])
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const cd = yield* Containerd
      const image = yield* store.pull("registry.test/team/app:1")
      const calls = { ...registry.calls }
      yield* cd.snapshots.remove({ snapshotter, key: image.chainId })
      const error = yield* Effect.flip(store.get("registry.test/team/app:1"))
      expect(error.reason).toBe("NotFound")
      expect(error.message).toContain("not unpacked")
      const again = yield* store.pull("registry.test/team/app:1")
      expect(again.chainId).toBe(image.chainId)
      expect(yield* snapshotNames).toContain(image.chainId)
      expect(registry.calls).toEqual({ ...calls, resolve: calls.resolve + 1 })
      expect(yield* leftovers).toEqual({ leases: 0, ingests: 0 })
    }).pipe(Effect.provide(layer))
  })

  it.live("ten concurrent pulls of one image share one fetch; another image pulls in parallel", () =>
    Effect.gen(function*() {
      const gate = yield* makeGate
      const other = makeImage("registry.test/team/other:2", [[{ path: "x", data: "x" }]], {}, { platform: amd64 })
      const { layer, registry } = setup([appImage, other], {
        beforeChunk: (digest) => (appImage.layers.some((l) => l.digest === digest) ? gate.wait : Effect.void)
      })
      yield* Effect.gen(function*() {
        const store = yield* ImageStore
        const pulls = yield* Effect.forEach(
          Array.from({ length: 10 }, (_, i) => i),
          () => Effect.fork(store.pull("registry.test/team/app:1")),
          { concurrency: "unbounded" }
        )
        yield* gate.reached
        // While the shared pull is held, a different image is not held up by it.
        const otherImage = yield* store.pull("registry.test/team/other:2")
        expect(otherImage.name).toBe("registry.test/team/other:2")
        expect(registry.calls.resolve).toBe(2)
        yield* gate.open
        const images = yield* Effect.forEach(pulls, Fiber.join)
        expect(new Set(images.map((image) => image.chainId)).size).toBe(1)
        expect(registry.calls.resolve).toBe(2)
        expect(registry.calls.fetchBlob).toBe(4 + 2)
      }).pipe(Effect.provide(layer))
    }))

  it.live("reports progress: phases in order, per-layer states, byte counts, throttled", () => {
    const { layer } = setup([appImage], { chunkSize: 256 })
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const events: Array<PullProgress> = []
      yield* store.pull("registry.test/team/app:1", { onProgress: (p) => Effect.sync(() => events.push(p)) })
      const phases = events.map((e) => e.phase).filter((phase, i, all) => phase !== all[i - 1])
      expect(phases[0]).toBe("resolve")
      expect(phases).toContain("fetch")
      expect(phases[phases.length - 1]).toBe("done")
      const last = events[events.length - 1]!
      const layerBytes = appImage.layers.map((l) => appImage.blobs.get(l.digest)!.length)
      expect(last.totalBytes).toBe(layerBytes.reduce((a, b) => a + b, 0))
      expect(last.downloadedBytes).toBe(last.totalBytes)
      expect(last.layers.map((l) => [l.fetch, l.unpack])).toEqual(appImage.layers.map(() => ["downloaded", "unpacked"]))
      // With an interval of an hour, byte counts alone never trigger a report: far fewer events than chunks.
      const chunks = layerBytes.reduce((sum, size) => sum + Math.ceil(size / 256), 0)
      expect(chunks).toBeGreaterThan(100)
      expect(events.length).toBeLessThan(30)
    }).pipe(Effect.provide(layer))
  })

  it.live("image_pull_timeout ends a stalled pull with a recoverable Timeout, leaving no lease or ingest", () =>
    Effect.gen(function*() {
      const gate = yield* makeGate
      const { layer } = setup([appImage], { beforeChunk: (digest) => (digest === appImage.layers[1]!.digest ? gate.wait : Effect.void) })
      yield* Effect.gen(function*() {
        const store = yield* ImageStore
        const error = yield* Effect.flip(store.pull("registry.test/team/app:1", { timeout: "300 millis" }))
        expect(error.reason).toBe("Timeout")
        expect(error.recoverable).toBe(true)
        expect(error.message).toBe(
          "Error in pulling image registry.test/team/app:1: the pull of registry.test/team/app:1 did not finish within " +
            "300ms (image_pull_timeout); a slow or unreachable registry is temporary, and the pull is retried when the task restarts"
        )
        expect(yield* leftovers).toEqual({ leases: 0, ingests: 0 })
        const fake = yield* FakeContainerd
        yield* fake.collectGarbage()
        expect((yield* contentLabels).size).toBe(0)
        expect(yield* snapshotNames).toEqual([])
      }).pipe(Effect.provide(layer))
    }))

  it.live("interrupting the only caller stops the pull; another caller keeps it alive", () =>
    Effect.gen(function*() {
      const gate = yield* makeGate
      const { layer, registry } = setup([appImage], { beforeChunk: (digest) => (digest === appImage.layers[2]!.digest ? gate.wait : Effect.void) })
      yield* Effect.gen(function*() {
        const store = yield* ImageStore
        const cd = yield* Containerd
        const first = yield* Effect.fork(store.pull("registry.test/team/app:1"))
        const second = yield* Effect.fork(store.pull("registry.test/team/app:1"))
        yield* gate.reached
        yield* Fiber.interrupt(first)
        yield* gate.open
        const image = yield* Fiber.join(second)
        expect(image.name).toBe("registry.test/team/app:1")
        expect(registry.calls.resolve).toBe(1)

        // Now abandon a pull midway with no one else waiting.
        yield* store.remove("registry.test/team/app:1")
        const fake = yield* FakeContainerd
        yield* fake.collectGarbage()
        const gate2 = yield* makeGate
        const { layer: layer2 } = setup([appImage], { beforeChunk: (digest) => (digest === appImage.layers[2]!.digest ? gate2.wait : Effect.void) })
        yield* Effect.gen(function*() {
          const store2 = yield* ImageStore
          const pull = yield* Effect.fork(store2.pull("registry.test/team/app:1"))
          yield* gate2.reached
          yield* Fiber.interrupt(pull)
          expect(yield* leftovers).toEqual({ leases: 0, ingests: 0 })
          yield* (yield* FakeContainerd).collectGarbage()
          expect((yield* contentLabels).size).toBe(0)
          expect(yield* snapshotNames).toEqual([])
          expect((yield* (yield* Containerd).images.list({})).images).toEqual([])
        }).pipe(Effect.provide(layer2))
        expect((yield* cd.images.list({})).images).toEqual([])
      }).pipe(Effect.provide(layer))
    }))

  it.live("a late joiner gets the latest progress at once", () =>
    Effect.gen(function*() {
      const gate = yield* makeGate
      const { layer } = setup([appImage], { beforeChunk: (digest) => (digest === appImage.layers[1]!.digest ? gate.wait : Effect.void) })
      yield* Effect.gen(function*() {
        const store = yield* ImageStore
        const first = yield* Effect.fork(store.pull("registry.test/team/app:1"))
        yield* gate.reached
        const seen = yield* Deferred.make<PullProgress>()
        const late = yield* Effect.fork(store.pull("registry.test/team/app:1", { onProgress: (p) => Effect.asVoid(Deferred.succeed(seen, p)) }))
        const progress = yield* Deferred.await(seen)
        expect(progress.phase).toBe("fetch")
        yield* gate.open
        yield* Fiber.join(first)
        yield* Fiber.join(late)
      }).pipe(Effect.provide(layer))
    }))
})

describe("ImageStore errors", () => {
  it.live("keep the original driver's wording and say whether retrying can help", () => {
    const { layer } = setup([appImage], { denied: ["registry.test/team/private:latest"] })
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const denied = yield* Effect.flip(store.pull("registry.test/team/private"))
      expect(denied.reason).toBe("Unauthorized")
      expect(denied.recoverable).toBe(false)
      expect(denied.message).toBe(
        "Error in pulling image registry.test/team/private: pull access denied, repository does not exist or may " +
          "require authorization: registry.test/team/private:latest"
      )
      const missing = yield* Effect.flip(store.pull("registry.test/team/app:2"))
      expect(missing.reason).toBe("NotFound")
      expect(missing.message).toContain("Error in pulling image registry.test/team/app:2: manifest unknown: registry.test/team/app:2")
      const invalid = yield* Effect.flip(store.pull("registry.test/Team/App"))
      expect(invalid.reason).toBe("InvalidReference")
      expect(invalid.recoverable).toBe(false)
      expect(invalid.message).toMatch(/^Error in pulling image registry\.test\/Team\/App: invalid image reference/)
      const fake = yield* FakeContainerd
      yield* fake.setReachable(false)
      const down = yield* Effect.flip(store.pull("registry.test/team/app:1"))
      expect(down.reason).toBe("Containerd")
      expect(down.recoverable).toBe(true)
      expect(down.message).toContain("Error in pulling image registry.test/team/app:1: containerd is not reachable")
    }).pipe(Effect.provide(layer))
  })

  it.live("a layer whose bytes do not match its digest fails as Corrupt and leaves nothing behind", () => {
    const tampered = appImage.layers[1]!.digest
    const { layer } = setup([appImage], { tampered: [tampered] })
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const error = yield* Effect.flip(store.pull("registry.test/team/app:1"))
      expect(error.reason).toBe("Corrupt")
      expect(error.recoverable).toBe(false)
      expect(error.message).toContain(`Error in pulling image registry.test/team/app:1: content of registry.test/team/app@${tampered} from the registry does not match its digest`)
      expect((yield* contentLabels).has(tampered)).toBe(false)
      expect(yield* leftovers).toEqual({ leases: 0, ingests: 0 })
    }).pipe(Effect.provide(layer))
  })

  it.live("a failing Diff.Apply removes the prepared snapshot", () => {
    const { layer } = setup([appImage])
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const fake = yield* FakeContainerd
      yield* fake.failNext("Diff.Apply", "Unknown", "disk full")
      const error = yield* Effect.flip(store.pull("registry.test/team/app:1"))
      expect(error.reason).toBe("Containerd")
      expect(error.message).toContain("disk full")
      expect((yield* snapshotNames).filter((name) => name.startsWith("extract-"))).toEqual([])
      expect(yield* leftovers).toEqual({ leases: 0, ingests: 0 })
      // The next attempt succeeds and reuses what was stored.
      const image = yield* store.pull("registry.test/team/app:1")
      expect(image.chainId).toBe(appImageChain[2])
    }).pipe(Effect.provide(layer))
  })
})

describe("ImageStore.readFile", () => {
  it.live("reads files from the layers without mounting, honouring whiteouts and symlinks", () => {
    const { layer } = setup([appImage])
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const image = yield* store.pull("registry.test/team/app:1")
      expect(yield* store.readFile(image, "/etc/passwd")).toEqual(Option.some("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"))
      expect(yield* store.readFile(image, "etc/group")).toEqual(Option.some("root:x:0:\napp:x:1000:\n"))
      expect(yield* store.readFile(image, "/data/b.txt")).toEqual(Option.some("b\n"))
      expect(yield* store.readFile(image, "/bin/sh")).toEqual(Option.some("#!busybox\n"))
      expect(yield* store.readFile(image, "/data/deleted.txt")).toEqual(Option.none())
      expect(yield* store.readFile(image, "/etc")).toEqual(Option.none())
      expect(yield* store.readFile(image, "/nope")).toEqual(Option.none())
    }).pipe(Effect.provide(layer))
  })

  it.live("refuses zstd layers with a clear error", () => {
    const { layer } = setup([appImage])
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const image = yield* store.pull("registry.test/team/app:1")
      const zstd = { mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", digest: `sha256:${"0".repeat(64)}`, size: 10 }
      const error = yield* Effect.flip(store.readFile({ ...image, layers: [...image.layers, zstd] }, "/etc/passwd"))
      expect(error.reason).toBe("Unsupported")
      expect(error.message).toContain("zstd")
    }).pipe(Effect.provide(layer))
  })
})

// chainIds itself, on DiffIDs anyone can recompute: the empty string's sha256, the empty tar's (1024 zero bytes, the
// DiffID of every empty layer) and that of "hello\n". Expected values from a shell, e.g.
//   printf '%s %s' sha256:e3b0…b855 sha256:5f70…c6ef | sha256sum
describe("ChainID (image-spec config.md)", () => {
  const empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
  const emptyTar = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
  const hello = "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
  it("the first layer's ChainID is its DiffID; each next one hashes the parent ChainID, a space and the DiffID", () => {
    expect(chainIds([])).toEqual([])
    expect(chainIds([hello])).toEqual([hello])
    expect(chainIds([empty, emptyTar, hello])).toEqual([
      empty,
      "sha256:f72fb72776a9246162641af9bd1013c00768a1ee5df657add0c6f66b103d832f",
      "sha256:b485221a35eb05a4b71a6ecfa21432cb7534e77379ff230429722b5e2c1c56fa"
    ])
  })
  it("order matters, and a layer repeated still changes the chain", () => {
    expect(chainIds([emptyTar, empty])[1]).toBe("sha256:33b3e894f3d840843a86495314bf58ac707860d3553f5535922e180a451dc751")
    expect(chainIds([emptyTar, emptyTar])[1]).toBe("sha256:170b376f64fb30995c140276be3d71dfb256b308d86183ca3b22aa93a79ad548")
  })
})
