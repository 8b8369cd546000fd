/**
 * A registry's 401 says what to do about it: "no credentials were sent" when none were configured, "refused the
 * credentials" when some were sent and turned down — for Basic registries and for Bearer token services alike.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Redacted } from "effect"
import * as CredentialsLayer from "../../layers/Credentials.js"
import * as RegistryLayer from "../../layers/Registry.js"
import { Registry } from "../../layers/Registry.js"
import * as Reference from "../../src/image/Reference.js"
import { putSimpleImage, startFakeRegistry } from "../support/fakeRegistry.js"

const registryLayer = RegistryLayer.layer({}).pipe(Layer.provide(CredentialsLayer.layer({})))

const ref = (input: string) => Either.getOrThrowWith(Reference.parse(input), (e) => new Error(e.message))

const auth = (username: string, password: string) => ({ username, password: Redacted.make(password) })

const denied = "pull access denied, repository does not exist or may require authorization"

describe("Registry 401 messages", () => {
  for (const kind of ["basic", "bearer"] as const) {
    it.scopedLive(`${kind}: no credentials and a wrong password give different messages, neither revealing the password`, () =>
      Effect.gen(function*() {
        const fake = yield* startFakeRegistry({
          auth: kind === "basic" ? { kind, users: { alice: "wonder" } } : { kind, users: { alice: "wonder" }, requireCredentials: true }
        })
        putSimpleImage(fake, "team/app", "v1")
        const registry = yield* Registry
        const target = ref(`${fake.host}/team/app:v1`)
        yield* registry.resolve(target, { auth: auth("alice", "wonder") })

        const none = yield* Effect.flip(registry.resolve(target))
        expect(none.reason).toBe("Unauthorized")
        expect(none.message).toContain(`${denied}: ${fake.host}/team/app:v1`)
        expect(none.message).toContain(`no credentials were sent to ${fake.host}, which asks for them (HTTP 401)`)
        expect(none.message).toContain("task's auth block")
        expect(none.message).not.toContain("refused")

        const wrong = yield* Effect.flip(registry.resolve(target, { auth: auth("alice", "s3cret-guess") }))
        expect(wrong.reason).toBe("Unauthorized")
        expect(wrong.message).toContain(`${denied}: ${fake.host}/team/app:v1`)
        expect(wrong.message).toContain(`${fake.host} refused the credentials sent for user "alice" (HTTP 401)`)
        expect(wrong.message).toContain("check the user name and password")
        expect(wrong.message).not.toContain("no credentials were sent")
        expect(wrong.message).not.toContain("s3cret-guess")
      }).pipe(Effect.provide(registryLayer)))
  }
})
