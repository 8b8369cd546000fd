/**
 * The Registry client against registries and token services that misbehave on purpose (issue 8): a token with
 * CR/LF, a Bearer realm on plain HTTP at another host, a body shorter than its Content-Length, a blob that stops
 * flowing, media types that cannot be repeated in a header. Every case ends in a RegistryError, never a crash, and
 * credentials never leave for a host they must not reach.
 */
import { PassThrough } from "node:stream"
import type * as http from "node:http"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Either, Exit, Fiber, Layer, Option, Redacted, Stream } from "effect"
import { afterEach, vi } from "vitest"
import * as CredentialsLayer from "../../layers/Credentials.js"
import { pipeBody } from "../../layers/registry/pipeBody.js"
import * as RegistryLayer from "../../layers/Registry.js"
import { Registry, RegistryError } from "../../layers/Registry.js"
import * as Reference from "../../src/image/Reference.js"
import type { ByteSink } from "../../src/stream/ByteSource.js"
import { putSimpleImage, sha256, startFakeRegistry, startServer } from "../support/fakeRegistry.js"

const ref = (input: string) => Either.getOrThrowWith(Reference.parse(input), (e) => new Error(e.message))

const registryLayer = (credentials: CredentialsLayer.CredentialsConfig = {}, config: RegistryLayer.RegistryConfig = {}) =>
  RegistryLayer.layer(config).pipe(Layer.provide(CredentialsLayer.layer(credentials)))

const driverCredentials = { auth: { username: "driver", password: Redacted.make("s3cret") } }

/** A registry whose every API request is answered 401 with a Bearer challenge naming `realm`. */
const challengingRegistry = (realm: () => string) =>
  startServer((_req, res) => {
    res.writeHead(401, { "www-authenticate": `Bearer realm="${realm()}",service="hostile"`, "content-type": "application/json" })
    res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }))
  })

describe("token answers that cannot become a header (issue 8, item 2)", () => {
  it.scopedLive("a token with CR/LF fails as a registry error naming the token service, and is never sent", () =>
    Effect.gen(function*() {
      const tokens = yield* startServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ token: "abc\r\nX-Injected: yes" }))
      })
      const registry = yield* challengingRegistry(() => `${tokens.url}/token`)
      const client = yield* Registry
      const exit = yield* Effect.exit(client.resolve(ref(`${registry.host}/team/app:1`)))
      expect(Exit.isFailure(exit) && Cause.isFailType(exit.cause)).toBe(true)
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
      expect(error?._tag === "Some" && error.value).toBeInstanceOf(RegistryError)
      if (error?._tag !== "Some") return
      expect(error.value.reason).toBe("Protocol")
      expect(error.value.message).toContain(`token service ${tokens.host}`)
      expect(error.value.message).toContain("cannot be sent in an HTTP header")
      // The registry saw only the first, unauthenticated request.
      expect(registry.requests.map((r) => r.headers.authorization)).toEqual([undefined])
    }).pipe(Effect.provide(registryLayer())))

  it.scopedLive("tokens with spaces, NUL or non-ASCII characters are refused the same way", () =>
    Effect.gen(function*() {
      let token = ""
      const tokens = yield* startServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ access_token: token }))
      })
      const registry = yield* challengingRegistry(() => `${tokens.url}/token`)
      const client = yield* Registry
      for (const bad of ["two words", "nul\u0000byte", "caf\u00e9", "tab\there"]) {
        token = bad
        const error = yield* Effect.flip(client.resolve(ref(`${registry.host}/team/app:1`)))
        expect(error.reason).toBe("Protocol")
        expect(error.message).toContain("cannot be sent in an HTTP header")
      }
      expect(registry.requests.every((r) => r.headers.authorization === undefined)).toBe(true)
    }).pipe(Effect.provide(registryLayer())))

  it.scopedLive("a media type with CR/LF from a manifest is not repeated in the Accept header", () =>
    Effect.gen(function*() {
      const fake = yield* startFakeRegistry()
      const image = putSimpleImage(fake, "team/app", "1", "layer bytes")
      const client = yield* Registry
      const hostile = { ...image.layer, mediaType: "application/x\r\nX-Injected: yes" }
      const bytes = yield* Stream.runCollect(client.fetchBlob(ref(`${fake.host}/team/app:1`), hostile))
      expect(Buffer.concat(Chunk.toArray(bytes)).toString()).toBe("layer bytes")
      const blobRequest = fake.requests.find((r) => r.path.includes("/blobs/"))
      expect(blobRequest?.headers.accept).toBe("*/*")
      expect(blobRequest?.headers["x-injected"]).toBeUndefined()
    }).pipe(Effect.provide(registryLayer())))
})

describe("references the client cannot address (issue 8, item 3)", () => {
  it.effect("a reference built with an out-of-range port fails as a registry error, not a crash", () =>
    Effect.gen(function*() {
      const client = yield* Registry
      for (const domain of ["localhost:99999", "localhost:65536", "[:::::]:5000"]) {
        const exit = yield* Effect.exit(client.resolve(Reference.make({ domain, path: "x", tag: "latest" })))
        expect(Exit.isFailure(exit) && Cause.isFailType(exit.cause)).toBe(true)
        const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
        expect(error?._tag === "Some" && error.value.message).toContain("is not a usable registry host")
      }
    }).pipe(Effect.scoped, Effect.provide(registryLayer())))
})

describe("credentials over plain HTTP (issue 8, item 4)", () => {
  // 0.0.0.0 reaches this machine's listeners on Linux, yet is neither a loopback name nor a loopback address: it
  // stands for "another host" without any traffic leaving the machine.
  it.scopedLive("a plain-HTTP realm at another host gets no credentials; the pull fails naming the rule", () =>
    Effect.gen(function*() {
      const tokens = yield* startServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ token: "stolen" }))
      })
      const port = tokens.host.split(":")[1]!
      const registry = yield* challengingRegistry(() => `http://0.0.0.0:${port}/token`)
      const client = yield* Registry
      const error = yield* Effect.flip(client.resolve(ref(`${registry.host}/team/app:1`)))
      expect(error.reason).toBe("Protocol")
      expect(error.message).toContain(`sent a token realm over plain HTTP (0.0.0.0:${port})`)
      expect(error.message).toContain("insecure_registries")
      expect(error.message).not.toContain("s3cret")
      expect(tokens.requests).toEqual([])
    }).pipe(Effect.provide(registryLayer(driverCredentials))))

  it.scopedLive("the same realm gets them once the operator lists its host in insecure_registries", () =>
    Effect.gen(function*() {
      const tokens = yield* startServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ token: "fine" }))
      })
      const port = tokens.host.split(":")[1]!
      const registry = yield* challengingRegistry(() => `http://0.0.0.0:${port}/token`)
      const client = yield* Registry
      // The registry keeps answering 401, so the pull still fails, but after asking the listed token service.
      const error = yield* Effect.flip(client.resolve(ref(`${registry.host}/team/app:1`)))
      expect(error.reason).toBe("Unauthorized")
      expect(tokens.requests).toHaveLength(1)
      expect(tokens.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from("driver:s3cret").toString("base64")}`)
    }).pipe(Effect.provide(registryLayer(driverCredentials, { insecureRegistries: ["0.0.0.0"] }))))

  it.scopedLive("without credentials an anonymous token may still be fetched from a plain-HTTP realm", () =>
    Effect.gen(function*() {
      const tokens = yield* startServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ token: "anonymous" }))
      })
      const port = tokens.host.split(":")[1]!
      const registry = yield* challengingRegistry(() => `http://0.0.0.0:${port}/token`)
      const client = yield* Registry
      yield* Effect.flip(client.resolve(ref(`${registry.host}/team/app:1`)))
      expect(tokens.requests).toHaveLength(1)
      expect(tokens.requests[0]?.headers.authorization).toBeUndefined()
    }).pipe(Effect.provide(registryLayer())))
})

describe("bodies shorter than announced (issue 8, item 6)", () => {
  /** Answers with `Content-Length: announced`, sends `sent` bytes, then drops the connection. */
  const shortBody = (announced: number, sent: Buffer) =>
    startFakeRegistry({
      hook: (_req, res) => {
        res.writeHead(200, { "content-length": announced, "content-type": "application/vnd.oci.image.manifest.v1+json" })
        res.write(sent)
        setTimeout(() => res.socket?.destroy(), 20)
        return true
      }
    })

  it.scopedLive("a Content-Length other than the descriptor's size is reported as announced, with both numbers", () =>
    Effect.gen(function*() {
      const content = Buffer.alloc(93, 1)
      const fake = yield* shortBody(1093, content)
      const client = yield* Registry
      const target = ref(`${fake.host}/team/app:1`)
      const descriptor = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(content), size: 93 }
      const subject = `${target.name}@${descriptor.digest}`
      const expected = `registry announced 1093 bytes (Content-Length) for ${subject}, whose descriptor says 93 bytes`
      const blob = yield* Effect.flip(Stream.runDrain(client.fetchBlob(target, descriptor)))
      expect(blob.reason).toBe("DigestMismatch")
      expect(blob.message).toBe(expected)
      const manifest = yield* Effect.flip(client.fetchManifest(target, descriptor))
      expect(manifest.message).toBe(expected)
    }).pipe(Effect.provide(registryLayer())))

  it.scopedLive("a connection closed early says how many of the expected bytes arrived", () =>
    Effect.gen(function*() {
      const content = Buffer.alloc(1093, 1)
      const fake = yield* shortBody(1093, content.subarray(0, 93))
      const client = yield* Registry
      const descriptor = { mediaType: "application/octet-stream", digest: sha256(content), size: 1093 }
      const error = yield* Effect.flip(Stream.runDrain(client.fetchBlob(ref(`${fake.host}/team/app:1`), descriptor)))
      expect(error.reason).toBe("Unreachable")
      expect(error.message).toContain("after 93 of 1093 bytes")
    }).pipe(Effect.provide(registryLayer())))
})

describe("the blob idle timeout (issue 8, item 5)", () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  const sink: ByteSink = { write: () => true, onDrain: () => {} }

  it("fires one idle period after the last byte, as its message says (logical time)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] })
    const body = Object.assign(new PassThrough(), { complete: false }) as unknown as http.IncomingMessage
    const fiber = Effect.runFork(pipeBody(body, sink, {
      idleMillis: 1000,
      check: () => undefined,
      atEnd: () => undefined,
      onTransportError: () => "transport" as const,
      onStall: () => "stall" as const
    }))
    await vi.advanceTimersByTimeAsync(500)
    body.emit("data", Buffer.from("some bytes"))
    // 999 ms after the last byte: still waiting.
    await vi.advanceTimersByTimeAsync(999)
    expect(fiber.unsafePoll()).toBeNull()
    // One idle period after the last byte: stalled (before the fix: only at 2000 ms, two periods after the start).
    await vi.advanceTimersByTimeAsync(1)
    const exit = fiber.unsafePoll()
    expect(exit !== null && Exit.isFailure(exit) && Option.getOrUndefined(Cause.failureOption(exit.cause))).toBe("stall")
    await Effect.runPromise(Fiber.interrupt(fiber))
  })

  it("a body paused for a slow sink is not a stall", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] })
    const body = Object.assign(new PassThrough(), { complete: false }) as unknown as http.IncomingMessage
    let drain: (() => void) | undefined
    const slowSink: ByteSink = { write: () => false, onDrain: (resume) => (drain = resume) }
    const fiber = Effect.runFork(pipeBody(body, slowSink, {
      idleMillis: 1000,
      check: () => undefined,
      atEnd: () => undefined,
      onTransportError: () => "transport" as const,
      onStall: () => "stall" as const
    }))
    body.emit("data", Buffer.from("bytes"))
    await vi.advanceTimersByTimeAsync(5000)
    expect(fiber.unsafePoll()).toBeNull()
    drain?.()
    await vi.advanceTimersByTimeAsync(1000)
    const exit = fiber.unsafePoll()
    expect(exit !== null && Exit.isFailure(exit) && Option.getOrUndefined(Cause.failureOption(exit.cause))).toBe("stall")
  })
})
