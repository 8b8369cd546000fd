/**
 * The Registry client with a hosts dir (containerd's certs.d layout) against loopback fakes: mirrors tried in
 * file order before the server, what a failing mirror does to the pull (reported once, skipped when it cannot be
 * reached, the server used), pull-only mirrors, the error naming every host, where credentials and headers go, and
 * configurations that cannot be used.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Either, Layer, Redacted, type Scope, Stream } from "effect"
import * as CredentialsLayer from "../../layers/Credentials.js"
import * as RegistryLayer from "../../layers/Registry.js"
import { Registry, type RegistryError, withHostFailures } from "../../layers/Registry.js"
import * as Reference from "../../src/image/Reference.js"
import { type FakeRegistry, putSimpleImage, type Recorded, sha256, startFakeRegistry, startServer } from "../support/fakeRegistry.js"

const ref = (input: string) => Either.getOrThrowWith(Reference.parse(input), (e) => new Error(e.message))

/** A hosts dir with these `<directory>/hosts.toml` files, removed with the test's scope. */
const hostsDir = (files: Record<string, string>): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = mkdtempSync(join(tmpdir(), "cdd-hosts-"))
      for (const [name, text] of Object.entries(files)) {
        mkdirSync(join(dir, name), { recursive: true })
        writeFileSync(join(dir, name, "hosts.toml"), text)
      }
      return dir
    }),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

const registryWith = (
  dir: string,
  credentials: CredentialsLayer.CredentialsConfig = {}
): Layer.Layer<Registry> =>
  RegistryLayer.layer({ hostsDir: dir, requestTimeout: "5 seconds" }).pipe(Layer.provide(CredentialsLayer.layer(credentials)))

/** The client, open for the test's scope. */
const registryIn = (dir: string, credentials: CredentialsLayer.CredentialsConfig = {}) =>
  Effect.map(Layer.build(registryWith(dir, credentials)), Context.get(Registry))

const collect = (stream: Stream.Stream<Uint8Array, RegistryError>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(Chunk.toArray(chunks)))

/** Resolve, manifest and layer of `input` as a pull does them, with the warnings the pull would be told. */
const pullWarnings = (registry: Registry["Type"], input: string, options: RegistryLayer.RequestOptions = {}) =>
  withHostFailures(Effect.gen(function*() {
    const target = ref(input)
    const descriptor = yield* registry.resolve(target, options)
    const manifest = JSON.parse(Buffer.from(yield* registry.fetchManifest(target, descriptor, options)).toString("utf8")) as {
      readonly layers: ReadonlyArray<{ readonly mediaType: string; readonly digest: string; readonly size: number }>
    }
    const layer = manifest.layers[0]!
    const bytes = yield* collect(registry.fetchBlob(target, layer, options))
    expect(sha256(bytes)).toBe(layer.digest)
    return { digest: descriptor.digest, warnings: [] as ReadonlyArray<string> }
  }))

/** A fake that answers every registry API request with 503, counting them. */
const failing503 = startFakeRegistry({
  hook: (_req, res) => {
    res.writeHead(503, { "content-type": "application/json" }).end('{"errors":[{"code":"UNAVAILABLE","message":"down"}]}')
    return true
  }
})

const apiRequests = (fake: { readonly requests: ReadonlyArray<Recorded> }): ReadonlyArray<Recorded> =>
  fake.requests.filter((r) => r.path.startsWith("/v2/") && r.path !== "/v2/")

describe("mirrors from hosts.toml", () => {
  it.scopedLive("a mirror serves the whole pull with ns=<domain>; the server is not asked", () =>
    Effect.gen(function*() {
      const mirror = yield* startFakeRegistry()
      const server = yield* startFakeRegistry()
      const image = putSimpleImage(mirror, "library/app", "v1", "m".repeat(5_000))
      const dir = yield* hostsDir({
        "docker.io": `server = "http://${server.host}"\n[host."http://${mirror.host}"]\n  capabilities = ["pull", "resolve"]\n`
      })
      const result = yield* Effect.flatMap(Registry, (registry) => pullWarnings(registry, "docker.io/library/app:v1"))
        .pipe(Effect.provide(registryWith(dir)))
      expect(result).toEqual({ digest: image.manifest.digest, warnings: [] })
      expect(server.requests).toHaveLength(0)
      expect(apiRequests(mirror).map((r) => r.path)).toEqual([
        "/v2/library/app/manifests/v1?ns=docker.io",
        `/v2/library/app/manifests/${image.manifest.digest}?ns=docker.io`,
        `/v2/library/app/blobs/${image.layer.digest}?ns=docker.io`
      ])
    }))

  it.scopedLive("a mirror answering 503: the server serves, the pull is told once, and the mirror is not asked again", () =>
    Effect.gen(function*() {
      const mirror = yield* failing503
      const server = yield* startFakeRegistry()
      const image = putSimpleImage(server, "library/app", "v1")
      const dir = yield* hostsDir({
        "docker.io": `server = "http://${server.host}"\n[host."http://${mirror.host}"]\n`
      })
      const result = yield* Effect.flatMap(Registry, (registry) => pullWarnings(registry, "docker.io/library/app:v1"))
        .pipe(Effect.provide(registryWith(dir)))
      expect(result.digest).toBe(image.manifest.digest)
      expect(result.warnings).toHaveLength(1)
      expect(result.warnings[0]).toBe(
        `registry mirror http://${mirror.host}/v2 for docker.io failed while pulling docker.io/library/app:v1 ` +
          `(registry ${mirror.host} answered HTTP 503 while pulling docker.io/library/app:v1); ` +
          `trying server http://${server.host}/v2`
      )
      expect(apiRequests(mirror)).toHaveLength(1)
      expect(apiRequests(server).map((r) => r.path.split("?")[0]?.split("/").slice(-2).join("/"))).toEqual([
        "manifests/v1",
        `manifests/${image.manifest.digest}`,
        `blobs/${image.layer.digest}`
      ])
    }))

  it.scopedLive("a mirror without the image is reported, the server serves, and the mirror is still asked for the content", () =>
    Effect.gen(function*() {
      const mirror = yield* startFakeRegistry()
      const server = yield* startFakeRegistry()
      putSimpleImage(server, "library/app", "v1")
      const dir = yield* hostsDir({ "docker.io": `server = "http://${server.host}"\n[host."http://${mirror.host}"]\n` })
      const registry = yield* registryIn(dir)
      const result = yield* pullWarnings(registry, "docker.io/library/app:v1")
      expect(result.warnings).toHaveLength(1)
      expect(result.warnings[0]).toContain(`registry mirror http://${mirror.host}/v2 for docker.io failed`)
      expect(result.warnings[0]).toContain("does not exist")
      // The mirror may hold other content: without the image it is still asked for the next blob.
      expect(apiRequests(mirror).some((r) => r.path.includes("/blobs/"))).toBe(true)
    }))

  it.scopedLive("a pull-only mirror never resolves a tag, and serves the content (and digest references)", () =>
    Effect.gen(function*() {
      const mirror = yield* startFakeRegistry()
      const server = yield* startFakeRegistry()
      const image = putSimpleImage(mirror, "team/app", "v1")
      putSimpleImage(server, "team/app", "v1")
      const dir = yield* hostsDir({
        "registry.example.com": `server = "http://${server.host}"\n[host."http://${mirror.host}"]\n  capabilities = ["pull"]\n`
      })
      const result = yield* Effect.flatMap(Registry, (registry) => pullWarnings(registry, "registry.example.com/team/app:v1"))
        .pipe(Effect.provide(registryWith(dir)))
      expect(result).toEqual({ digest: image.manifest.digest, warnings: [] })
      expect(apiRequests(server).map((r) => `${r.method} ${r.path}`)).toEqual([`HEAD /v2/team/app/manifests/v1?ns=registry.example.com`])
      expect(apiRequests(mirror).map((r) => r.path.split("?")[0])).toEqual([
        `/v2/team/app/manifests/${image.manifest.digest}`,
        `/v2/team/app/blobs/${image.layer.digest}`
      ])
      // A digest reference needs no trust in a tag: the pull-only mirror answers it (and the digest is checked).
      const serverAsked = server.requests.length
      const byDigest = yield* Effect.flatMap(Registry, (registry) => registry.resolve(ref(`registry.example.com/team/app@${image.manifest.digest}`)))
        .pipe(Effect.provide(registryWith(dir)))
      expect(byDigest.digest).toBe(image.manifest.digest)
      expect(server.requests.length).toBe(serverAsked)
    }))

  it.scopedLive("when every host fails, the error names each host in order and keeps the server's reason", () =>
    Effect.gen(function*() {
      const mirror = yield* failing503
      const server = yield* startFakeRegistry()
      const dir = yield* hostsDir({ "docker.io": `server = "http://${server.host}"\n[host."http://${mirror.host}"]\n` })
      const error = yield* Effect.flip(Effect.flatMap(Registry, (registry) => registry.resolve(ref("busybox")))
        .pipe(Effect.provide(registryWith(dir))))
      expect(error.reason).toBe("NotFound")
      expect(error.message).toMatch(
        new RegExp(
          `^no host of docker\\.io could serve docker\\.io/library/busybox:latest; tried in order: mirror http://${mirror.host}/v2: .*HTTP 503.*; ` +
            `server http://${server.host}/v2: repository does not exist`
        )
      )
    }))

  it.scopedLive("the _default directory serves every registry without a directory of its own; host_port_ wins over host:port", () =>
    Effect.gen(function*() {
      const fallback = yield* startFakeRegistry()
      const ported = yield* startFakeRegistry()
      putSimpleImage(fallback, "team/app", "v1")
      putSimpleImage(ported, "team/app", "v2")
      const dir = yield* hostsDir({
        "_default": `server = "http://${fallback.host}"\n`,
        "registry.example.com_5000_": `server = "http://${ported.host}"\n`,
        "registry.example.com:5000": `server = "http://127.0.0.1:1"\n`
      })
      const registry = yield* registryIn(dir)
      yield* registry.resolve(ref("quay.example/team/app:v1"))
      yield* registry.resolve(ref("registry.example.com:5000/team/app:v2"))
      expect(apiRequests(fallback)).toHaveLength(1)
      expect(apiRequests(ported)).toHaveLength(1)
    }))
})

describe("what each host gets", () => {
  const b64 = (text: string) => Buffer.from(text).toString("base64")
  const sawPassword = (fake: FakeRegistry, password: string) =>
    fake.requests.some((r) => {
      const header = r.headers.authorization ?? ""
      return header.includes(password) || Buffer.from(header.replace(/^\w+ /, ""), "base64").toString("utf8").includes(password)
    })

  it.scopedLive("task and driver auth go only to the server's token service; a mirror gets what config.json holds for it", () =>
    Effect.gen(function*() {
      const mirror = yield* startFakeRegistry({ auth: { kind: "bearer", users: { mirroruser: "mirrorpw" }, requireCredentials: true } })
      const server = yield* startFakeRegistry({ auth: { kind: "bearer", users: { alice: "wonder" }, requireCredentials: true } })
      putSimpleImage(mirror, "team/app", "v1")
      putSimpleImage(server, "team/app", "v1")
      const dir = yield* hostsDir({
        "registry.example.com": `server = "http://${server.host}"\n[host."http://${mirror.host}"]\n`
      })
      const alice = { username: "alice", password: Redacted.make("wonder") }
      // No credentials for the mirror: it refuses, the server serves with the task's auth.
      const refused = yield* Effect.flatMap(Registry, (registry) => pullWarnings(registry, "registry.example.com/team/app:v1", { auth: alice }))
        .pipe(Effect.provide(registryWith(dir, { auth: { username: "driver", password: Redacted.make("driverpw") } })))
      expect(refused.warnings[0]).toContain("pull access denied")
      expect(mirror.tokenRequests().length).toBeGreaterThan(0)
      expect(sawPassword(mirror, "wonder")).toBe(false)
      expect(sawPassword(mirror, "driverpw")).toBe(false)
      expect(server.tokenRequests().every((r) => r.headers.authorization === `Basic ${b64("alice:wonder")}`)).toBe(true)

      // With config.json holding the mirror's credentials, the mirror serves and gets those, never the task's.
      const configDir = mkdtempSync(join(tmpdir(), "cdd-config-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(configDir, { recursive: true, force: true })))
      const config = join(configDir, "config.json")
      writeFileSync(config, JSON.stringify({ auths: { [mirror.host]: { auth: b64("mirroruser:mirrorpw") } } }))
      const before = server.requests.length
      const served = yield* Effect.flatMap(Registry, (registry) => pullWarnings(registry, "registry.example.com/team/app:v1", { auth: alice }))
        .pipe(Effect.provide(registryWith(dir, { dockerConfigPath: config })))
      expect(served.warnings).toEqual([])
      expect(server.requests.length).toBe(before)
      expect(mirror.tokenRequests().at(-1)?.headers.authorization).toBe(`Basic ${b64("mirroruser:mirrorpw")}`)
      expect(sawPassword(mirror, "wonder")).toBe(false)
    }))

  it.scopedLive("[header] values go to their host, not to where it redirects", () =>
    Effect.gen(function*() {
      let storageUrl = ""
      const mirror = yield* startFakeRegistry({ redirectBlobsTo: () => storageUrl })
      const image = putSimpleImage(mirror, "team/app", "v1", "h".repeat(2_000))
      const storage = yield* startServer((req, res) => {
        const data = mirror.blob("team/app", (req.url ?? "").split("/").at(-1) ?? "")
        if (data === undefined) return res.writeHead(404).end()
        res.writeHead(200, { "content-length": data.length }).end(data)
      })
      storageUrl = storage.url
      const dir = yield* hostsDir({
        "registry.example.com": `server = "http://${mirror.host}"\n[header]\n  x-api-key = "k-123"\n  x-multi = ["a", "b"]\n`
      })
      const registry = yield* registryIn(dir)
      const target = ref("registry.example.com/team/app:v1")
      yield* registry.resolve(target)
      const bytes = yield* collect(registry.fetchBlob(target, image.layer))
      expect(sha256(bytes)).toBe(image.layer.digest)
      for (const request of apiRequests(mirror)) {
        expect(request.headers["x-api-key"]).toBe("k-123")
        expect(request.headers["x-multi"]).toBe("a, b")
      }
      expect(storage.requests).toHaveLength(1)
      expect(storage.requests[0]?.headers["x-api-key"]).toBeUndefined()
    }))
})

describe("configurations that cannot be used", () => {
  it.scopedLive("a broken hosts.toml fails the pull naming the file and the problem", () =>
    Effect.gen(function*() {
      const dir = yield* hostsDir({ "docker.io": `[host."http://127.0.0.1:5000"]\n  capabilities = ["fetch"]\n` })
      const error = yield* Effect.flip(Effect.flatMap(Registry, (registry) => registry.resolve(ref("busybox")))
        .pipe(Effect.provide(registryWith(dir))))
      expect(error.reason).toBe("Protocol")
      expect(error.message).toBe(
        `cannot use ${join(dir, "docker.io", "hosts.toml")}: host."http://127.0.0.1:5000".capabilities: unknown capability ` +
          `"fetch" (use "pull", "resolve" or "push") (see containerd's docs/hosts.md for the format)`
      )
    }))

  it.scopedLive("a CA file that is missing or not a certificate is named", () =>
    Effect.gen(function*() {
      const dir = yield* hostsDir({ "registry.example.com": `server = "https://127.0.0.1:1"\nca = "missing-ca.crt"\n` })
      const error = yield* Effect.flip(Effect.flatMap(Registry, (registry) => registry.resolve(ref("registry.example.com/a/b:c")))
        .pipe(Effect.provide(registryWith(dir))))
      expect(error.message).toContain(`TLS settings for registry 127.0.0.1:1: cannot read the CA file ${join(dir, "registry.example.com", "missing-ca.crt")} does not exist`)
      writeFileSync(join(dir, "registry.example.com", "missing-ca.crt"), "not a certificate\n")
      const notPem = yield* Effect.flip(Effect.flatMap(Registry, (registry) => registry.resolve(ref("registry.example.com/a/b:c")))
        .pipe(Effect.provide(registryWith(dir))))
      expect(notPem.message).toContain("holds no PEM certificate")
    }))

  it.scopedLive("no host with the resolve capability: the error says which file to look at", () =>
    Effect.gen(function*() {
      const dir = yield* hostsDir({ "docker.io": `capabilities = ["pull"]\nserver = "http://127.0.0.1:1"\n` })
      const error = yield* Effect.flip(Effect.flatMap(Registry, (registry) => registry.resolve(ref("busybox")))
        .pipe(Effect.provide(registryWith(dir))))
      expect(error.message).toBe(
        `no host configured for docker.io has the "pull" and "resolve" capabilities, needed to pull docker.io/library/busybox:latest ` +
          `(see capabilities in ${join(dir, "docker.io", "hosts.toml")})`
      )
    }))

  it.scopedLive("hosts_dir \"\" ignores the directory", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry()
      putSimpleImage(fake, "team/app", "v1")
      const dir = yield* hostsDir({ "_default": `server = "http://127.0.0.1:1"\n` })
      const configured = yield* Effect.flip(Effect.flatMap(Registry, (registry) => registry.resolve(ref(`${fake.host}/team/app:v1`)))
        .pipe(Effect.provide(registryWith(dir))))
      expect(configured.message).toContain("127.0.0.1:1")
      yield* Effect.flatMap(Registry, (registry) => registry.resolve(ref(`${fake.host}/team/app:v1`)))
        .pipe(Effect.provide(registryWith("")))
    }))
})
