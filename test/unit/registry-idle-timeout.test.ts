// The blob idle timeout of the Registry client (a watchdog timer instead of a per-chunk stream timeout): a
// registry that stops sending fails the download, a consumer that is slower than the idle timeout (containerd busy
// writing) or a registry trickling bytes more slowly than a read piece does not.
import { it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
import { describe, expect } from "vitest"
import * as CredentialsLayer from "../../layers/Credentials.js"
import * as RegistryLayer from "../../layers/Registry.js"
import { Registry } from "../../layers/Registry.js"
import * as Reference from "../../src/image/Reference.js"
import { sha256, startFakeRegistry } from "../support/fakeRegistry.js"

const idle = "300 millis"
const registryLayer = RegistryLayer.layer({ idleTimeout: idle, requestTimeout: "5 seconds" }).pipe(
  Layer.provide(CredentialsLayer.layerAnonymous)
)

const blobServer = (content: Buffer, send: (res: import("node:http").ServerResponse) => void) =>
  startFakeRegistry({
    hook: (_req, res, route) => {
      if (route.kind !== "blobs") return false
      res.writeHead(200, { "content-length": content.length })
      send(res)
      return true
    }
  })

const descriptor = (content: Buffer) => ({ mediaType: "application/octet-stream", digest: sha256(content), size: content.length })

describe("Registry blob idle timeout", () => {
  it.scopedLive("a consumer slower than the idle timeout is not a stalled registry", () =>
    Effect.gen(function*() {
      const content = Buffer.alloc(3 << 20, 7)
      const fake = yield* blobServer(content, (res) => res.end(content))
      const registry = yield* Registry
      const target = Reference.parse(`${fake.host}/test/app:v1`).pipe((r) => (r._tag === "Right" ? r.right : undefined))!
      const pieces = yield* registry.fetchBlob(target, descriptor(content)).pipe(
        // Each batch of socket reads the stream delivers takes longer to consume than the idle timeout.
        Stream.mapChunksEffect((chunk) => Effect.as(Effect.sleep("700 millis"), chunk)),
        Stream.runCollect
      )
      expect(Buffer.concat(Chunk.toArray(pieces)).equals(content)).toBe(true)
    }).pipe(Effect.provide(registryLayer)), 20_000)

  it.scopedLive("a registry trickling bytes is not stalled; one that stops sending is, after one idle period", () =>
    Effect.gen(function*() {
      const content = Buffer.alloc(64 * 1024, 3)
      let timer: NodeJS.Timeout | undefined
      const trickle = yield* blobServer(content, (res) => {
        let offset = 0
        // 4 KiB every 100 ms: far less than the body's buffer, which never fills.
        timer = setInterval(() => {
          res.write(content.subarray(offset, offset + 4096))
          offset += 4096
          if (offset >= content.length) {
            clearInterval(timer)
            res.end()
          }
        }, 100)
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(timer)))
      const registry = yield* Registry
      const parse = (input: string) => Reference.parse(input).pipe((r) => (r._tag === "Right" ? r.right : undefined))!
      const pieces = yield* Stream.runCollect(registry.fetchBlob(parse(`${trickle.host}/test/app:v1`), descriptor(content)))
      expect(Buffer.concat(Chunk.toArray(pieces)).equals(content)).toBe(true)

      const stalls = yield* blobServer(content, (res) => res.write(content.subarray(0, 1000)))
      const error = yield* Effect.flip(Stream.runDrain(registry.fetchBlob(parse(`${stalls.host}/test/app:v1`), descriptor(content))))
      expect(error.reason).toBe("Timeout")
      expect(error.message).toContain("sent no data for 300ms")
    }).pipe(Effect.provide(registryLayer)), 20_000)
})
