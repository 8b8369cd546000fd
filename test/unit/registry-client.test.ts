/**
 * The Registry client against in-process loopback fakes: auth flows, token caching, redirects, fallbacks,
 * verification failures, timeouts and interruption. (The same client against real registries is covered by
 * test/integration/registry.test.ts.)
 */
import { randomBytes } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Either, Exit, Layer, Redacted, Stream, TestClock } from "effect"
import * as CredentialsLayer from "../../layers/Credentials.js"
import * as RegistryLayer from "../../layers/Registry.js"
import { Registry, type RegistryError } from "../../layers/Registry.js"
import * as Manifest from "../../src/image/Manifest.js"
import * as Reference from "../../src/image/Reference.js"
import * as ByteSource from "../../src/stream/ByteSource.js"
import { putSimpleImage, sha256, startFakeRegistry, startServer } from "../support/fakeRegistry.js"

const registryLayer = (credentials: CredentialsLayer.CredentialsConfig = {}, config: RegistryLayer.RegistryConfig = {}) =>
  RegistryLayer.layer(config).pipe(Layer.provide(CredentialsLayer.layer(credentials)))

const ref = (input: string) => Either.getOrThrowWith(Reference.parse(input), (e) => new Error(e.message))

const collect = (stream: Stream.Stream<Uint8Array, RegistryError>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(Chunk.toArray(chunks)))

const auth = (username: string, password: string) => ({ username, password: Redacted.make(password) })

const headerOf = (value: string | ReadonlyArray<string> | undefined) => (typeof value === "string" ? value : value?.[0])

/** A port that was just free: connecting to it is refused. */
const closedPort = Effect.async<number>((resume) => {
  const server = http.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

describe("Registry client — anonymous", () => {
  it.scopedLive("resolves with HEAD, fetches the manifest and streams a verified blob", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry()
      const image = putSimpleImage(fake, "test/app", "v1", "x".repeat(100_000))
      const registry = yield* Registry
      const target = ref(`${fake.host}/test/app:v1`)
      const descriptor = yield* registry.resolve(target)
      expect(descriptor).toEqual(image.manifest)
      const manifest = yield* registry.fetchManifest(target, descriptor)
      expect(sha256(manifest)).toBe(image.manifest.digest)
      const decoded = Manifest.decodeManifest(manifest, descriptor)
      expect(Either.isRight(decoded) && decoded.right.layers[0]?.digest).toBe(image.layer.digest)
      const layer = yield* collect(registry.fetchBlob(target, image.layer))
      expect(layer.length).toBe(100_000)
      expect(sha256(layer)).toBe(image.layer.digest)
      expect(fake.requests.map((r) => `${r.method} ${r.path.split("/").slice(-2).join("/")}`)).toEqual([
        "HEAD manifests/v1",
        `GET manifests/${image.manifest.digest}`,
        `GET blobs/${image.layer.digest}`
      ])
      const accept = headerOf(fake.requests[0]?.headers.accept) ?? ""
      for (const mediaType of [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json"
      ]) {
        expect(accept).toContain(mediaType)
      }
      expect(accept).not.toContain("v1+prettyjws")
    }).pipe(Effect.provide(registryLayer())))

  it.scopedLive("blobSource pushes the blob into a sink, pausing whenever the sink asks", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry()
      const content = randomBytes(3 << 20)
      const image = putSimpleImage(fake, "test/app", "v1", content)
      const registry = yield* Registry
      const target = ref(`${fake.host}/test/app:v1`)
      const received: Array<Uint8Array> = []
      let pauses = 0
      // A sink that asks for a pause after every piece and resumes a little later.
      const sink: ByteSource.ByteSink = {
        write: (bytes) => {
          received.push(bytes)
          return false
        },
        onDrain: (resume) => {
          pauses++
          setTimeout(resume, 1)
        }
      }
      yield* registry.blobSource(target, image.layer).pipe(sink)
      expect(sha256(Buffer.concat(received))).toBe(image.layer.digest)
      expect(pauses).toBe(received.length)
    }).pipe(Effect.provide(registryLayer())))

  it.scopedLive("names the reference for a missing repository and a missing tag", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry()
      putSimpleImage(fake, "test/app", "v1")
      const registry = yield* Registry
      const missingTag = yield* Effect.flip(registry.resolve(ref(`${fake.host}/test/app:nope`)))
      expect(missingTag.reason).toBe("ManifestUnknown")
      expect(missingTag.message).toBe(`manifest unknown: ${fake.host}/test/app:nope`)
      const missingRepo = yield* Effect.flip(registry.resolve(ref(`${fake.host}/test/absent:v1`)))
      expect(missingRepo.reason).toBe("NotFound")
      expect(missingRepo.message).toContain(`repository does not exist: ${fake.host}/test/absent:v1`)
      const missingBlob = yield* Effect.flip(collect(registry.fetchBlob(ref(`${fake.host}/test/app:v1`), {
        mediaType: "application/octet-stream",
        digest: `sha256:${"9".repeat(64)}`,
        size: 1
      })))
      expect(missingBlob.reason).toBe("NotFound")
      expect(missingBlob.message).toContain(`${fake.host}/test/app@sha256:${"9".repeat(64)}`)
    }).pipe(Effect.provide(registryLayer())))

  it.scopedLive("falls back to GET when HEAD is not allowed or lacks the digest", () =>
    Effect.gen(function*() {
      let mode: "405" | "nodigest" = "405"
      const fake = yield* startFakeRegistry({
        hook: (req, res, route) => {
          if (req.method !== "HEAD" || route.kind !== "manifests") return false
          if (mode === "405") res.writeHead(405).end()
          else res.writeHead(200, { "content-type": Manifest.MediaType.ociManifest }).end()
          return true
        }
      })
      const image = putSimpleImage(fake, "test/app", "v1")
      const registry = yield* Registry
      expect(yield* registry.resolve(ref(`${fake.host}/test/app:v1`))).toEqual(image.manifest)
      mode = "nodigest"
      expect(yield* registry.resolve(ref(`${fake.host}/test/app:v1`))).toEqual(image.manifest)
      expect(fake.requests.map((r) => r.method)).toEqual(["HEAD", "GET", "HEAD", "GET"])
    }).pipe(Effect.provide(registryLayer())))

  it.scopedLive("trusts the digest of a by-digest reference and verifies a GET body against it", () =>
    Effect.gen(function*() {
      let tamper = false
      const fake = yield* startFakeRegistry({
        hook: (req, res, route) => {
          if (route.kind !== "manifests") return false
          if (req.method === "HEAD") {
            res.writeHead(405).end()
            return true
          }
          if (!tamper) return false
          const body = JSON.stringify({ schemaVersion: 2, mediaType: Manifest.MediaType.ociManifest, config: {}, layers: [] })
          res.writeHead(200, { "content-type": Manifest.MediaType.ociManifest }).end(body)
          return true
        }
      })
      const image = putSimpleImage(fake, "test/app", "v1")
      const registry = yield* Registry
      const byDigest = ref(`${fake.host}/test/app@${image.manifest.digest}`)
      expect(yield* registry.resolve(byDigest)).toEqual(image.manifest)
      tamper = true
      const error = yield* Effect.flip(registry.resolve(byDigest))
      expect(error.reason).toBe("DigestMismatch")
      expect(error.message).toContain(byDigest.normalized)
    }).pipe(Effect.provide(registryLayer())))

  it.scopedLive("rejects schema 1 manifests with a clear message", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry()
      fake.putManifest("test/old", "v1", Manifest.MediaType.dockerSchema1SignedManifest, { schemaVersion: 1, fsLayers: [] })
      fake.putManifest("test/plain", "v1", "text/plain", { schemaVersion: 1, fsLayers: [] })
      fake.putManifest("test/artifact", "v1", "application/vnd.example.artifact+json", { hello: "world" })
      const registry = yield* Registry
      for (const repo of ["test/old", "test/plain"]) {
        const error = yield* Effect.flip(registry.resolve(ref(`${fake.host}/${repo}:v1`)))
        expect(error.reason).toBe("Unsupported")
        expect(error.message).toContain("schema 1")
        expect(error.message).toContain(`${fake.host}/${repo}:v1`)
      }
      const artifact = yield* Effect.flip(registry.resolve(ref(`${fake.host}/test/artifact:v1`)))
      expect(artifact.reason).toBe("Unsupported")
      expect(artifact.message).toContain("application/vnd.example.artifact+json")
    }).pipe(Effect.provide(registryLayer())))
})

describe("Registry client — verification", () => {
  it.scopedLive("fails a manifest whose bytes do not match the descriptor", () =>
    Effect.gen(function*() {
      let tamper: "no" | "same-size" | "longer" = "no"
      const fake = yield* startFakeRegistry({
        hook: (req, res, route) => {
          if (route.kind !== "manifests" || req.method !== "GET" || tamper === "no") return false
          const body = tamper === "same-size" ? "x".repeat(image.manifest.size) : "x".repeat(image.manifest.size + 10)
          res.writeHead(200, { "content-type": Manifest.MediaType.ociManifest }).end(body)
          return true
        }
      })
      const image = putSimpleImage(fake, "test/app", "v1")
      const registry = yield* Registry
      const target = ref(`${fake.host}/test/app:v1`)
      expect(sha256(yield* registry.fetchManifest(target, image.manifest))).toBe(image.manifest.digest)
      tamper = "same-size"
      const altered = yield* Effect.flip(registry.fetchManifest(target, image.manifest))
      expect(altered.reason).toBe("DigestMismatch")
      expect(altered.message).toContain(`${fake.host}/test/app@${image.manifest.digest}`)
      tamper = "longer"
      const longer = yield* Effect.flip(registry.fetchManifest(target, image.manifest))
      expect(longer.reason).toBe("DigestMismatch")
      expect(longer.message).toContain("wrong size")
    }).pipe(Effect.provide(registryLayer())))

  it.scopedLive("fails a blob stream on altered content (unless its consumer checks the digest), on an overrun and on a wrong Content-Length", () =>
    Effect.gen(function*() {
      let mode: "alter" | "overrun" | "length" = "alter"
      const content = Buffer.alloc(200_000, 7)
      const fake = yield* startFakeRegistry({
        hook: (_req, res, route) => {
          if (route.kind !== "blobs") return false
          if (mode === "alter") {
            const altered = Buffer.from(content)
            altered[altered.length - 1] = 8
            res.writeHead(200, { "content-length": altered.length }).end(altered)
          } else if (mode === "overrun") {
            // chunked, no length: the client must cut it off once the descriptor's size is exceeded
            res.writeHead(200)
            res.write(content)
            res.end(content)
          } else {
            res.writeHead(200, { "content-length": content.length - 1 }).end(content.subarray(1))
          }
          return true
        }
      })
      const registry = yield* Registry
      const target = ref(`${fake.host}/test/app:v1`)
      const descriptor = { mediaType: "application/octet-stream", digest: sha256(content), size: content.length }
      const altered = yield* Effect.flip(collect(registry.fetchBlob(target, descriptor)))
      expect(altered.reason).toBe("DigestMismatch")
      expect(altered.message).toContain(descriptor.digest)
      // Without digest verification (the consumer checks it) the altered bytes of the right size come through.
      const unchecked = yield* collect(registry.fetchBlob(target, descriptor, { verifyDigest: false }))
      expect(unchecked.length).toBe(content.length)
      expect(unchecked.equals(content)).toBe(false)
      mode = "overrun"
      for (const verifyDigest of [true, false]) {
        let received = 0
        const overrun = yield* Effect.flip(Stream.runForEach(registry.fetchBlob(target, descriptor, { verifyDigest }), (chunk) =>
          Effect.sync(() => {
            received += chunk.length
          })))
        expect(overrun.reason).toBe("DigestMismatch")
        expect(overrun.message).toContain("wrong size")
        expect(received).toBeLessThanOrEqual(content.length)
      }
      mode = "length"
      for (const verifyDigest of [true, false]) {
        const length = yield* Effect.flip(collect(registry.fetchBlob(target, descriptor, { verifyDigest })))
        expect(length.reason).toBe("DigestMismatch")
        expect(length.message).toBe(
          `registry announced ${content.length - 1} bytes (Content-Length) for ${target.name}@${descriptor.digest}, ` +
            `whose descriptor says ${content.length} bytes`
        )
      }
    }).pipe(Effect.provide(registryLayer())))
})

describe("Registry client — authentication", () => {
  it.scopedLive("gets an anonymous bearer token once and reuses it for manifests and blobs", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry({ auth: { kind: "bearer" } })
      const image = putSimpleImage(fake, "test/app", "v1")
      const registry = yield* Registry
      const target = ref(`${fake.host}/test/app:v1`)
      const descriptor = yield* registry.resolve(target)
      yield* registry.fetchManifest(target, descriptor)
      yield* collect(registry.fetchBlob(target, image.layer))
      expect(fake.tokenRequests()).toHaveLength(1)
      const tokenRequest = new URL(fake.tokenRequests()[0]!.path, fake.url)
      expect(tokenRequest.searchParams.get("service")).toBe("fake-registry")
      expect(tokenRequest.searchParams.getAll("scope")).toEqual(["repository:test/app:pull"])
      expect(fake.tokenRequests()[0]!.headers.authorization).toBeUndefined()
      const api = fake.requests.filter((r) => r.path.startsWith("/v2/"))
      // one anonymous attempt, answered 401, then everything with the token
      expect(api.map((r) => r.headers.authorization === undefined)).toEqual([true, false, false, false])
    }).pipe(Effect.provide(registryLayer())))

  it.scopedLive("sends Basic credentials to the token service and reads access_token", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry({
        auth: { kind: "bearer", users: { alice: "wonder" }, requireCredentials: true, tokenField: "access_token" }
      })
      putSimpleImage(fake, "test/app", "v1")
      const registry = yield* Registry
      const target = ref(`${fake.host}/test/app:v1`)
      yield* registry.resolve(target, { auth: auth("alice", "wonder") })
      expect(fake.tokenRequests()[0]?.headers.authorization).toBe(`Basic ${Buffer.from("alice:wonder").toString("base64")}`)

      const wrong = yield* Effect.flip(registry.resolve(target, { auth: auth("alice", "nope") }))
      expect(wrong.reason).toBe("Unauthorized")
      expect(wrong.message).toContain("pull access denied, repository does not exist or may require authorization")
      expect(wrong.message).toContain(target.normalized)
      expect(wrong.message).not.toContain("nope")

      const anonymous = yield* Effect.flip(registry.resolve(target))
      expect(anonymous.reason).toBe("Unauthorized")
      expect(anonymous.message).toContain(target.normalized)
    }).pipe(Effect.provide(registryLayer())))

  it.scopedLive("never serves one credential's cached token to a pull with other (or no) credentials", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry({
        auth: { kind: "bearer", users: { alice: "wonder" }, requireCredentials: true }
      })
      putSimpleImage(fake, "test/app", "v1")
      const registry = yield* Registry
      const target = ref(`${fake.host}/test/app:v1`)
      yield* registry.resolve(target, { auth: auth("alice", "wonder") })
      const other = yield* Effect.flip(registry.resolve(target))
      expect(other.reason).toBe("Unauthorized")
      const wrong = yield* Effect.flip(registry.resolve(target, { auth: auth("alice", "guess") }))
      expect(wrong.reason).toBe("Unauthorized")
    }).pipe(Effect.provide(registryLayer())))

  it.effect("refreshes a cached token once it expires (expires_in honoured)", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry({ auth: { kind: "bearer", expiresIn: 120 } })
      putSimpleImage(fake, "test/app", "v1")
      const registry = yield* Registry
      const target = ref(`${fake.host}/test/app:v1`)
      yield* registry.resolve(target)
      yield* registry.resolve(target)
      yield* TestClock.adjust("100 seconds")
      yield* registry.resolve(target)
      expect(fake.tokenRequests()).toHaveLength(1)
      yield* TestClock.adjust("20 seconds")
      yield* registry.resolve(target)
      expect(fake.tokenRequests()).toHaveLength(2)
    }).pipe(Effect.provide(registryLayer()), Effect.scoped))

  it.scopedLive("uses an identity token from config.json with the OAuth2 refresh-token grant", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry({ auth: { kind: "bearer", refreshTokens: ["refresh-123"], requireCredentials: true } })
      putSimpleImage(fake, "test/app", "v1")
      const dir = mkdtempSync(join(tmpdir(), "registry-idtoken-"))
      const configPath = join(dir, "config.json")
      writeFileSync(configPath, JSON.stringify({ auths: { [fake.host]: { identitytoken: "refresh-123" } } }))
      const descriptor = yield* Effect.flatMap(Registry, (registry) => registry.resolve(ref(`${fake.host}/test/app:v1`)))
        .pipe(Effect.provide(registryLayer({ dockerConfigPath: configPath })))
      expect(descriptor.mediaType).toBe(Manifest.MediaType.ociManifest)
      const [tokenRequest] = fake.tokenRequests()
      expect(tokenRequest?.method).toBe("POST")
      const form = new URLSearchParams(tokenRequest?.body)
      expect(form.get("grant_type")).toBe("refresh_token")
      expect(form.get("refresh_token")).toBe("refresh-123")
      expect(form.get("service")).toBe("fake-registry")
      expect(form.get("scope")).toBe("repository:test/app:pull")
    }))

  it.scopedLive("answers Basic challenges and then sends the header up front", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry({ auth: { kind: "basic", users: { bob: "builder" } } })
      const image = putSimpleImage(fake, "test/app", "v1")
      const registry = yield* Registry
      const target = ref(`${fake.host}/test/app:v1`)
      yield* registry.resolve(target)
      yield* collect(registry.fetchBlob(target, image.layer))
      expect(fake.requests.filter((r) => r.headers.authorization === undefined)).toHaveLength(1)
      expect(fake.requests.at(-1)?.headers.authorization).toBe(`Basic ${Buffer.from("bob:builder").toString("base64")}`)
    }).pipe(Effect.provide(registryLayer({ auth: auth("bob", "builder") }))))
})

describe("Registry client — redirects", () => {
  it.scopedLive("follows blob redirects to another host without the Authorization header", () =>
    Effect.gen(function*() {
      let storageUrl = ""
      const fake = yield* startFakeRegistry({ auth: { kind: "bearer" }, redirectBlobsTo: () => storageUrl })
      const image = putSimpleImage(fake, "test/app", "v1", "z".repeat(50_000))
      const storage = yield* startServer((req, res) => {
        const data = fake.blob("test/app", req.url?.split("/").at(-1) ?? "")
        if (data === undefined) return res.writeHead(404).end()
        res.writeHead(200, { "content-length": data.length }).end(data)
      })
      storageUrl = storage.url
      const registry = yield* Registry
      const target = ref(`${fake.host}/test/app:v1`)
      yield* registry.resolve(target)
      const blob = yield* collect(registry.fetchBlob(target, image.layer))
      expect(sha256(blob)).toBe(image.layer.digest)
      const blobRequest = fake.requests.find((r) => r.path.includes("/blobs/"))
      expect(blobRequest?.headers.authorization).toMatch(/^Bearer /)
      expect(storage.requests).toHaveLength(1)
      expect(storage.requests[0]?.headers.authorization).toBeUndefined()
    }).pipe(Effect.provide(registryLayer())))

  it.scopedLive("keeps Authorization on a same-host redirect and stops redirect loops", () =>
    Effect.gen(function*() {
      const loopDigest = `sha256:${"e".repeat(64)}`
      const fake = yield* startFakeRegistry({
        auth: { kind: "basic", users: { bob: "builder" } },
        hook: (req, res, route) => {
          if (route.kind !== "blobs") return false
          if (route.object === loopDigest) {
            res.writeHead(302, { location: req.url ?? "/" }).end()
            return true
          }
          if (!req.url?.includes("moved")) {
            res.writeHead(301, { location: `${req.url}?moved=1` }).end()
            return true
          }
          return false
        }
      })
      const image = putSimpleImage(fake, "test/app", "v1")
      const registry = yield* Registry
      const target = ref(`${fake.host}/test/app:v1`)
      const blob = yield* collect(registry.fetchBlob(target, image.layer))
      expect(sha256(blob)).toBe(image.layer.digest)
      const moved = fake.requests.filter((r) => r.path.endsWith("?moved=1"))
      expect(moved).toHaveLength(1)
      expect(moved[0]?.headers.authorization).toBe(`Basic ${Buffer.from("bob:builder").toString("base64")}`)
      const loop = yield* Effect.flip(collect(registry.fetchBlob(target, { ...image.layer, digest: loopDigest })))
      expect(loop.reason).toBe("Protocol")
      expect(loop.message).toContain("redirected more than 10 times")
    }).pipe(Effect.provide(registryLayer({ auth: auth("bob", "builder") }))))
})

describe("Registry client — failures that are temporary", () => {
  it.scopedLive("an unreachable registry fails fast as Unreachable, naming the host", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const registry = yield* Registry
      const error = yield* Effect.flip(registry.resolve(ref(`127.0.0.1:${port}/test/app:v1`)))
      expect(error.reason).toBe("Unreachable")
      expect(error.recoverable).toBe(true)
      expect(error.message).toContain(`127.0.0.1:${port}`)
      expect(error.message).toContain("temporary")
    }).pipe(Effect.provide(registryLayer())))

  it.scopedLive("maps 503 and 429 to Unreachable", () =>
    Effect.gen(function*() {
      let status = 503
      const fake = yield* startFakeRegistry({
        hook: (_req, res) => {
          res.writeHead(status, { "content-type": "application/json" }).end(
            JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "slow down" }] })
          )
          return true
        }
      })
      const registry = yield* Registry
      for (const s of [503, 429]) {
        status = s
        const error = yield* Effect.flip(registry.resolve(ref(`${fake.host}/test/app:v1`)))
        expect(error.reason).toBe("Unreachable")
        expect(error.recoverable).toBe(true)
      }
    }).pipe(Effect.provide(registryLayer())))

  it.scopedLive("times out a registry that never answers, and a blob that stalls", () =>
    Effect.gen(function*() {
      const content = Buffer.alloc(100_000, 1)
      const fake = yield* startFakeRegistry({
        hook: (_req, res, route) => {
          if (route.kind === "manifests") return true // never answers
          res.writeHead(200, { "content-length": content.length })
          res.write(content.subarray(0, 1000)) // then stalls
          return true
        }
      })
      const registry = yield* Registry
      const target = ref(`${fake.host}/test/app:v1`)
      const noAnswer = yield* Effect.flip(registry.resolve(target))
      expect(noAnswer.reason).toBe("Timeout")
      expect(noAnswer.recoverable).toBe(true)
      expect(noAnswer.message).toContain(fake.host)
      const stalled = yield* Effect.flip(collect(registry.fetchBlob(target, {
        mediaType: "application/octet-stream",
        digest: sha256(content),
        size: content.length
      })))
      expect(stalled.reason).toBe("Timeout")
      expect(stalled.message).toContain("sent no data")
    }).pipe(Effect.provide(registryLayer({}, { requestTimeout: "300 millis", idleTimeout: "300 millis" }))))

  it.scopedLive("interrupting a blob stream closes the connection", () =>
    Effect.gen(function*() {
      const closed = yield* Deferred.make<void>()
      const chunk = Buffer.alloc(64 * 1024, 3)
      const size = 1024 * 1024 * 1024
      const fake = yield* startFakeRegistry({
        hook: (_req, res, route) => {
          if (route.kind !== "blobs") return false
          res.writeHead(200, { "content-length": size })
          const timer = setInterval(() => res.write(chunk), 5)
          res.on("close", () => {
            clearInterval(timer)
            Deferred.unsafeDone(closed, Exit.void)
          })
          return true
        }
      })
      const registry = yield* Registry
      const first = yield* Stream.runHead(registry.fetchBlob(ref(`${fake.host}/test/app:v1`), {
        mediaType: "application/octet-stream",
        digest: `sha256:${"a".repeat(64)}`,
        size
      }))
      expect(first._tag).toBe("Some")
      yield* Deferred.await(closed).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "connection stayed open" }))
    }).pipe(Effect.provide(registryLayer())))
})
