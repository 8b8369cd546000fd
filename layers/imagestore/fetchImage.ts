/**
 * The registry half of a pull (as containerd/containerd pull.go and unpacker.go do it), run inside one lease
 * from the resolved root descriptor: walk index → platform manifest → config, store each document with the GC
 * labels of its children and the distribution source, then download the layers (a few at a time) while
 * unpacking them bottom-up as soon as each one is in the content store, label the config with the snapshot
 * chain, and create or update the image record last. Blobs already in the content store are not downloaded
 * again (documents are read from there), except in a forced pull, which downloads every blob and checks its
 * digest.
 */
import { Chunk, Deferred, type Duration, Effect, Either, Option, Schedule, Stream } from "effect"
import type { ContainerdError, ContainerdService } from "../Containerd.js"
import type { Registry, RequestOptions } from "../Registry.js"
import { childLabels, distributionSource, snapshotLabel } from "../../src/image/GcLabels.js"
import * as Image from "../../src/image/Image.js"
import * as ImageConfig from "../../src/image/ImageConfig.js"
import * as Manifest from "../../src/image/Manifest.js"
import * as Platform from "../../src/image/Platform.js"
import type { Reference } from "../../src/image/Reference.js"
import { RegistryError } from "../../src/image/RegistryProtocol.js"
import * as ByteSource from "../../src/stream/ByteSource.js"
import { addLabels, info, protect, readAll, storeBlob } from "./contentStore.js"
import {
  failure,
  fromConfigError,
  fromManifestError,
  fromRegistryError,
  type ImageStoreError
} from "./ImageStoreError.js"
import { MAX_INDEX_DEPTH } from "./localImage.js"
import type { ProgressTracker } from "./Progress.js"
import { unpack } from "./unpack.js"

export interface FetchContext {
  readonly containerd: ContainerdService
  readonly registry: Registry["Type"]
  /** The image as the user wrote it (for messages). */
  readonly image: string
  /** The canonical reference (also the record name, `ref.normalized`). */
  readonly ref: Reference
  /** What the registry resolved `ref` to (index or manifest). */
  readonly target: Manifest.Descriptor
  readonly request: RequestOptions
  /** `force_pull`: download blobs already present too, checking their digests, instead of trusting the store. */
  readonly force: boolean
  readonly snapshotter: string
  readonly platform: Platform.Platform
  readonly leaseId: string
  readonly maxConcurrentDownloads: number
  /** Deadline of reading a document back from the content store. */
  readonly readTimeout: Duration.Duration
  readonly progress: ProgressTracker
}

/**
 * Most layers an image may have. The Linux overlay filesystem stacks at most 500 lower directories (OVL_MAX_STACK
 * in fs/overlayfs), so containerd's overlayfs snapshotter cannot mount an image with more; Docker refuses more than
 * 125 (maxLayerDepth in moby's layer/layer_store.go, kept from graph drivers limited to 127). The larger bound refuses
 * no image containerd could run, and stops an absurd manifest before any layer is fetched.
 */
export const MAX_LAYERS = 500

/** Image configs are small JSON documents (kilobytes); a larger one is not read into memory. */
export const MAX_CONFIG_BYTES = 8 << 20

const imageConfigTypes = new Set<string>([Manifest.MediaType.ociConfig, Manifest.MediaType.dockerConfig])

/**
 * A blob whose download a registry answers with 429 or 5xx, or refuses or drops, is asked for twice more (after
 * 0.2 s and 0.4 s), as the manifest is (layers/ImageStore.ts): one failed request must not fail the task's start. A
 * failed Content.Write aborts its ingest, so each attempt starts afresh.
 */
const transientRetry = Schedule.exponential("200 millis", 2).pipe(Schedule.intersect(Schedule.recurs(2)))
const isTransient = (error: unknown): boolean => error instanceof RegistryError && error.reason === "Unreachable"

export const fetchImage = (ctx: FetchContext): Effect.Effect<Image.Image, ImageStoreError | ContainerdError> =>
  Effect.gen(function*() {
    const { containerd, progress, ref, registry } = ctx
    const fromRegistry = (error: RegistryError) => fromRegistryError(ctx.image, error)
    const source = (existing: Readonly<Record<string, string>>) => distributionSource(ref.domain, ref.path, existing)

    /** A small document (index, manifest, config): from the content store if present, else from the registry. */
    const document = <A>(
      descriptor: Manifest.Descriptor,
      kind: "index" | "manifest" | "config",
      decode: (bytes: Uint8Array) => Either.Either<A, ImageStoreError>,
      children: (value: A) => Readonly<Record<string, string>>
    ) =>
      Effect.gen(function*() {
        // Held by the lease before it is looked at: a blob left unreferenced (by a failed pull) that containerd's
        // garbage collector removes after the look would otherwise be read, or relied on, when gone.
        yield* protect(containerd, ctx.leaseId, { id: descriptor.digest, type: "content" })
        const existing = ctx.force ? Option.none() : yield* info(containerd, descriptor.digest)
        if (Option.isSome(existing)) {
          const bytes = yield* readAll(containerd, descriptor.digest, ctx.readTimeout)
          const value = yield* decode(bytes)
          const labels = { ...children(value), ...source(existing.value.labels) }
          yield* addLabels(containerd, descriptor.digest, existing.value.labels, labels)
          return value
        }
        const bytes = kind === "config" ?
          yield* Stream.runCollect(registry.fetchBlob(ref, descriptor, ctx.request)).pipe(
            Effect.retry({ while: isTransient, schedule: transientRetry }),
            Effect.map((chunks) => Buffer.concat(Chunk.toArray(chunks))),
            Effect.mapError(fromRegistry)
          ) :
          yield* registry.fetchManifest(ref, descriptor, ctx.request).pipe(
            Effect.retry({ while: isTransient, schedule: transientRetry }),
            Effect.mapError(fromRegistry)
          )
        const value = yield* decode(bytes)
        yield* storeBlob(containerd, {
          descriptor,
          kind,
          labels: (current) => ({ ...children(value), ...source(current) }),
          leaseId: ctx.leaseId,
          data: Stream.make(bytes)
        })
        return value
      })

    const { target } = ctx
    let descriptor = target
    for (let depth = 0; Manifest.isIndex(descriptor.mediaType); depth++) {
      if (depth >= MAX_INDEX_DEPTH) {
        return yield* failure("pull", ctx.image, "Unsupported", `${ref.normalized} nests indexes more than ${MAX_INDEX_DEPTH} deep`)
      }
      const current = descriptor
      const index = yield* document(
        current,
        "index",
        (bytes) => Either.mapLeft(Manifest.decodeIndex(bytes, current), (e) => fromManifestError(ctx.image, e)),
        (value) => childLabels(value.manifests)
      )
      const selected = Platform.selectManifest(index, ctx.platform)
      if (Option.isNone(selected)) {
        const offered = Platform.offered(index)
        return yield* failure(
          "pull",
          ctx.image,
          "Unsupported",
          `no image for platform ${Platform.format(ctx.platform)} in ${ref.normalized}` +
            (offered.length > 0 ? ` (it offers ${offered.join(", ")})` : "")
        )
      }
      descriptor = selected.value
    }
    if (!Manifest.isManifest(descriptor.mediaType)) {
      return yield* failure("pull", ctx.image, "Unsupported", `${ref.normalized} is not a container image (media type ${descriptor.mediaType})`)
    }
    const manifestDescriptor = descriptor
    const manifest = yield* document(
      manifestDescriptor,
      "manifest",
      (bytes) => Either.mapLeft(Manifest.decodeManifest(bytes, manifestDescriptor), (e) => fromManifestError(ctx.image, e)),
      (value) => childLabels([value.config, ...value.layers])
    )
    if (!imageConfigTypes.has(manifest.config.mediaType)) {
      return yield* failure(
        "pull",
        ctx.image,
        "Unsupported",
        `${ref.normalized} is not a container image (config media type ${manifest.config.mediaType})`
      )
    }
    const { layers } = manifest
    if (layers.length > MAX_LAYERS) {
      return yield* failure(
        "pull",
        ctx.image,
        "Unsupported",
        `${ref.normalized} has ${layers.length} layers; at most ${MAX_LAYERS} are accepted (containerd's overlayfs ` +
          "snapshotter cannot mount more)"
      )
    }
    if (manifest.config.size > MAX_CONFIG_BYTES) {
      return yield* failure(
        "pull",
        ctx.image,
        "Unsupported",
        `the config of ${ref.normalized} is ${manifest.config.size} bytes; at most ${MAX_CONFIG_BYTES} are accepted`
      )
    }
    const config = yield* document(
      manifest.config,
      "config",
      (bytes) => Either.mapLeft(ImageConfig.decode(bytes, manifest.config.digest), (e) => fromConfigError("pull", ctx.image, e)),
      () => ({})
    )
    if (layers.length === 0 || config.diffIds.length !== layers.length) {
      return yield* failure(
        "pull",
        ctx.image,
        "Corrupt",
        `${ref.normalized} has ${layers.length} layers but its config lists ${config.diffIds.length} diff IDs`
      )
    }
    const image = Image.make({
      name: ref.normalized,
      target,
      manifest: manifestDescriptor,
      layers,
      config: manifest.config,
      document: config,
      snapshotter: ctx.snapshotter
    })

    // Layers: download a few at a time; unpack each as soon as it and the ones below it are stored.
    yield* progress.layers(layers)
    yield* progress.phase("fetch")
    const stored = yield* Effect.forEach(layers, () => Deferred.make<void>())
    /** Forced pull of a blob already present: downloaded again, its digest checked, the bytes dropped (same digest). */
    const verifyPresent = (layer: Manifest.Descriptor, index: number) =>
      Effect.zipRight(
        progress.fetch(index, "downloading"),
        Stream.runForEach(registry.fetchBlob(ref, layer, ctx.request), (chunk) => progress.bytes(index, chunk.byteLength))
      )
    const fetchLayers = Effect.forEach(
      layers,
      (layer, index) =>
        storeBlob(containerd, {
          descriptor: layer,
          kind: "layer",
          labels: source,
          leaseId: ctx.leaseId,
          // Pushed from the socket into Content.Write; containerd checks the digest when the blob is committed, so
          // it is not hashed here too.
          data: ByteSource.make((sink) =>
            Effect.zipRight(
              progress.fetch(index, "downloading"),
              registry.blobSource(ref, layer, { ...ctx.request, verifyDigest: false }).pipe(sink)
            )
          ),
          onWritten: (bytes) => progress.bytes(index, bytes),
          onPresent: ctx.force ? verifyPresent(layer, index) : progress.fetch(index, "present"),
          onLocked: progress.fetch(index, "blocked")
        }).pipe(
          Effect.retry({ while: isTransient, schedule: transientRetry }),
          Effect.mapError((error) =>
            error._tag === "RegistryError" ?
              fromRegistry(error) :
              isCommitMismatch(error) ?
              failure(
                "pull",
                ctx.image,
                "Corrupt",
                `content of ${ref.name}@${layer.digest} from the registry does not match its digest (${error.detail})`,
                { error }
              ) :
              error
          ),
          Effect.tap((written) => progress.fetch(index, written || ctx.force ? "downloaded" : "present")),
          Effect.zipRight(Deferred.succeed(stored[index]!, undefined))
        ),
      { concurrency: ctx.maxConcurrentDownloads, discard: true }
    ).pipe(Effect.zipRight(progress.phase("unpack")))
    const unpackLayers = unpack(containerd, {
      image: ctx.image,
      snapshotter: ctx.snapshotter,
      leaseId: ctx.leaseId,
      layers,
      diffIds: image.diffIds,
      chainIds: ImageConfig.chainIds(image.diffIds),
      layerReady: (index) => Deferred.await(stored[index]!),
      progress
    })
    yield* Effect.all([fetchLayers, unpackLayers], { concurrency: "unbounded", discard: true })

    yield* labelSnapshot(containerd, image)
    yield* putRecord(containerd, image)
    yield* progress.phase("done")
    return image
  })

/** containerd refused to commit a blob whose bytes do not match the expected digest or size. */
const isCommitMismatch = (error: ImageStoreError | ContainerdError): error is ContainerdError =>
  error._tag === "ContainerdError" && error.reason === "FailedPrecondition" && error.method === "Content.Write"

/** The config keeps the unpacked chain alive: `containerd.io/gc.ref.snapshot.<snapshotter>` = top chain ID. */
export const labelSnapshot = (containerd: ContainerdService, image: Image.Image): Effect.Effect<void, ContainerdError> => {
  const key = snapshotLabel(image.snapshotter)
  return Effect.asVoid(containerd.content.update({
    info: { digest: image.config.digest, labels: { [key]: image.chainId } },
    updateMask: [`labels.${key}`]
  }))
}

/** Images.Create, or Update when the name exists (and Create again if it vanished in between). */
const putRecord = (containerd: ContainerdService, image: Image.Image): Effect.Effect<void, ContainerdError> => {
  const record = {
    name: image.name,
    labels: {},
    target: {
      mediaType: image.target.mediaType,
      digest: image.target.digest,
      size: BigInt(image.target.size),
      annotations: {}
    }
  }
  const attempt = (tries: number): Effect.Effect<void, ContainerdError> =>
    containerd.images.create({ image: record }).pipe(
      Effect.asVoid,
      Effect.catchIf((error) => error.reason === "AlreadyExists", () =>
        containerd.images.update({ image: record }).pipe(
          Effect.asVoid,
          Effect.catchIf((error) => error.reason === "NotFound" && tries > 0, () => attempt(tries - 1))
        ))
    )
  return attempt(2)
}
