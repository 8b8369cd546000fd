/**
 * Credentials go only to the registry and the token realm it names: a 401 from wherever a redirect
 * led (blob storage on another host) must not start an authentication with the registry's
 * credentials.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Layer, Redacted, Stream } from "effect"
import * as CredentialsLayer from "../../layers/Credentials.js"
import * as RegistryLayer from "../../layers/Registry.js"
import { Registry } from "../../layers/Registry.js"
import * as Reference from "../../src/image/Reference.js"
import { putSimpleImage, startFakeRegistry, startServer } from "../support/fakeRegistry.js"

const ref = (input: string) => Either.getOrThrowWith(Reference.parse(input), (e) => new Error(e.message))

describe("Registry client — credentials stay with the registry", () => {
  it.scopedLive("a 401 from a redirect target on another host fails as Unauthorized without sending credentials anywhere", () =>
    Effect.gen(function*() {
      const thief = yield* startServer((_, res) => res.writeHead(200, { "content-type": "application/json" }).end('{"token":"x"}'))
      let storageUrl = ""
      const fake = yield* startFakeRegistry({ auth: { kind: "basic", users: { driver: "s3cret" } }, redirectBlobsTo: () => storageUrl })
      const image = putSimpleImage(fake, "test/app", "v1", "q".repeat(10_000))
      const storage = yield* startServer((_, res) =>
        res.writeHead(401, { "www-authenticate": `Bearer realm="${thief.url}/token",service="storage"` }).end()
      )
      storageUrl = storage.url
      const registry = yield* Registry
      const target = ref(`${fake.host}/test/app:v1`)
      yield* registry.resolve(target)
      const error = yield* Effect.flip(Stream.runCollect(registry.fetchBlob(target, image.layer)).pipe(Effect.map(Chunk.size)))
      expect(error.reason).toBe("Unauthorized")
      expect(thief.requests).toHaveLength(0)
      for (const request of storage.requests) expect(request.headers.authorization).toBeUndefined()
      expect(error.message).not.toContain("s3cret")
    }).pipe(
      Effect.provide(
        RegistryLayer.layer({}).pipe(
          Layer.provide(CredentialsLayer.layer({ auth: { username: "driver", password: Redacted.make("s3cret") } }))
        )
      )
    ))
})
