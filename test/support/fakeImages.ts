/**
 * In-memory images and an in-memory Registry service for fast ImageStore tests: images are built from tar specs
 * (gzip'd layers, OCI config, manifest, optionally an index over several platforms); the registry serves them by
 * reference and digest, counts every call, and lets a test hold or break blob downloads.
 */
import { createHash } from "node:crypto"
import { Deferred, Effect, Layer, Option, Stream } from "effect"
import { Registry, RegistryError } from "../../layers/Registry.js"
import type { Descriptor, Platform } from "../../src/image/Manifest.js"
import { MediaType } from "../../src/image/Manifest.js"
import type { Reference } from "../../src/image/Reference.js"
import { PULL_ACCESS_DENIED } from "../../src/image/RegistryProtocol.js"
import * as ByteSource from "../../src/stream/ByteSource.js"
import { tar, tarGz, type TarSpec } from "./tarWriter.js"

export const sha256 = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

export interface FakeImage {
  /** Normalised reference it is served under. */
  readonly name: string
  readonly root: Descriptor
  readonly blobs: ReadonlyMap<string, Uint8Array>
  /** Layer blob digests of the host-platform manifest, bottom first, with their diff IDs. */
  readonly layers: ReadonlyArray<{ readonly digest: string; readonly diffId: string }>
  readonly configDigest: string
}

export interface ConfigFields {
  readonly Env?: ReadonlyArray<string>
  readonly Entrypoint?: ReadonlyArray<string> | null
  readonly Cmd?: ReadonlyArray<string> | null
  readonly WorkingDir?: string
  readonly User?: string
  readonly StopSignal?: string
  readonly Labels?: Readonly<Record<string, string>>
  readonly ExposedPorts?: Readonly<Record<string, object>>
}

const json = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value), "utf8")

const descriptorOf = (mediaType: string, bytes: Uint8Array): Descriptor => ({ mediaType, digest: sha256(bytes), size: bytes.length })

/** One platform's manifest with its config and layers; adds every blob to `blobs`. */
const platformManifest = (
  blobs: Map<string, Uint8Array>,
  layers: ReadonlyArray<ReadonlyArray<TarSpec>>,
  config: ConfigFields,
  platform: Platform
) => {
  const built = layers.map((specs) => {
    const raw = tar(specs)
    const gz = tarGz(specs)
    blobs.set(sha256(gz), gz)
    return { descriptor: descriptorOf("application/vnd.oci.image.layer.v1.tar+gzip", gz), diffId: sha256(raw) }
  })
  const configBytes = json({
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
    config,
    rootfs: { type: "layers", diff_ids: built.map((layer) => layer.diffId) }
  })
  blobs.set(sha256(configBytes), configBytes)
  const manifestBytes = json({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: descriptorOf(MediaType.ociConfig, configBytes),
    layers: built.map((layer) => layer.descriptor)
  })
  blobs.set(sha256(manifestBytes), manifestBytes)
  return {
    descriptor: descriptorOf(MediaType.ociManifest, manifestBytes),
    layers: built.map((layer) => ({ digest: layer.descriptor.digest, diffId: layer.diffId })),
    configDigest: sha256(configBytes)
  }
}

export const makeImage = (
  name: string,
  layers: ReadonlyArray<ReadonlyArray<TarSpec>>,
  config: ConfigFields,
  options: { readonly platform: Platform; readonly otherPlatforms?: ReadonlyArray<Platform> }
): FakeImage => {
  const blobs = new Map<string, Uint8Array>()
  const host = platformManifest(blobs, layers, config, options.platform)
  if (options.otherPlatforms === undefined) return { name, root: host.descriptor, blobs, layers: host.layers, configDigest: host.configDigest }
  const others = options.otherPlatforms.map((platform) =>
    ({ platform, manifest: platformManifest(blobs, [[{ path: "other", data: JSON.stringify(platform) }]], { Env: [`PLATFORM=${platform.architecture}`] }, platform) }))
  const indexBytes = json({
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      ...others.map(({ manifest, platform }) => ({ ...manifest.descriptor, platform })),
      { ...host.descriptor, platform: options.platform }
    ]
  })
  blobs.set(sha256(indexBytes), indexBytes)
  return { name, root: descriptorOf(MediaType.ociIndex, indexBytes), blobs, layers: host.layers, configDigest: host.configDigest }
}

export interface RegistryCalls {
  resolve: number
  fetchManifest: number
  fetchBlob: number
  /** Blob bytes actually streamed. */
  blobBytes: number
}

export interface FakeRegistryOptions {
  /** Size of the chunks blobs are streamed in (default 16 KiB). */
  readonly chunkSize?: number
  /** Run before each blob chunk is emitted (e.g. to hold a download on a Deferred). */
  readonly beforeChunk?: (digest: string, offset: number) => Effect.Effect<void>
  /** Fail resolving these normalised references as if the credentials were wrong. */
  readonly denied?: ReadonlyArray<string>
  /** Blobs sent with their first byte altered (same size, wrong digest), as a broken registry or proxy would. */
  readonly tampered?: ReadonlyArray<string>
}

export interface FakeRegistry {
  readonly layer: Layer.Layer<Registry>
  readonly calls: RegistryCalls
}

export const fakeRegistry = (images: ReadonlyArray<FakeImage>, options: FakeRegistryOptions = {}): FakeRegistry => {
  const calls: RegistryCalls = { resolve: 0, fetchManifest: 0, fetchBlob: 0, blobBytes: 0 }
  const chunkSize = options.chunkSize ?? 16 * 1024
  const byName = new Map(images.map((image) => [image.name, image]))
  const blob = (ref: Reference, digest: string) =>
    Option.fromNullable(byName.get(ref.normalized)?.blobs.get(digest))
  const fetchBlob = (ref: Reference, descriptor: Descriptor) =>
    Stream.suspend(() => {
      calls.fetchBlob++
      return Option.match(blob(ref, descriptor.digest), {
        onNone: () => Stream.fail(new RegistryError({ reason: "NotFound", message: `blob unknown: ${descriptor.digest}` })),
        onSome: (stored) => {
          const bytes = options.tampered?.includes(descriptor.digest) === true ?
            Buffer.concat([Buffer.from([stored[0]! ^ 0xff]), stored.subarray(1)]) :
            stored
          const offsets: Array<number> = []
          for (let offset = 0; offset < bytes.length; offset += chunkSize) offsets.push(offset)
          return Stream.fromIterable(offsets).pipe(
            Stream.mapEffect((offset) =>
              Effect.as(
                options.beforeChunk?.(descriptor.digest, offset) ?? Effect.void,
                bytes.subarray(offset, offset + chunkSize)
              )
            ),
            Stream.tap((chunk) => Effect.sync(() => { calls.blobBytes += chunk.length }))
          )
        }
      })
    })
  const service: Registry["Type"] = {
    resolve: (ref) =>
      Effect.suspend(() => {
        calls.resolve++
        if (options.denied?.includes(ref.normalized)) {
          return Effect.fail(new RegistryError({ reason: "Unauthorized", message: `${PULL_ACCESS_DENIED}: ${ref.normalized}` }))
        }
        const image = byName.get(ref.normalized)
        return image === undefined
          ? Effect.fail(new RegistryError({ reason: "ManifestUnknown", message: `manifest unknown: ${ref.normalized}` }))
          : Effect.succeed(image.root)
      }),
    fetchManifest: (ref, descriptor) =>
      Effect.suspend(() => {
        calls.fetchManifest++
        return Option.match(blob(ref, descriptor.digest), {
          onNone: () => Effect.fail(new RegistryError({ reason: "ManifestUnknown", message: `manifest unknown: ${descriptor.digest}` })),
          onSome: Effect.succeed
        })
      }),
    fetchBlob,
    blobSource: (ref, descriptor) => ByteSource.fromStream(fetchBlob(ref, descriptor))
  }
  return { layer: Layer.succeed(Registry, service), calls }
}

/** A gate: chunks wait until it is opened; `reached` completes when the first chunk waits on it. */
export const makeGate = Effect.gen(function*() {
  const open = yield* Deferred.make<void>()
  const reached = yield* Deferred.make<void>()
  return {
    wait: Effect.zipRight(Deferred.succeed(reached, undefined), Deferred.await(open)),
    reached: Deferred.await(reached),
    open: Deferred.succeed(open, undefined)
  }
})
