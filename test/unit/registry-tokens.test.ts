/**
 * Bearer tokens as the client keeps them, against a loopback fake: one token per repository scope, reused;
 * renewed with the challenge that obtained it before a request once its expires_in has run out (not after a 401);
 * one token request shared by concurrent requests; a 401 with a new challenge mid-pull answered once.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Layer, Stream, TestClock } from "effect"
import * as CredentialsLayer from "../../layers/Credentials.js"
import * as RegistryLayer from "../../layers/Registry.js"
import { Registry, type RegistryError } from "../../layers/Registry.js"
import * as Reference from "../../src/image/Reference.js"
import { putSimpleImage, startFakeRegistry } from "../support/fakeRegistry.js"

const registryLayer = RegistryLayer.layer().pipe(Layer.provide(CredentialsLayer.layer({})))

const ref = (input: string) => Either.getOrThrowWith(Reference.parse(input), (e) => new Error(e.message))

const collect = (stream: Stream.Stream<Uint8Array, RegistryError>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(Chunk.toArray(chunks)))

const scopesOf = (path: string) => new URL(path, "http://x").searchParams.getAll("scope")

describe("Bearer tokens", () => {
  it.scopedLive("one token per repository scope, each reused for its repository", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry({ auth: { kind: "bearer" } })
      const one = putSimpleImage(fake, "team/one", "v1")
      const two = putSimpleImage(fake, "team/two", "v1")
      const registry = yield* Registry
      for (const [name, image] of [["team/one", one], ["team/two", two], ["team/one", one], ["team/two", two]] as const) {
        const target = ref(`${fake.host}/${name}:v1`)
        yield* registry.resolve(target)
        yield* collect(registry.fetchBlob(target, image.layer))
      }
      expect(fake.tokenRequests().map((r) => scopesOf(r.path))).toEqual([["repository:team/one:pull"], ["repository:team/two:pull"]])
    }).pipe(Effect.provide(registryLayer)))

  it.effect("an expired token is renewed before the next request, with the challenge that obtained it", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry({ auth: { kind: "bearer", expiresIn: 60 } })
      const image = putSimpleImage(fake, "team/app", "v1")
      const registry = yield* Registry
      const target = ref(`${fake.host}/team/app:v1`)
      yield* registry.resolve(target)
      yield* TestClock.adjust("61 seconds")
      yield* collect(registry.fetchBlob(target, image.layer))
      yield* TestClock.adjust("61 seconds")
      yield* registry.fetchManifest(target, image.manifest)
      expect(fake.tokenRequests()).toHaveLength(3)
      for (const request of fake.tokenRequests()) expect(scopesOf(request.path)).toEqual(["repository:team/app:pull"])
      const api = fake.requests.filter((r) => r.path.startsWith("/v2/"))
      // Only the very first request went without a token: the renewals came before the requests that needed them.
      expect(api.map((r) => r.headers.authorization === undefined)).toEqual([true, false, false, false])
      expect(new Set(api.slice(1).map((r) => r.headers.authorization)).size).toBe(3)
    }).pipe(Effect.provide(registryLayer), Effect.scoped))

  it.scopedLive("concurrent requests that all need a token share one token request", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry({ auth: { kind: "bearer" } })
      const images = [1, 2, 3, 4].map((n) => putSimpleImage(fake, "team/app", `v${n}`, `layer ${n}`))
      const registry = yield* Registry
      const target = ref(`${fake.host}/team/app:v1`)
      yield* Effect.forEach(images, (image) => collect(registry.fetchBlob(target, image.layer)), { concurrency: "unbounded" })
      expect(fake.tokenRequests()).toHaveLength(1)
    }).pipe(Effect.provide(registryLayer)))

  it.scopedLive("a 401 with a new challenge mid-pull gets one new token and the request again; a second 401 fails", () =>
    Effect.gen(function*() {
      const refused = new Set<string>()
      let refuseAll = false
      const fake = yield* startFakeRegistry({
        auth: { kind: "bearer" },
        hook: (req, res, route) => {
          const token = req.headers.authorization ?? ""
          // The registry revokes the first token it sees on a blob request (as after a key rotation), or all.
          if (route.kind !== "blobs" || !(refuseAll || refused.size === 0 || refused.has(token))) return false
          refused.add(token)
          res.writeHead(401, {
            "content-type": "application/json",
            "www-authenticate": `Bearer realm="${fake.url}/token",service="fake-registry",scope="repository:${route.repo}:pull",error="invalid_token"`
          }).end('{"errors":[{"code":"UNAUTHORIZED","message":"token revoked"}]}')
          return true
        }
      })
      const image = putSimpleImage(fake, "team/app", "v1", "x".repeat(1_000))
      const registry = yield* Registry
      const target = ref(`${fake.host}/team/app:v1`)
      yield* registry.resolve(target)
      const bytes = yield* collect(registry.fetchBlob(target, image.layer))
      expect(bytes.length).toBe(1_000)
      expect(fake.tokenRequests()).toHaveLength(2)
      const blobRequests = () => fake.requests.filter((r) => r.path.includes("/blobs/"))
      expect(blobRequests()).toHaveLength(2)

      refuseAll = true
      const error = yield* Effect.flip(collect(registry.fetchBlob(target, image.layer)))
      expect(error.reason).toBe("Unauthorized")
      expect(error.message).toContain("token revoked")
      expect(blobRequests()).toHaveLength(4)
      expect(fake.tokenRequests()).toHaveLength(3)
    }).pipe(Effect.provide(registryLayer)))

  it.scopedLive("a pull still running on a client whose layer was closed (a config change meanwhile) still gets its token", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry({ auth: { kind: "bearer" } })
      putSimpleImage(fake, "team/app", "v1")
      // Providing the layer to this one effect closes it right after: the service outlives its layer.
      const registry = yield* Effect.provide(Registry, registryLayer)
      const descriptor = yield* registry.resolve(ref(`${fake.host}/team/app:v1`)).pipe(Effect.timeout("10 seconds"))
      expect(descriptor.mediaType).toContain("manifest")
      expect(fake.tokenRequests()).toHaveLength(1)
    }))
})
