/**
 * ImageStore and `containerd-driver pull` against the REAL containerd and the loopback registries of
 * scripts/test-env.sh. Every pulled image is cross-checked by running it with containerd's own client
 * (`ctr run`), whose unpack check must find our snapshot chain. Each test works in its own containerd namespace
 * (cdd-test-…), all removed at the end. Nothing skips: a missing environment fails with the command to start it.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Layer, Redacted, Schema, Stream } from "effect"
import { Containerd, inNamespace } from "../../layers/Containerd.js"
import * as ContainerdLayer from "../../layers/Containerd.js"
import { ImageStore, type ImageStoreOptions, layer as imageStoreLayer, type PullProgress } from "../../layers/ImageStore.js"
import { registryLayer } from "../../layers/imagestore/fromConfig.js"
import { Registry } from "../../layers/Registry.js"
import { DriverConfig } from "../../src/config/DriverConfig.js"
import * as Platform from "../../src/image/Platform.js"
import * as ByteSource from "../../src/stream/ByteSource.js"
import { builtPlugin } from "../support/PluginProcess.js"
import { integrationEnv, setupHint, probeRegistry } from "./env.js"

const env = integrationEnv
const snapshotter = "overlayfs"
const anon = (repo: string) => `${env.registry}/${repo}:latest`
const privateImage = `${env.authRegistry}/test/private:latest`
const bigImage = anon("test/big")

const suffix = `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`
const namespaces: Array<string> = []
const newNamespace = (tag: string): string => {
  const name = `cdd-test-${tag}-${suffix}`
  namespaces.push(name)
  return name
}

const scratch = mkdtempSync(join(tmpdir(), "cdd-image-store-"))

const driverConfig = (overrides: Record<string, unknown> = {}): DriverConfig =>
  Schema.decodeUnknownSync(DriverConfig)({ containerd_address: env.containerdAddress, ...overrides })

const containerdLayer = ContainerdLayer.layer({ address: env.containerdAddress, namespace: `cdd-test-default-${suffix}` })

interface Calls {
  resolve: number
  fetchManifest: number
  fetchBlob: number
}

/** Wraps the real Registry so a test can see every request the image store makes (a blob fetched either way counts once). */
const countingRegistry = (calls: Calls) =>
  Layer.effect(
    Registry,
    Effect.map(Registry, (inner) =>
      Registry.of({
        resolve: (ref, options) => Effect.suspend(() => (calls.resolve++, inner.resolve(ref, options))),
        fetchManifest: (ref, descriptor, options) =>
          Effect.suspend(() => (calls.fetchManifest++, inner.fetchManifest(ref, descriptor, options))),
        fetchBlob: (ref, descriptor, options) => Stream.suspend(() => (calls.fetchBlob++, inner.fetchBlob(ref, descriptor, options))),
        blobSource: (ref, descriptor, options) =>
          ByteSource.make((sink) => Effect.suspend(() => (calls.fetchBlob++, inner.blobSource(ref, descriptor, options).pipe(sink))))
      }))
  )

const newCalls = (): Calls => ({ resolve: 0, fetchManifest: 0, fetchBlob: 0 })

const storeLayer = (
  config: DriverConfig = driverConfig(),
  calls: Calls = newCalls(),
  options: Partial<ImageStoreOptions> = {}
) =>
  imageStoreLayer({ snapshotter, ...options }).pipe(
    Layer.provide(countingRegistry(calls).pipe(Layer.provide(registryLayer(config)))),
    Layer.provideMerge(containerdLayer)
  )

// --- processes -------------------------------------------------------------------------------------------

interface Outcome {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const run = (command: string, args: ReadonlyArray<string>, extraEnv: Record<string, string> = {}) =>
  Effect.async<Outcome>((resume) => {
    const child: ChildProcess = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...extraEnv } })
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", (error) => resume(Effect.succeed({ code: -1, stdout, stderr: `${stderr}${error.message}` })))
    child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const ctr = (namespace: string, ...args: ReadonlyArray<string>) => run("ctr", ["--address", env.containerdAddress, "-n", namespace, ...args])

/** `ctr run --rm` of the image: containerd's own client finds (or would re-create) the unpacked snapshot chain. */
const ctrRun = (namespace: string, image: string, ...args: ReadonlyArray<string>) =>
  ctr(namespace, "run", "--rm", "--snapshotter", snapshotter, image, `cdd-run-${randomBytes(4).toString("hex")}`, ...args)

const writeJson = (name: string, value: unknown): string => {
  const file = join(scratch, name)
  writeFileSync(file, JSON.stringify(value))
  return file
}

/** `containerd-driver pull` as an operator runs it, with the plugin config block as JSON. */
const cliPull = (config: Record<string, unknown>, args: ReadonlyArray<string>, extraEnv: Record<string, string> = {}) =>
  run(process.execPath, [builtPlugin, "pull", "--config", writeJson(`cli-${randomBytes(4).toString("hex")}.json`, {
    containerd_address: env.containerdAddress,
    ...config
  }), ...args], extraEnv)

// --- containerd state ------------------------------------------------------------------------------------

const snapshotInfos = Effect.flatMap(Containerd, (cd) => Stream.runCollect(cd.snapshots.list({ snapshotter }))).pipe(
  Effect.map((chunks) => Chunk.toReadonlyArray(chunks).flatMap((r) => r.info))
)
const snapshotNames = Effect.map(snapshotInfos, (infos) => infos.map((info) => info.name).sort())

const contentLabels = Effect.flatMap(Containerd, (cd) => Stream.runCollect(cd.content.list({}))).pipe(
  Effect.map((chunks) => new Map(Chunk.toReadonlyArray(chunks).flatMap((r) => r.info).map((info) => [info.digest, info.labels])))
)

/** Runs containerd's garbage collector now: deleting a lease with sync=true collects before returning. */
const collectGarbage = Effect.gen(function*() {
  const cd = yield* Containerd
  const id = `cdd-gc-${randomBytes(4).toString("hex")}`
  yield* cd.leases.create({ id })
  yield* cd.leases.delete({ id, sync: true })
})

/** Everything a namespace holds, after a GC. */
const inventory = Effect.gen(function*() {
  yield* collectGarbage
  const cd = yield* Containerd
  return {
    images: (yield* cd.images.list({})).images.map((image) => image.name),
    content: [...(yield* contentLabels).keys()],
    snapshots: yield* snapshotNames,
    leases: (yield* cd.leases.list({})).leases.map((lease) => lease.id),
    ingests: (yield* cd.content.listStatuses({})).statuses.map((status) => status.ref)
  }
})

const empty = { images: [], content: [], snapshots: [], leases: [], ingests: [] }

const removeNamespace = (namespace: string) =>
  Effect.gen(function*() {
    const cd = yield* Containerd
    for (const image of (yield* cd.images.list({})).images) yield* cd.images.delete({ name: image.name }).pipe(Effect.ignore)
    for (const lease of (yield* cd.leases.list({})).leases) yield* cd.leases.delete({ id: lease.id }).pipe(Effect.ignore)
    yield* collectGarbage.pipe(Effect.ignore)
    for (let round = 0; round < 10; round++) {
      const names = yield* snapshotNames
      if (names.length === 0) break
      for (const key of names) yield* cd.snapshots.remove({ snapshotter, key }).pipe(Effect.ignore)
    }
    for (const digest of (yield* contentLabels).keys()) yield* cd.content.delete({ digest }).pipe(Effect.ignore)
    for (const status of (yield* cd.content.listStatuses({})).statuses) yield* cd.content.abort({ ref: status.ref }).pipe(Effect.ignore)
    yield* cd.namespaces.delete({ name: namespace })
  }).pipe(
    inNamespace(namespace),
    Effect.catchAll((error) => Effect.sync(() => console.warn(`cleanup of ${namespace}: ${error.message}`)))
  )

// --- environment -----------------------------------------------------------------------------------------

beforeAll(async () => {
  const version = await Effect.runPromise(Effect.flatMap(Containerd, (cd) => cd.version).pipe(Effect.either, Effect.provide(containerdLayer)))
  if (version._tag === "Left") throw new Error(`${version.left.message}\nThe image store integration tests need containerd: ${setupHint}`)
  for (const [host, expected] of [[env.registry, 200], [env.authRegistry, 401]] as const) {
    const status = await probeRegistry(host).catch((cause: unknown) => {
      throw new Error(`test registry ${host} is not reachable (${String(cause)}); ${setupHint}`)
    })
    if (status !== expected) throw new Error(`test registry ${host} answered ${status}, expected ${expected}; ${setupHint}`)
  }
  if (!existsSync(builtPlugin)) throw new Error(`${builtPlugin} is missing: run npm run build first`)
})

afterAll(async () => {
  await Effect.runPromise(Effect.forEach(namespaces, removeNamespace, { discard: true }).pipe(Effect.provide(containerdLayer)))
  rmSync(scratch, { recursive: true, force: true })
}, 120_000)

// --- tests -----------------------------------------------------------------------------------------------

const runnable = ["test/busybox", "test/busybox-docker", "test/multilayer", "test/multiarch", "test/multiarch-docker"].map(anon)

describe("pulled images run with ctr", () => {
  it.live("every test image pulled through the layer and through `containerd-driver pull` runs with ctr", () => {
    const viaLayer = newNamespace("layer")
    const viaCli = newNamespace("cli")
    return Effect.gen(function*() {
      const store = yield* ImageStore
      for (const image of runnable) {
        const pulled = yield* store.pull(image).pipe(inNamespace(viaLayer))
        expect(pulled.name).toBe(image)
        const cli = yield* cliPull({ namespace: viaCli }, [image])
        expect(cli.stderr).not.toContain("Error")
        expect(cli.code).toBe(0)
        expect(cli.stdout).toBe(`${image} ${pulled.target.digest}\n`)
        for (const namespace of [viaLayer, viaCli]) {
          const before = yield* snapshotNames.pipe(inNamespace(namespace))
          const result = yield* ctrRun(namespace, image, "/bin/busybox", "echo", "ok")
          expect(result.stderr).toBe("")
          expect(result.stdout.trim()).toBe("ok")
          // ctr found our chain: it did not unpack anything itself (its --rm removed its container snapshot).
          expect(yield* snapshotNames.pipe(inNamespace(namespace))).toEqual(before)
        }
      }
      expect((yield* inventory.pipe(inNamespace(viaLayer))).leases).toEqual([])
    }).pipe(Effect.provide(storeLayer()))
  }, 180_000)

  it.live("the multilayer image honours whiteouts and opaque directories, and its config is read", () => {
    const namespace = newNamespace("multilayer")
    const image = anon("test/multilayer")
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const pulled = yield* store.pull(image)
      expect((yield* ctrRun(namespace, image, "/bin/busybox", "test", "-e", "/data/deleted.txt")).code).not.toBe(0)
      expect((yield* ctrRun(namespace, image, "/bin/busybox", "test", "-e", "/data/opaque/x.txt")).code).not.toBe(0)
      expect((yield* ctrRun(namespace, image, "/bin/busybox", "cat", "/data/opaque/y.txt", "/data/b.txt", "/data/link-to-a.txt")).stdout)
        .toBe("y\nb\na\n")
      expect(pulled.imageConfig).toMatchObject({
        user: "app",
        workingDir: "/data",
        entrypoint: ["/bin/sh", "-c"],
        cmd: ["echo hello"],
        stopSignal: "SIGQUIT",
        exposedPorts: ["8080/tcp", "5353/udp"]
      })
      expect(pulled.imageConfig.env).toContain("FOO=bar")
      expect(pulled.layers.length).toBe(3)
      // readFile sees the same merged filesystem, without mounting anything.
      const passwd = yield* store.readFile(pulled, "/etc/passwd")
      expect(passwd._tag === "Some" && passwd.value.split("\n")).toContain("app:x:1000:1000:app:/home/app:/bin/sh")
      const group = yield* store.readFile(pulled, "etc/group")
      expect(group._tag === "Some" && group.value).toContain("extra:x:2000:app")
      expect((yield* store.readFile(pulled, "/data/deleted.txt"))._tag).toBe("None")
      expect((yield* store.readFile(pulled, "/data/opaque/x.txt"))._tag).toBe("None")
      expect(yield* store.readFile(pulled, "/data/link-to-a.txt")).toEqual(yield* store.readFile(pulled, "/data/a.txt"))
    }).pipe(inNamespace(namespace), Effect.provide(storeLayer()))
  }, 60_000)

  it.live("the multi-arch indexes yield this host's platform", () => {
    const namespace = newNamespace("multiarch")
    const host = Platform.host()
    return Effect.gen(function*() {
      const store = yield* ImageStore
      for (const image of [anon("test/multiarch"), anon("test/multiarch-docker")]) {
        const pulled = yield* store.pull(image)
        expect(pulled.target.digest).not.toBe(pulled.manifest.digest)
        expect(pulled.platform.architecture).toBe(host.architecture)
        const declared = pulled.imageConfig.env.find((entry) => entry.startsWith("PLATFORM="))?.slice("PLATFORM=".length) ?? ""
        const platform = Platform.parse(declared)
        expect(platform._tag === "Right" && platform.right.architecture).toBe(host.architecture)
        const record = (yield* (yield* Containerd).images.get({ name: image })).image
        expect(record?.target?.digest).toBe(pulled.target.digest)
      }
    }).pipe(inNamespace(namespace), Effect.provide(storeLayer()))
  }, 60_000)
})

describe("what reaches the registry and containerd", () => {
  it.live("blob labels equal those of `ctr images pull`, and removing the image with a sync GC removes everything", () => {
    const ours = newNamespace("labels-ours")
    const theirs = newNamespace("labels-ctr")
    const image = anon("test/multilayer")
    return Effect.gen(function*() {
      const store = yield* ImageStore
      yield* store.pull(image).pipe(inNamespace(ours))
      const pulled = yield* ctr(theirs, "images", "pull", "--plain-http", "--snapshotter", snapshotter, image)
      expect(pulled.code).toBe(0)
      const mine = yield* contentLabels.pipe(inNamespace(ours))
      const reference = yield* contentLabels.pipe(inNamespace(theirs))
      expect(mine.size).toBe(5)
      expect(Object.fromEntries(mine)).toEqual(Object.fromEntries(reference))
      expect(yield* snapshotNames.pipe(inNamespace(ours))).toEqual(yield* snapshotNames.pipe(inNamespace(theirs)))
      yield* store.remove(image, { sync: true }).pipe(inNamespace(ours))
      expect(yield* inventory.pipe(inNamespace(ours))).toEqual(empty)
    }).pipe(Effect.provide(storeLayer()))
  }, 60_000)

  it.live("a second pull only resolves the tag; force_pull downloads every blob again", () => {
    const namespace = newNamespace("second")
    const calls = newCalls()
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const first = yield* store.pull(anon("test/multiarch"))
      expect(calls.resolve).toBe(1)
      const afterFirst = { ...calls }
      const second = yield* store.pull(anon("test/multiarch"))
      expect(calls).toEqual({ ...afterFirst, resolve: 2 })
      expect(second).toEqual(first)
      const forced = yield* store.pull(anon("test/multiarch"), { forcePull: true })
      expect(calls).toEqual({ resolve: 3, fetchManifest: afterFirst.fetchManifest * 2, fetchBlob: afterFirst.fetchBlob * 2 })
      expect(forced.target.digest).toBe(first.target.digest)
      const cli = yield* cliPull({ namespace }, ["--force", anon("test/multiarch")])
      expect(cli.code).toBe(0)
    }).pipe(inNamespace(namespace), Effect.provide(storeLayer(driverConfig(), calls)))
  }, 60_000)

  it.live("ten concurrent pulls of one image make one fetch", () => {
    const namespace = newNamespace("concurrent")
    const calls = newCalls()
    const image = anon("test/multilayer")
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const images = yield* Effect.all(Array.from({ length: 10 }, () => store.pull(image)), { concurrency: "unbounded" })
      expect(new Set(images.map((pulled) => pulled.chainId)).size).toBe(1)
      expect(calls.resolve).toBe(1)
      expect(calls.fetchManifest).toBe(1)
      expect(calls.fetchBlob).toBe(4) // config + 3 layers
      expect((yield* inventory).leases).toEqual([])
    }).pipe(inNamespace(namespace), Effect.provide(storeLayer(driverConfig(), calls)))
  }, 60_000)

  it.live("an interrupted pull of test/big leaves no content, snapshots, leases or ingests once GC has run", () =>
    Effect.gen(function*() {
      for (const moment of ["downloading", "unpacking"] as const) {
        const namespace = newNamespace(`interrupted-${moment}`)
        yield* Effect.gen(function*() {
          const store = yield* ImageStore
          const reached = yield* Deferred.make<PullProgress>()
          const midway = (progress: PullProgress) =>
            moment === "downloading" ? progress.downloadedBytes > 20e6 : progress.layers.slice(1).some((layer) => layer.unpack === "unpacking")
          const pull = yield* Effect.fork(store.pull(bigImage, {
            onProgress: (progress) => (midway(progress) ? Effect.asVoid(Deferred.succeed(reached, progress)) : Effect.void)
          }))
          const seen = yield* Deferred.await(reached)
          expect(seen.phase).not.toBe("done")
          yield* Fiber.interrupt(pull)
          expect(yield* inventory).toEqual(empty)
        }).pipe(inNamespace(namespace))
      }
    }).pipe(Effect.provide(storeLayer(driverConfig(), newCalls(), { progressInterval: 0 }))), 120_000)
})

describe("failures", () => {
  it.live("wrong or missing credentials, a missing repository and a missing tag fail clearly, naming the reference", () => {
    const namespace = newNamespace("errors")
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const wrong = yield* Effect.flip(store.pull(privateImage, { auth: { username: env.registryUser, password: Redacted.make("wrong") } }))
      expect(wrong.reason).toBe("Unauthorized")
      expect(wrong.recoverable).toBe(false)
      expect(wrong.message).toContain(`Error in pulling image ${privateImage}: pull access denied, repository does not exist or may require authorization: ${privateImage}`)
      expect(wrong.message).not.toContain("wrong")
      const anonymous = yield* Effect.flip(store.pull(privateImage))
      expect(anonymous.reason).toBe("Unauthorized")
      const repository = yield* Effect.flip(store.pull(`${env.registry}/test/does-not-exist`))
      expect(repository.reason).toBe("NotFound")
      expect(repository.recoverable).toBe(false)
      expect(repository.message).toContain(`Error in pulling image ${env.registry}/test/does-not-exist: `)
      expect(repository.message).toContain(`${env.registry}/test/does-not-exist:latest`)
      const tag = yield* Effect.flip(store.pull(`${env.registry}/test/busybox:no-such-tag`))
      expect(tag.reason).toBe("NotFound")
      expect(tag.message).toContain(`${env.registry}/test/busybox:no-such-tag`)
      expect(yield* inventory).toEqual(empty)
    }).pipe(inNamespace(namespace), Effect.provide(storeLayer()))
  }, 60_000)

  it.live("an unreachable registry fails recoverably and fast; a silent one within image_pull_timeout", () => {
    const namespace = newNamespace("unreachable")
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const closedPort = yield* Effect.async<number>((resume) => {
        const server = net.createServer().listen(0, "127.0.0.1", () => {
          const { port } = server.address() as net.AddressInfo
          server.close(() => resume(Effect.succeed(port)))
        })
      })
      const refused = yield* Effect.flip(store.pull(`127.0.0.1:${closedPort}/test/busybox`, { timeout: "20 seconds" }))
      expect(refused.reason).toBe("Unreachable")
      expect(refused.recoverable).toBe(true)
      expect(refused.message).toContain(`Error in pulling image 127.0.0.1:${closedPort}/test/busybox: cannot reach registry 127.0.0.1:${closedPort}`)

      // A registry that accepts connections and never answers: only the pull timeout ends the wait.
      const silent = yield* Effect.acquireRelease(
        Effect.async<net.Server>((resume) => {
          const server = net.createServer(() => {}).listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.sync(() => server.close())
      )
      const port = (silent.address() as net.AddressInfo).port
      const timeout = yield* Effect.flip(store.pull(`127.0.0.1:${port}/test/busybox`, { timeout: "1 second" }))
      expect(timeout.reason).toBe("Timeout")
      expect(timeout.recoverable).toBe(true)
      expect(timeout.message).toContain(`the pull of 127.0.0.1:${port}/test/busybox:latest did not finish within 1s`)
    }).pipe(Effect.scoped, inNamespace(namespace), Effect.provide(storeLayer()))
  }, 60_000)

  it.live("`containerd-driver pull` exits non-zero with the error, and 2 on bad usage", () =>
    Effect.gen(function*() {
      const namespace = newNamespace("cli-errors")
      const missing = yield* cliPull({ namespace }, [`${env.registry}/test/does-not-exist`])
      expect(missing.code).toBe(1)
      expect(missing.stdout).toBe("")
      expect(missing.stderr).toContain(`Error in pulling image ${env.registry}/test/does-not-exist: `)
      const usage = yield* cliPull({ namespace }, [])
      expect(usage.code).toBe(2)
      expect(usage.stderr).toContain("Missing argument <IMAGE>")
      const badConfig = yield* cliPull({ namespace, snapshotter: 7 }, [anon("test/busybox")])
      expect(badConfig.code).toBe(2)
      expect(badConfig.stderr).toContain("invalid plugin config")
    }), 60_000)
})

// --- registry-side helpers for the pull policy -----------------------------------------------------------------

const manifestAccept = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json"
].join(", ")

/** One request to the anonymous test registry's v2 API. */
const registryRequest = (method: string, path: string, init: { headers?: Record<string, string>; body?: Buffer } = {}) =>
  Effect.promise(async () => {
    const response = await fetch(`http://${env.registry}${path}`, { method, headers: init.headers ?? {}, ...(init.body === undefined ? {} : { body: init.body }) })
    return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) }
  })

/** The digest `repo:tag` points to on the anonymous registry now. */
const digestOf = (repo: string, tag: string) =>
  Effect.map(registryRequest("HEAD", `/v2/${repo}/manifests/${tag}`, { headers: { accept: manifestAccept } }), (r) => r.headers.get("docker-content-digest") ?? "")

/**
 * Points `to:tag` at the manifest `from:latest` has (its blobs mounted across repositories, nothing uploaded), as a
 * push of another image to the same tag would. Returns the manifest digest.
 */
const retag = (from: string, to: string, tag: string) =>
  Effect.gen(function*() {
    const manifest = yield* registryRequest("GET", `/v2/${from}/manifests/latest`, { headers: { accept: manifestAccept } })
    expect(manifest.status).toBe(200)
    const document = JSON.parse(manifest.body.toString("utf8")) as { config: { digest: string }; layers: Array<{ digest: string }> }
    for (const { digest } of [document.config, ...document.layers]) {
      const mounted = yield* registryRequest("POST", `/v2/${to}/blobs/uploads/?mount=${digest}&from=${from}`)
      expect(mounted.status).toBe(201)
    }
    const put = yield* registryRequest("PUT", `/v2/${to}/manifests/${tag}`, {
      headers: { "content-type": manifest.headers.get("content-type") ?? "" },
      body: manifest.body
    })
    expect(put.status).toBe(201)
    return put.headers.get("docker-content-digest") ?? ""
  })

/**
 * A loopback TCP proxy to the anonymous registry: images pulled through it are recorded under its address, and
 * `stop` makes that address refuse connections, as a registry that went down.
 */
const registryProxy = Effect.acquireRelease(
  Effect.async<{ readonly host: string; readonly stop: Effect.Effect<void> }>((resume) => {
    const sockets = new Set<net.Socket>()
    const [upstreamHost = "127.0.0.1", upstreamPort = "5000"] = env.registry.split(":")
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(upstreamPort), upstreamHost)
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream).pipe(client)
    })
    const stop = Effect.async<void>((done) => {
      if (!server.listening) return done(Effect.void)
      server.close(() => done(Effect.void))
      for (const socket of sockets) socket.destroy()
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      resume(Effect.succeed({ host: `127.0.0.1:${port}`, stop }))
    })
  }),
  (proxy) => proxy.stop
)

describe("the pull policy against the real registries", () => {
  const goodAuth = { username: env.registryUser, password: Redacted.make(env.registryPassword) }

  it.live("a private image present in the namespace does not start for a task without valid credentials", () => {
    const namespace = newNamespace("policy-private")
    const calls = newCalls()
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const pulled = yield* store.pull(privateImage, { auth: goodAuth })
      const afterFirst = { ...calls }
      for (const auth of [undefined, { username: env.registryUser, password: Redacted.make("wrong") }]) {
        const refused = yield* Effect.flip(store.pull(privateImage, { auth }))
        expect(refused.reason).toBe("Unauthorized")
        expect(refused.recoverable).toBe(false)
        expect(refused.message).toContain(`Error in pulling image ${privateImage}: pull access denied`)
        expect(refused.message).not.toContain("wrong")
      }
      // Valid credentials again: checked with the registry, nothing downloaded.
      const again = yield* store.pull(privateImage, { auth: goodAuth })
      expect(again.target.digest).toBe(pulled.target.digest)
      expect(calls.fetchBlob).toBe(afterFirst.fetchBlob)
      expect(calls.fetchManifest).toBe(afterFirst.fetchManifest)
      const cli = yield* cliPull({ namespace }, [privateImage])
      expect(cli.code).toBe(1)
      expect(cli.stderr).toContain(`Error in pulling image ${privateImage}: pull access denied`)
      const cliUser = yield* cliPull({ namespace }, ["--user", env.registryUser, privateImage], {
        CONTAINERD_DRIVER_REGISTRY_PASSWORD: env.registryPassword
      })
      expect(cliUser.code).toBe(0)
    }).pipe(inNamespace(namespace), Effect.provide(storeLayer(driverConfig(), calls)))
  }, 60_000)

  it.live("a tag moved on the registry is picked up by the next pull, fetching only the new blobs", () => {
    const namespace = newNamespace("policy-retag")
    const calls = newCalls()
    const tag = `run-${suffix}`
    const image = `${env.registry}/test/retag:${tag}`
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const busybox = yield* retag("test/busybox", "test/retag", tag)
      const first = yield* store.pull(image)
      expect(first.target.digest).toBe(busybox)
      const afterFirst = { ...calls }
      const multilayer = yield* retag("test/multilayer", "test/retag", tag)
      expect(multilayer).not.toBe(busybox)
      const moved = yield* store.pull(image)
      expect(moved.target.digest).toBe(multilayer)
      expect(moved.layers.length).toBe(3)
      // The base layer is busybox's, already present: the new config and the two new layers are downloaded.
      expect(calls.fetchBlob - afterFirst.fetchBlob).toBe(3)
      const record = (yield* (yield* Containerd).images.get({ name: image })).image
      expect(record?.target?.digest).toBe(multilayer)
      expect((yield* ctrRun(namespace, image, "/bin/busybox", "cat", "/data/b.txt")).stdout).toBe("b\n")
    }).pipe(inNamespace(namespace), Effect.provide(storeLayer(driverConfig(), calls)))
  }, 60_000)

  it.live("with the registry down a digest-pinned present image pulls silently, a tagged one with a warning", () => {
    const namespace = newNamespace("policy-down")
    return Effect.gen(function*() {
      const store = yield* ImageStore
      const proxy = yield* registryProxy
      const digest = yield* digestOf("test/busybox", "latest")
      const pinned = `${proxy.host}/test/busybox@${digest}`
      const tagged = `${proxy.host}/test/busybox:latest`
      const first = yield* store.pull(pinned)
      yield* store.pull(tagged)
      yield* proxy.stop
      const warnings: Array<string> = []
      const onWarning = (message: string) => Effect.sync(() => warnings.push(message))
      const again = yield* store.pull(pinned, { onWarning })
      expect(again).toEqual(first)
      expect(warnings).toEqual([])
      const degraded = yield* store.pull(tagged, { onWarning })
      expect(degraded.target.digest).toBe(digest)
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain(`registry ${proxy.host} could not be reached to check ${tagged}`)
      expect(warnings[0]).toContain("ECONNREFUSED")
      expect(warnings[0]).toContain(digest)
      // The image really runs, and the CLI follows the same policy, warning on stderr.
      expect((yield* ctrRun(namespace, pinned, "/bin/busybox", "echo", "ok")).stdout.trim()).toBe("ok")
      const cliPinned = yield* cliPull({ namespace }, [pinned])
      expect(cliPinned.code).toBe(0)
      expect(cliPinned.stderr).not.toContain("warning")
      const cliTagged = yield* cliPull({ namespace }, [tagged])
      expect(cliTagged.code).toBe(0)
      expect(cliTagged.stderr).toContain(`warning: registry ${proxy.host} could not be reached`)
      expect(cliTagged.stdout).toBe(`${tagged} ${digest}\n`)
      // An image that is not present still fails, recoverably.
      const absent = yield* Effect.flip(store.pull(`${proxy.host}/test/multilayer:latest`))
      expect(absent.reason).toBe("Unreachable")
      expect(absent.recoverable).toBe(true)
    }).pipe(Effect.scoped, inNamespace(namespace), Effect.provide(storeLayer()))
  }, 90_000)
})

describe("credentials end to end", () => {
  const auth = Buffer.from(`${env.registryUser}:${env.registryPassword}`).toString("base64")

  it.live("a task's auth block, the driver's auth block, a Docker config.json and a credential helper all pull the private image", () => {
    const namespace = newNamespace("credentials")
    const dockerConfig = writeJson("docker-config.json", { auths: { [env.authRegistry]: { auth } } })
    const helperDir = mkdtempSync(join(scratch, "helper-"))
    const helper = join(helperDir, "docker-credential-cddtest")
    // Answers only for the auth registry's server address, as Docker's helpers are asked.
    writeFileSync(
      helper,
      [
        "#!/bin/sh",
        "read server",
        `if [ "$server" = "${env.authRegistry}" ]; then`,
        `  printf '{"ServerURL":"%s","Username":"${env.registryUser}","Secret":"${env.registryPassword}"}' "$server"`,
        "else echo 'credentials not found in native keychain'; exit 1; fi"
      ].join("\n")
    )
    chmodSync(helper, 0o755)
    const originalPath = process.env["PATH"] ?? ""
    const pullWith = (config: DriverConfig, options: Parameters<ImageStore["Type"]["pull"]>[1] = {}) =>
      Effect.gen(function*() {
        const store = yield* ImageStore
        const pulled = yield* store.pull(privateImage, { ...options, forcePull: true })
        expect(pulled.name).toBe(privateImage)
      }).pipe(Effect.provide(storeLayer(config)))
    return Effect.gen(function*() {
      yield* pullWith(driverConfig(), { auth: { username: env.registryUser, password: Redacted.make(env.registryPassword) } })
      yield* pullWith(driverConfig({ auth: { username: env.registryUser, password: env.registryPassword } }))
      yield* pullWith(driverConfig({ auth: { config: dockerConfig } }))
      process.env["PATH"] = `${helperDir}:${originalPath}`
      yield* pullWith(driverConfig({ auth: { helper: "cddtest" } })).pipe(Effect.ensuring(Effect.sync(() => {
        process.env["PATH"] = originalPath
      })))
      const cli = yield* cliPull({ namespace, auth: { config: dockerConfig } }, ["--force", privateImage])
      expect(cli.stderr).not.toContain("Error")
      expect(cli.code).toBe(0)
      const cliHelper = yield* cliPull({ namespace, auth: { helper: "cddtest" } }, ["--force", privateImage], {
        PATH: `${helperDir}:${originalPath}`
      })
      expect(cliHelper.code).toBe(0)
      const cliUser = yield* cliPull({ namespace }, ["--force", "--user", env.registryUser, privateImage], { CONTAINERD_DRIVER_REGISTRY_PASSWORD: env.registryPassword })
      expect(cliUser.code).toBe(0)
      expect((yield* ctrRun(namespace, privateImage, "/bin/busybox", "echo", "ok")).stdout.trim()).toBe("ok")
    }).pipe(inNamespace(namespace))
  }, 90_000)
})
