/**
 * The Registry client against the REAL loopback registries of scripts/test-env.sh (anonymous TEST_REGISTRY,
 * htpasswd Basic-auth TEST_AUTH_REGISTRY) and their test images. A missing environment fails every test with the
 * command that provides it — nothing here skips.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Layer, Option, Redacted, Stream } from "effect"
import * as CredentialsLayer from "../../layers/Credentials.js"
import * as RegistryLayer from "../../layers/Registry.js"
import { Registry, type RegistryError } from "../../layers/Registry.js"
import * as Manifest from "../../src/image/Manifest.js"
import * as Platform from "../../src/image/Platform.js"
import * as Reference from "../../src/image/Reference.js"
import { PULL_ACCESS_DENIED } from "../../src/image/RegistryProtocol.js"
import { sha256, startFakeRegistry } from "../support/fakeRegistry.js"
import { integrationEnv, setupHint, probeRegistry } from "./env.js"

const env = integrationEnv

const registryLayer = (credentials: CredentialsLayer.CredentialsConfig = {}) =>
  RegistryLayer.layer().pipe(Layer.provide(CredentialsLayer.layer(credentials)))

const ref = (input: string) => Either.getOrThrowWith(Reference.parse(input), (e) => new Error(e.message))
const userPass = (username: string, password: string) => ({ username, password: Redacted.make(password) })
const goodAuth = userPass(env.registryUser, env.registryPassword)

const collect = (stream: Stream.Stream<Uint8Array, RegistryError>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(Chunk.toArray(chunks)))

const decodeOrFail = <A>(result: Either.Either<A, Manifest.ManifestError>): A =>
  Either.getOrThrowWith(result, (e) => new Error(e.message))

/** Checked once; every test then fails (not skips) with the setup hint when the registries are not there. */
let readiness: Promise<void> | undefined
const registriesReady = () =>
  (readiness ??= (async () => {
    for (const [host, expected] of [[env.registry, 200], [env.authRegistry, 401]] as const) {
      const status = await probeRegistry(host).catch((cause: unknown) => {
        throw new Error(
          `test registry ${host} is not reachable (${cause instanceof Error ? cause.message : String(cause)}); ${setupHint}`
        )
      })
      if (status !== expected) {
        throw new Error(`test registry ${host} answered GET /v2/ with ${status}, expected ${expected}; ${setupHint}`)
      }
    }
  })())

beforeEach(registriesReady)

/** Pulls one image manifest's config and layers through the client and checks every byte independently. */
const pullManifest = (target: Reference.Reference, descriptor: Manifest.Descriptor, options?: RegistryLayer.RequestOptions) =>
  Effect.gen(function*() {
    const registry = yield* Registry
    const bytes = yield* registry.fetchManifest(target, descriptor, options)
    expect(sha256(bytes)).toBe(descriptor.digest)
    expect(bytes.length).toBe(descriptor.size)
    const manifest = decodeOrFail(Manifest.decodeManifest(bytes, descriptor))
    const config = yield* collect(registry.fetchBlob(target, manifest.config, options))
    expect(sha256(config)).toBe(manifest.config.digest)
    for (const layer of manifest.layers) {
      const data = yield* collect(registry.fetchBlob(target, layer, options))
      expect(data.length).toBe(layer.size)
      expect(sha256(data)).toBe(layer.digest)
    }
    return { manifest, config: JSON.parse(config.toString("utf8")) as Record<string, unknown> }
  })

describe("media-type families", () => {
  const host = Platform.host()
  const families = [
    { repo: "test/busybox", mediaType: Manifest.MediaType.ociManifest, config: Manifest.MediaType.ociConfig },
    { repo: "test/busybox-docker", mediaType: Manifest.MediaType.dockerManifest, config: Manifest.MediaType.dockerConfig },
    { repo: "test/multiarch", mediaType: Manifest.MediaType.ociIndex, config: Manifest.MediaType.ociConfig },
    { repo: "test/multiarch-docker", mediaType: Manifest.MediaType.dockerManifestList, config: Manifest.MediaType.dockerConfig }
  ] as const

  for (const family of families) {
    it.live(`${family.repo}: resolve, fetch the manifest, stream verified blobs (${family.mediaType})`, () =>
      Effect.gen(function*() {
        const registry = yield* Registry
        const target = ref(`${env.registry}/${family.repo}:latest`)
        const root = yield* registry.resolve(target)
        expect(root.mediaType).toBe(family.mediaType)
        let manifestDescriptor = root
        if (Manifest.isIndex(root.mediaType)) {
          const bytes = yield* registry.fetchManifest(target, root)
          expect(sha256(bytes)).toBe(root.digest)
          const index = decodeOrFail(Manifest.decodeIndex(bytes, root))
          manifestDescriptor = Option.getOrThrowWith(
            Platform.selectManifest(index, host),
            () => new Error(`no manifest for ${Platform.format(host)} in ${Platform.offered(index).join(", ")}`)
          )
          expect(Platform.only(host).match(manifestDescriptor.platform!)).toBe(true)
        }
        const { config, manifest } = yield* pullManifest(target, manifestDescriptor)
        expect(manifest.config.mediaType).toBe(family.config)
        expect(manifest.layers.length).toBeGreaterThan(0)
        expect(Platform.only(host).match({ os: String(config["os"]), architecture: String(config["architecture"]) }))
          .toBe(true)
      }).pipe(Effect.provide(registryLayer())))
  }

  it.live("an index yields the manifest of the requested platform (amd64, arm64, arm/v7)", () =>
    Effect.gen(function*() {
      const registry = yield* Registry
      for (const repo of ["test/multiarch", "test/multiarch-docker"]) {
        const target = ref(`${env.registry}/${repo}`)
        const root = yield* registry.resolve(target)
        const index = decodeOrFail(Manifest.decodeIndex(yield* registry.fetchManifest(target, root), root))
        for (const wanted of ["linux/amd64", "linux/arm64", "linux/arm/v7"]) {
          const platform = Either.getOrThrow(Platform.parse(wanted))
          const chosen = Option.getOrThrow(Platform.selectManifest(index, platform))
          const { config } = yield* pullManifest(target, chosen)
          const configPlatform = Platform.normalize({
            os: String(config["os"]),
            architecture: String(config["architecture"]),
            ...(typeof config["variant"] === "string" ? { variant: config["variant"] } : {})
          })
          expect(Platform.format(configPlatform)).toBe(wanted)
        }
      }
    }).pipe(Effect.provide(registryLayer())))

  it.live("resolves a by-digest reference to the same descriptor", () =>
    Effect.gen(function*() {
      const registry = yield* Registry
      const byTag = yield* registry.resolve(ref(`${env.registry}/test/multilayer:latest`))
      const byDigest = yield* registry.resolve(ref(`${env.registry}/test/multilayer@${byTag.digest}`))
      expect(byDigest).toEqual(byTag)
      yield* pullManifest(ref(`${env.registry}/test/multilayer@${byTag.digest}`), byDigest)
    }).pipe(Effect.provide(registryLayer())))

  it.live("streams a large blob in many small chunks, verified", () =>
    Effect.gen(function*() {
      const registry = yield* Registry
      const target = ref(`${env.registry}/test/big:latest`)
      const root = yield* registry.resolve(target)
      const manifest = decodeOrFail(Manifest.decodeManifest(yield* registry.fetchManifest(target, root), root))
      const largest = [...manifest.layers].sort((a, b) => b.size - a.size)[0]!
      expect(largest.size).toBeGreaterThan(10 * 1024 * 1024)
      const stats = yield* Stream.runFold(registry.fetchBlob(target, largest), { chunks: 0, bytes: 0, biggest: 0 }, (acc, chunk) => ({
        chunks: acc.chunks + 1,
        bytes: acc.bytes + chunk.length,
        biggest: Math.max(acc.biggest, chunk.length)
      }))
      expect(stats.bytes).toBe(largest.size)
      expect(stats.chunks).toBeGreaterThan(10)
      expect(stats.biggest).toBeLessThan(4 * 1024 * 1024)
    }).pipe(Effect.provide(registryLayer())))
})

describe("errors name the reference", () => {
  it.live("a missing repository and a missing tag", () =>
    Effect.gen(function*() {
      const registry = yield* Registry
      const repo = ref(`${env.registry}/test/does-not-exist:latest`)
      const missingRepo = yield* Effect.flip(registry.resolve(repo))
      expect(missingRepo.reason).toBe("NotFound")
      expect(missingRepo.message).toContain(repo.normalized)
      const tag = ref(`${env.registry}/test/busybox:no-such-tag`)
      const missingTag = yield* Effect.flip(registry.resolve(tag))
      expect(missingTag.reason).toBe("ManifestUnknown")
      expect(missingTag.message).toBe(`manifest unknown: ${tag.normalized}`)
    }).pipe(Effect.provide(registryLayer())))

  it.live("an unreachable registry (closed loopback port) fails quickly as recoverable Unreachable", () =>
    Effect.gen(function*() {
      const port = yield* Effect.async<number>((resume) => {
        const server = http.createServer().listen(0, "127.0.0.1", () => {
          const { port } = server.address() as AddressInfo
          server.close(() => resume(Effect.succeed(port)))
        })
      })
      const registry = yield* Registry
      const error = yield* Effect.flip(registry.resolve(ref(`127.0.0.1:${port}/test/busybox`)))
      expect(error.reason).toBe("Unreachable")
      expect(RegistryLayer.isRecoverable(error)).toBe(true)
      expect(error.message).toContain(`127.0.0.1:${port}`)
      expect(error.message).toContain("temporary")
    }).pipe(Effect.provide(registryLayer())))
})

describe(`basic-auth registry`, () => {
  const privateRef = () => ref(`${env.authRegistry}/test/private:latest`)

  const pullPrivate = (options?: RegistryLayer.RequestOptions) =>
    Effect.gen(function*() {
      const registry = yield* Registry
      const root = yield* registry.resolve(privateRef(), options)
      expect(root.mediaType).toBe(Manifest.MediaType.ociManifest)
      yield* pullManifest(privateRef(), root, options)
    })

  it.live("pulls with task-level credentials", () => pullPrivate({ auth: goodAuth }).pipe(Effect.provide(registryLayer())))

  it.live("pulls with driver-level credentials", () => pullPrivate().pipe(Effect.provide(registryLayer({ auth: goodAuth }))))

  it.live("task-level credentials override driver-level ones", () =>
    pullPrivate({ auth: goodAuth }).pipe(Effect.provide(registryLayer({ auth: userPass("nobody", "wrong") }))))

  it.live("wrong or missing credentials → Unauthorized naming the reference, without the password", () =>
    Effect.gen(function*() {
      const registry = yield* Registry
      const wrong = yield* Effect.flip(registry.resolve(privateRef(), { auth: userPass(env.registryUser, "not-the-password") }))
      expect(wrong.reason).toBe("Unauthorized")
      expect(wrong.message).toContain(`${PULL_ACCESS_DENIED}: ${privateRef().normalized}`)
      expect(wrong.message).not.toContain("not-the-password")
      expect(RegistryLayer.isRecoverable(wrong)).toBe(false)
      const none = yield* Effect.flip(registry.resolve(privateRef()))
      expect(none.reason).toBe("Unauthorized")
      expect(none.message).toContain(privateRef().normalized)
    }).pipe(Effect.provide(registryLayer())))

  describe("credentials from Docker config.json and credential helpers", () => {
    let dir = ""
    const originalPath = process.env["PATH"]
    const basic = Buffer.from(`${env.registryUser}:${env.registryPassword}`).toString("base64")

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "registry-credentials-"))
      // Answers only for the auth registry's server address, exactly as Docker's helpers are asked.
      const helper = join(dir, "docker-credential-testhelper")
      writeFileSync(
        helper,
        [
          "#!/bin/sh",
          "read -r server",
          `if [ "$server" != "${env.authRegistry}" ]; then echo "credentials not found in native keychain"; exit 1; fi`,
          `printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}\\n' "$server" '${env.registryUser}' '${env.registryPassword}'`
        ].join("\n") + "\n"
      )
      chmodSync(helper, 0o755)
      process.env["PATH"] = `${dir}:${originalPath ?? ""}`
    })
    afterAll(() => {
      process.env["PATH"] = originalPath
      rmSync(dir, { recursive: true, force: true })
    })

    const writeConfig = (name: string, document: unknown) => {
      const path = join(dir, name)
      writeFileSync(path, JSON.stringify(document))
      return path
    }

    it.live("auths entry with base64 auth keyed http://host:port", () =>
      pullPrivate().pipe(Effect.provide(registryLayer({
        dockerConfigPath: writeConfig("auth.json", { auths: { [`http://${env.authRegistry}`]: { auth: basic } } })
      }))))

    it.live("auths entry with username/password keyed host:port", () =>
      pullPrivate().pipe(Effect.provide(registryLayer({
        dockerConfigPath: writeConfig("fields.json", {
          auths: { [env.authRegistry]: { username: env.registryUser, password: env.registryPassword } }
        })
      }))))

    it.live("docker-credential-testhelper on PATH via credHelpers, credsStore and the driver helper option", () =>
      Effect.gen(function*() {
        yield* pullPrivate().pipe(Effect.provide(registryLayer({
          dockerConfigPath: writeConfig("helpers.json", { credHelpers: { [env.authRegistry]: "testhelper" } })
        })))
        yield* pullPrivate().pipe(Effect.provide(registryLayer({
          dockerConfigPath: writeConfig("store.json", { credsStore: "testhelper" })
        })))
        yield* pullPrivate().pipe(Effect.provide(registryLayer({ helper: "testhelper" })))
      }))

    it.live("a config entry for another registry does not help", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(pullPrivate().pipe(Effect.provide(registryLayer({
          dockerConfigPath: writeConfig("other.json", { auths: { "registry.example.com": { auth: basic } } })
        }))))
        expect(error.reason).toBe("Unauthorized")
      }))
  })
})

describe("redirects", () => {
  it.scopedLive("a blob redirect to another host does not carry the registry's Authorization", () =>
    Effect.gen(function*() {
      // storage: a second loopback host serving blobs (proxied from the real registry), recording headers
      const storage = yield* startFakeRegistry({ upstream: env.registry })
      // front: a Basic-auth registry proxying the real one, redirecting blob GETs to storage
      const front = yield* startFakeRegistry({
        auth: { kind: "basic", users: { [env.registryUser]: env.registryPassword } },
        upstream: env.registry,
        redirectBlobsTo: () => storage.url
      })
      const registry = yield* Registry
      const target = ref(`${front.host}/test/busybox:latest`)
      const root = yield* registry.resolve(target, { auth: goodAuth })
      yield* pullManifest(target, root, { auth: goodAuth })
      const frontBlobRequests = front.requests.filter((r) => r.path.includes("/blobs/"))
      expect(frontBlobRequests.length).toBeGreaterThanOrEqual(2)
      for (const request of frontBlobRequests) expect(request.headers.authorization).toMatch(/^Basic /)
      expect(storage.requests.length).toBe(frontBlobRequests.length)
      for (const request of storage.requests) {
        expect(request.path).toMatch(/^\/storage\/test\/busybox\/sha256:/)
        expect(request.headers.authorization).toBeUndefined()
      }
    }).pipe(Effect.provide(registryLayer())))
})
