// The pull policy of the ImageStore, with the real Registry client against a loopback registry (every request
// counted) and FakeContainerd: a tag is resolved with one manifest HEAD at every pull and the present image used when
// the digest is the same; a digest-pinned present image asks nothing; a registry that cannot be reached leaves a
// present image usable with a warning; refused credentials and a deleted tag fail even when the image is present; a
// moved tag is pulled, fetching only the blobs that are new; force_pull downloads everything again. Also the
// hostile-input cases of the store (issue 8, items 3, 7, 8) and the deadlines on small containerd calls.
import * as net from "node:net"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option, Redacted, Stream } from "effect"
import { describe, expect } from "vitest"
import { Containerd } from "../../layers/Containerd.js"
import * as ContainerdLayer from "../../layers/Containerd.js"
import * as CredentialsLayer from "../../layers/Credentials.js"
import * as FakeContainerdLayer from "../../layers/FakeContainerd.js"
import * as ImageStoreLayer from "../../layers/ImageStore.js"
import { describeProgress, ImageStore, type PullProgress } from "../../layers/ImageStore.js"
import * as RegistryLayer from "../../layers/Registry.js"
import { MediaType, type Platform } from "../../src/image/Manifest.js"
import { type FakeImage, makeImage } from "../support/fakeImages.js"
import { type FakeAuth, type FakeRegistry, type Recorded, sha256, startFakeRegistry } from "../support/fakeRegistry.js"
import type { TarSpec } from "../support/tarWriter.js"

const amd64: Platform = { os: "linux", architecture: "amd64" }
const snapshotter = "overlayfs"

const base: ReadonlyArray<TarSpec> = [{ path: "etc", type: "dir" }, { path: "etc/passwd", data: "root:x:0:0::/root:/bin/sh\n" }]
const v1Layer: ReadonlyArray<TarSpec> = [{ path: "app", type: "dir" }, { path: "app/version", data: "1\n" }]
const v2Layer: ReadonlyArray<TarSpec> = [{ path: "app", type: "dir" }, { path: "app/version", data: "2\n" }]
const v1 = makeImage("v1", [base, v1Layer], { Env: ["VERSION=1"] }, { platform: amd64 })
const v2 = makeImage("v2", [base, v2Layer], { Env: ["VERSION=2"] }, { platform: amd64 })

/** Puts an image's manifest under `repo:tag` (and its digest) and its config and layers as blobs. */
const publish = (registry: FakeRegistry, repo: string, tag: string, image: FakeImage) => {
  for (const [digest, bytes] of image.blobs) {
    if (digest === image.root.digest) registry.putManifest(repo, tag, image.root.mediaType, Buffer.from(bytes).toString("utf8"))
    else registry.putBlob(repo, bytes)
  }
}

const registryLayer = (credentials: CredentialsLayer.CredentialsConfig = {}) =>
  RegistryLayer.layer({ requestTimeout: "5 seconds" }).pipe(Layer.provide(CredentialsLayer.layer(credentials)))

const storeLayer = (options: Partial<ImageStoreLayer.ImageStoreOptions> = {}, credentials: CredentialsLayer.CredentialsConfig = {}) =>
  ImageStoreLayer.layer({ snapshotter, platform: amd64, progressInterval: "1 hour", ...options }).pipe(
    Layer.provideMerge(Layer.merge(FakeContainerdLayer.layer({ namespace: "nomad" }), registryLayer(credentials)))
  )

/** The registry API requests made since `from`, as `METHOD kind/object`. */
const apiRequests = (registry: FakeRegistry, from = 0) =>
  registry.requests.slice(from).filter((r) => r.path.startsWith("/v2/") && r.path !== "/v2/").map(describeRequest)

const describeRequest = (r: Recorded) => `${r.method} ${r.path.split("/").slice(-2).join("/")}`

const blobGets = (requests: ReadonlyArray<string>) => requests.filter((r) => r.startsWith("GET blobs/"))

const imageRecord = (name: string) =>
  Effect.flatMap(Containerd, (cd) => cd.images.get({ name })).pipe(Effect.map((r) => r.image?.target?.digest))

describe("ImageStore pull policy: a tag is checked with the registry at every pull", () => {
  it.scopedLive("present with the same digest: exactly one manifest HEAD, no blob GET", () =>
    Effect.gen(function*() {
      const registry = yield* startFakeRegistry()
      publish(registry, "team/app", "1", v1)
      const store = yield* ImageStore
      const image = `${registry.host}/team/app:1`
      const first = yield* store.pull(image)
      expect(blobGets(apiRequests(registry))).toHaveLength(3) // config + 2 layers
      const mark = registry.requests.length
      const second = yield* store.pull(image)
      expect(apiRequests(registry, mark)).toEqual(["HEAD manifests/1"])
      expect(second).toEqual(first)
    }).pipe(Effect.provide(storeLayer())))

  it.scopedLive("with a token service the cached token serves the check: still one HEAD", () =>
    Effect.gen(function*() {
      const registry = yield* startFakeRegistry({ auth: { kind: "bearer", users: { alice: "pw" }, requireCredentials: true } })
      publish(registry, "team/app", "1", v1)
      const store = yield* ImageStore
      const auth = { username: "alice", password: Redacted.make("pw") }
      yield* store.pull(`${registry.host}/team/app:1`, { auth })
      const mark = registry.requests.length
      yield* store.pull(`${registry.host}/team/app:1`, { auth })
      expect(registry.requests.slice(mark).map(describeRequest)).toEqual(["HEAD manifests/1"])
    }).pipe(Effect.provide(storeLayer())))

  it.scopedLive("a digest-pinned present image makes no request at all", () =>
    Effect.gen(function*() {
      const registry = yield* startFakeRegistry()
      publish(registry, "team/app", "1", v1)
      const store = yield* ImageStore
      const pinned = `${registry.host}/team/app@${v1.root.digest}`
      const first = yield* store.pull(pinned)
      expect(first.target.digest).toBe(v1.root.digest)
      const mark = registry.requests.length
      const again = yield* store.pull(pinned)
      expect(registry.requests.length).toBe(mark)
      expect(again).toEqual(first)
    }).pipe(Effect.provide(storeLayer())))

  it.scopedLive("a moved tag is picked up: the new digest is used, only its new blobs are fetched, the record follows", () =>
    Effect.gen(function*() {
      const registry = yield* startFakeRegistry()
      publish(registry, "team/app", "1", v1)
      const store = yield* ImageStore
      const image = `${registry.host}/team/app:1`
      const first = yield* store.pull(image)
      expect(first.imageConfig.env).toEqual(["VERSION=1"])
      publish(registry, "team/app", "1", v2)
      const mark = registry.requests.length
      const moved = yield* store.pull(image)
      expect(moved.target.digest).toBe(v2.root.digest)
      expect(moved.imageConfig.env).toEqual(["VERSION=2"])
      // The base layer is shared and present: only v2's config and its own layer are downloaded.
      expect(blobGets(apiRequests(registry, mark)).sort()).toEqual(
        [`GET blobs/${v2.configDigest}`, `GET blobs/${v2.layers[1]!.digest}`].sort()
      )
      expect(yield* imageRecord(moved.name)).toBe(v2.root.digest)
      expect(Option.getOrUndefined(yield* store.readFile(moved, "/app/version"))).toBe("2\n")
    }).pipe(Effect.provide(storeLayer())))

  it.scopedLive("force_pull downloads every blob again, present ones included, and checks them", () =>
    Effect.gen(function*() {
      const registry = yield* startFakeRegistry()
      publish(registry, "team/app", "1", v1)
      const store = yield* ImageStore
      const image = `${registry.host}/team/app:1`
      yield* store.pull(image)
      const mark = registry.requests.length
      const forced = yield* store.pull(image, { forcePull: true })
      const requests = apiRequests(registry, mark)
      expect(requests[0]).toBe("HEAD manifests/1")
      expect(requests).toContain(`GET manifests/${v1.root.digest}`)
      expect(blobGets(requests).sort()).toEqual([v1.configDigest, ...v1.layers.map((l) => l.digest)].map((d) => `GET blobs/${d}`).sort())
      expect(forced.target.digest).toBe(v1.root.digest)
    }).pipe(Effect.provide(storeLayer())))

  it.scopedLive("force_pull fails when the registry now serves other bytes for a present layer", () =>
    Effect.gen(function*() {
      let tamper = false
      const registry = yield* startFakeRegistry({
        hook: (_req, res, route) => {
          if (!tamper || route.object !== v1.layers[0]!.digest) return false
          const bytes = Buffer.from(registry.blob("team/app", route.object)!)
          bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1)
          res.writeHead(200, { "content-length": bytes.length }).end(bytes)
          return true
        }
      })
      publish(registry, "team/app", "1", v1)
      const store = yield* ImageStore
      yield* store.pull(`${registry.host}/team/app:1`)
      tamper = true
      const error = yield* Effect.flip(store.pull(`${registry.host}/team/app:1`, { forcePull: true }))
      expect(error.reason).toBe("Corrupt")
      expect(error.message).toContain(`does not match its digest`)
    }).pipe(Effect.provide(storeLayer())))
})

describe("ImageStore pull policy: when the registry says no, or says nothing", () => {
  const present = (auth?: FakeAuth) =>
    Effect.gen(function*() {
      const registry = yield* startFakeRegistry(auth === undefined ? {} : { auth })
      publish(registry, "team/app", "1", v1)
      return registry
    })

  it.scopedLive("refused credentials fail the pull although the image is present", () =>
    Effect.gen(function*() {
      const registry = yield* present({ kind: "bearer", users: { alice: "pw" }, requireCredentials: true })
      const store = yield* ImageStore
      const image = `${registry.host}/team/app:1`
      yield* store.pull(image, { auth: { username: "alice", password: Redacted.make("pw") } })
      for (const auth of [undefined, { username: "alice", password: Redacted.make("wrong") }]) {
        const error = yield* Effect.flip(store.pull(image, { auth }))
        expect(error.reason).toBe("Unauthorized")
        expect(error.recoverable).toBe(false)
        // No password and a wrong one are told apart, each with what to do about it.
        expect(error.message).toBe(
          `Error in pulling image ${image}: pull access denied, repository does not exist or may require authorization: ` +
            `${image}: server message: unauthorized: ` +
            (auth === undefined
              ? `credentials required: no credentials were sent to ${registry.host}, which asks for them (HTTP 401): ` +
                "give a user name and password in the task's auth block or the plugin's auth block (or its Docker " +
                "config or credential helper), or check the image name"
              : `invalid username or password: ${registry.host} refused the credentials sent for user "alice" (HTTP 401): ` +
                "check the user name and password, and that this user may pull the image")
        )
        expect(error.message).not.toContain("wrong")
      }
    }).pipe(Effect.provide(storeLayer())))

  it.scopedLive("a 403 from the registry fails the pull although the image is present", () =>
    Effect.gen(function*() {
      let deny = false
      const registry = yield* startFakeRegistry({
        hook: (_req, res) => {
          if (!deny) return false
          res.writeHead(403, { "content-type": "application/json" })
          res.end(JSON.stringify({ errors: [{ code: "DENIED", message: "requested access to the resource is denied" }] }))
          return true
        }
      })
      publish(registry, "team/app", "1", v1)
      const store = yield* ImageStore
      yield* store.pull(`${registry.host}/team/app:1`)
      deny = true
      const error = yield* Effect.flip(store.pull(`${registry.host}/team/app:1`))
      expect(error.reason).toBe("Unauthorized")
      expect(error.recoverable).toBe(false)
    }).pipe(Effect.provide(storeLayer())))

  it.scopedLive("a tag the registry no longer has fails (not recoverable) although the image is present", () =>
    Effect.gen(function*() {
      let deleted = false
      const registry = yield* startFakeRegistry({
        hook: (_req, res, route) => {
          if (!deleted || route.kind !== "manifests") return false
          res.writeHead(404, { "content-type": "application/json" })
          res.end(JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] }))
          return true
        }
      })
      publish(registry, "team/app", "1", v1)
      const store = yield* ImageStore
      const image = `${registry.host}/team/app:1`
      yield* store.pull(image)
      deleted = true
      const error = yield* Effect.flip(store.pull(image))
      expect(error.reason).toBe("NotFound")
      expect(error.recoverable).toBe(false)
      expect(error.message).toBe(`Error in pulling image ${image}: manifest unknown: ${image}`)
    }).pipe(Effect.provide(storeLayer())))

  it.scopedLive("an unreachable registry: the present image is used, with a warning naming registry, reason and digest", () =>
    Effect.gen(function*() {
      const store = yield* ImageStore
      // The registry lives in an inner scope: once it closed, its port refuses connections.
      const { host, first } = yield* Effect.scoped(Effect.gen(function*() {
        const registry = yield* present()
        return { host: registry.host, first: yield* store.pull(`${registry.host}/team/app:1`) }
      }))
      const warnings: Array<string> = []
      const image = yield* store.pull(`${host}/team/app:1`, { onWarning: (message) => Effect.sync(() => warnings.push(message)) })
      expect(image).toEqual(first)
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain(`registry ${host} could not be reached to check ${host}/team/app:1`)
      expect(warnings[0]).toContain("ECONNREFUSED")
      expect(warnings[0]).toContain(`using the image already present, ${v1.root.digest}`)
      expect(warnings[0]).not.toContain("can be retried")
      // Absent: the same registry failure fails the pull, recoverably.
      const absent = yield* Effect.flip(store.pull(`${host}/team/other:1`))
      expect(absent.reason).toBe("Unreachable")
      expect(absent.recoverable).toBe(true)
    }).pipe(Effect.provide(storeLayer())))

  it.scopedLive("503 and 429 are retried twice, then the present image is used with a warning", () =>
    Effect.gen(function*() {
      let status = 0
      const registry = yield* startFakeRegistry({
        hook: (_req, res) => {
          if (status === 0) return false
          res.writeHead(status, { "content-length": 0 }).end()
          return true
        }
      })
      publish(registry, "team/app", "1", v1)
      const store = yield* ImageStore
      const image = `${registry.host}/team/app:1`
      yield* store.pull(image)
      for (const [code, text] of [[503, "HTTP 503"], [429, "rate limiting requests (HTTP 429)"]] as const) {
        status = code
        const mark = registry.requests.length
        const warnings: Array<string> = []
        const pulled = yield* store.pull(image, { onWarning: (message) => Effect.sync(() => warnings.push(message)) })
        expect(pulled.target.digest).toBe(v1.root.digest)
        expect(apiRequests(registry, mark)).toEqual(["HEAD manifests/1", "HEAD manifests/1", "HEAD manifests/1"])
        expect(warnings).toEqual([expect.stringContaining(text)])
      }
      // A registry that recovers between the attempts is not reported at all.
      status = 503
      let answered = 0
      const flaky = yield* startFakeRegistry({
        hook: (_req, res) => {
          if (status === 0 || answered++ > 0) return false
          res.writeHead(503, { "content-length": 0 }).end()
          return true
        }
      })
      publish(flaky, "team/app", "1", v1)
      status = 0
      yield* store.pull(`${flaky.host}/team/app:1`)
      status = 503
      const warnings: Array<string> = []
      yield* store.pull(`${flaky.host}/team/app:1`, { onWarning: (message) => Effect.sync(() => warnings.push(message)) })
      expect(warnings).toEqual([])
    }).pipe(Effect.provide(storeLayer())))

  it.scopedLive("concurrent callers of a degraded pull each get the warning", () =>
    Effect.gen(function*() {
      const store = yield* ImageStore
      const { host } = yield* Effect.scoped(Effect.gen(function*() {
        const registry = yield* present()
        yield* store.pull(`${registry.host}/team/app:1`)
        return { host: registry.host }
      }))
      const warnings: Array<string> = []
      yield* Effect.all(
        Array.from({ length: 3 }, (_, i) =>
          store.pull(`${host}/team/app:1`, { onWarning: (message) => Effect.sync(() => warnings.push(`${i}: ${message}`)) })),
        { concurrency: "unbounded" }
      )
      expect(warnings.map((w) => w.slice(0, 2)).sort()).toEqual(["0:", "1:", "2:"])
    }).pipe(Effect.provide(storeLayer())))
})

describe("ImageStore and hostile input (issue 8)", () => {
  it.effect("item 3: a reference with an out-of-range port is an invalid reference", () =>
    Effect.gen(function*() {
      const store = yield* ImageStore
      for (const image of ["localhost:99999/x", "localhost:65536/x", "localhost:0/x"]) {
        const error = yield* Effect.flip(store.pull(image))
        expect(error.reason).toBe("InvalidReference")
        expect(error.message).toMatch(new RegExp(`^Error in pulling image ${image}: invalid image reference`))
      }
    }).pipe(Effect.provide(storeLayer())))

  it.scopedLive("item 7: a manifest with 10 000 layers is refused before any layer is fetched", () =>
    Effect.gen(function*() {
      const registry = yield* startFakeRegistry()
      const config = registry.putBlob("team/huge", JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }), MediaType.ociConfig)
      const layers = Array.from({ length: 10_000 }, (_, i) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: sha256(Buffer.from(`layer ${i}`)),
        size: 100
      }))
      registry.putManifest("team/huge", "1", MediaType.ociManifest, { schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers })
      const store = yield* ImageStore
      const events: Array<PullProgress> = []
      const error = yield* Effect.flip(store.pull(`${registry.host}/team/huge:1`, { onProgress: (p) => Effect.sync(() => events.push(p)) }))
      expect(error.reason).toBe("Unsupported")
      expect(error.recoverable).toBe(false)
      expect(error.message).toBe(
        `Error in pulling image ${registry.host}/team/huge:1: ${registry.host}/team/huge:1 has 10000 layers; at most 500 are ` +
          "accepted (containerd's overlayfs snapshotter cannot mount more)"
      )
      expect(blobGets(apiRequests(registry))).toEqual([])
      expect(events.length).toBeLessThan(5)
    }).pipe(Effect.provide(storeLayer())))

  it.scopedLive("item 8: a pull waiting on another pull of the same layer says so, in progress and at its timeout", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const reached = yield* Deferred.make<void>()
      const shared = v1.layers[0]!.digest
      const registry = yield* startFakeRegistry({
        hook: (_req, res, route) => {
          if (route.object !== shared) return false
          const bytes = registry.blob("team/app", shared)!
          res.writeHead(200, { "content-length": bytes.length })
          res.write(bytes.subarray(0, 10))
          Effect.runFork(Deferred.succeed(reached, undefined))
          Effect.runFork(Effect.andThen(Deferred.await(release), Effect.sync(() => res.end(bytes.subarray(10)))))
          return true
        }
      })
      publish(registry, "team/app", "1", v1)
      publish(registry, "team/app", "2", v2)
      const store = yield* ImageStore
      const stalled = yield* Effect.fork(store.pull(`${registry.host}/team/app:1`))
      // The first pull is downloading the shared layer (its ingest is open) before the second one starts.
      yield* Deferred.await(reached)
      const events: Array<PullProgress> = []
      const error = yield* Effect.flip(store.pull(`${registry.host}/team/app:2`, {
        timeout: "1500 millis",
        onProgress: (p) => Effect.sync(() => events.push(p))
      }))
      expect(error.reason).toBe("Timeout")
      expect(error.message).toBe(
        `Error in pulling image ${registry.host}/team/app:2: the pull of ${registry.host}/team/app:2 did not finish within ` +
          `1s 500ms (image_pull_timeout) while it waited for another pull writing the same layer (${shared}) into the ` +
          "content store; the pull is retried when the task restarts"
      )
      const blocked = events.find((p) => p.layers.some((l) => l.fetch === "blocked"))
      expect(blocked?.layers[0]?.fetch).toBe("blocked")
      expect(describeProgress(blocked!)).toContain("waiting for another pull of the same layer")
      yield* Deferred.succeed(release, undefined)
      const first = yield* Fiber.join(stalled)
      expect(first.target.digest).toBe(v1.root.digest)
    }).pipe(Effect.provide(storeLayer())), 20_000)
})

describe("deadlines on small containerd calls (a hung containerd)", () => {
  /** FakeContainerd whose Content.Read of small blobs never answers once `hang` is set. */
  const hangingRead = (state: { hang: boolean }) =>
    Layer.effect(
      Containerd,
      Effect.map(Containerd, (inner) => ({
        ...inner,
        content: {
          ...inner.content,
          read: (request: Parameters<typeof inner.content.read>[0]) =>
            Stream.suspend(() => (state.hang ? Stream.never : inner.content.read(request)))
        }
      }))
    )

  it.scopedLive("a Content.Read that never answers fails get and pull with a recoverable containerd error", () => {
    const state = { hang: false }
    const layer = ImageStoreLayer.layer({ snapshotter, platform: amd64, readTimeout: "200 millis" }).pipe(
      Layer.provideMerge(Layer.merge(hangingRead(state).pipe(Layer.provideMerge(FakeContainerdLayer.layer({ namespace: "nomad" }))), registryLayer()))
    )
    return Effect.gen(function*() {
      const registry = yield* startFakeRegistry()
      publish(registry, "team/app", "1", v1)
      const store = yield* ImageStore
      const image = `${registry.host}/team/app@${v1.root.digest}`
      yield* store.pull(image)
      state.hang = true
      for (const attempt of [store.get(image), store.pull(image)]) {
        const error = yield* Effect.flip(attempt)
        expect(error.reason).toBe("Containerd")
        expect(error.recoverable).toBe(true)
        expect(error.message).toContain(`containerd Content.Read: no answer within 200ms reading ${v1.root.digest}`)
      }
    }).pipe(Effect.provide(layer))
  })

  it.scopedLive("unary calls carry the client's deadline: a socket that never answers fails the pull", () => {
    const dir = mkdtempSync(join(tmpdir(), "cdd-hung-"))
    const socket = join(dir, "containerd.sock")
    return Effect.gen(function*() {
      yield* Effect.acquireRelease(
        Effect.async<net.Server>((resume) => {
          const connections = new Set<net.Socket>()
          const server = net.createServer((connection) => {
            connections.add(connection)
            connection.on("close", () => connections.delete(connection))
          })
          server.listen(socket, () => resume(Effect.succeed(Object.assign(server, { connections }))))
        }),
        (server) =>
          Effect.async<void>((resume) => {
            for (const connection of (server as net.Server & { connections: Set<net.Socket> }).connections) connection.destroy()
            server.close(() => resume(Effect.void))
            rmSync(dir, { recursive: true, force: true })
          })
      )
      const error = yield* Effect.flip(Effect.flatMap(ImageStore, (store) => store.pull(`127.0.0.1:5999/team/app@${v1.root.digest}`)).pipe(
        Effect.provide(ImageStoreLayer.layer({ snapshotter }).pipe(
          Layer.provide(Layer.merge(ContainerdLayer.layer({ address: socket, namespace: "nomad", timeouts: { call: "300 millis" } }), registryLayer()))
        ))
      ))
      expect(error.reason).toBe("Containerd")
      expect(error.recoverable).toBe(true)
      expect(error.message).toContain("Images.Get")
    })
  })
})
