/**
 * The Registry client against the real token-protected registry of the test environment (docker-registry with
 * `auth.token`, and test/support/tokenService.mjs signing its JWTs), behind a recording HTTPS proxy: a token that
 * runs out during a long pull is renewed before the next request — the registry never sees the password, a
 * request without a token only once, and a new token after the pause. Needs `scripts/test-env.sh up`.
 */
import * as fs from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Either, Layer, Redacted, Stream } from "effect"
import * as CredentialsLayer from "../../layers/Credentials.js"
import * as RegistryLayer from "../../layers/Registry.js"
import { Registry } from "../../layers/Registry.js"
import * as Manifest from "../../src/image/Manifest.js"
import * as Reference from "../../src/image/Reference.js"
import { probeAccount, recordingProxy, scratchHostsDir, tlsEnv, tokenRequests } from "../support/tlsRegistries.js"

const ref = (input: string) => Either.getOrThrowWith(Reference.parse(input), (e) => new Error(e.message))

describe("a long pull from the token registry", () => {
  it.live("renews a token that runs out during the pull before the next request, and never shows the registry the password", () =>
    Effect.gen(function*() {
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => recordingProxy(tlsEnv.tokenRegistry)), (p) => Effect.promise(p.close))
      const hostsDir = yield* Effect.acquireRelease(
        Effect.sync(() => scratchHostsDir({ [proxy.host]: `server = "https://${proxy.host}"\nca = "${tlsEnv.ca}"\n` })),
        (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
      )
      // Tokens of this account live 2 seconds.
      const account = probeAccount(2)
      const auth = { username: account, password: Redacted.make(tlsEnv.password) }
      const registry = Context.get(
        yield* Layer.build(RegistryLayer.layer({ hostsDir }).pipe(Layer.provide(CredentialsLayer.layer({})))),
        Registry
      )
      const target = ref(`${proxy.host}/test/big:latest`)
      const descriptor = yield* registry.resolve(target, { auth })
      const manifest = Either.getOrThrow(Manifest.decodeManifest(yield* registry.fetchManifest(target, descriptor, { auth }), descriptor))
      const [, slow, next] = manifest.layers
      // The consumer of a 30 MB layer stops for longer than the token lives, as a slow disk or network would.
      let paused = false
      yield* Stream.runForEach(registry.fetchBlob(target, slow!, { auth }), () =>
        paused ? Effect.void : Effect.zipRight(Effect.sync(() => (paused = true)), Effect.sleep("2500 millis")))
      yield* Stream.runDrain(registry.fetchBlob(target, next!, { auth }))

      const tokens = yield* Effect.promise(() => tokenRequests(account))
      expect(tokens.map((t) => [t.scopes, t.credentials, t.valid])).toEqual([
        [["repository:test/big:pull"], "basic", true],
        [["repository:test/big:pull"], "basic", true]
      ])
      const api = proxy.requests.filter((r) => r.path.startsWith("/v2/test/big/"))
      expect(api.map((r) => r.authorization === undefined)).toEqual([true, false, false, false, false])
      const bearer = api.map((r) => r.authorization)
      // The request after the pause carried a new token: the old one was not sent after it ran out.
      expect(bearer[4]).not.toBe(bearer[3])
      expect(new Set(bearer.slice(1, 4)).size).toBe(1)
      const basic = Buffer.from(`${account}:${tlsEnv.password}`).toString("base64")
      for (const request of proxy.requests) {
        expect(request.authorization ?? "").not.toContain(basic)
        expect(request.authorization ?? "").not.toContain(tlsEnv.password)
      }
    }).pipe(Effect.scoped), 60_000)
})
