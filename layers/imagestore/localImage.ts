/**
 * What a namespace already holds of an image, read from containerd alone (no registry): the image record, its
 * index/manifest/config blobs (the platform manifest chosen as for a pull), whether every layer blob is present,
 * and whether the top chain ID is unpacked in the snapshotter (and kept alive by the config's GC label).
 */
import { type Duration, Effect, Either, Option } from "effect"
import type { ContainerdError, ContainerdService } from "../Containerd.js"
import type { Descriptor as DescriptorPb } from "../../src/gen/github.com/containerd/containerd/api/types/descriptor.js"
import { snapshotLabel } from "../../src/image/GcLabels.js"
import * as Image from "../../src/image/Image.js"
import * as ImageConfig from "../../src/image/ImageConfig.js"
import * as Manifest from "../../src/image/Manifest.js"
import * as Platform from "../../src/image/Platform.js"
import { info, readAll } from "./contentStore.js"
import { snapshotExists } from "./unpack.js"

export type LocalImage =
  /** No image record with this name. */
  | { readonly _tag: "Absent" }
  /** A record exists but something it needs is missing or unreadable: pull it again. */
  | { readonly _tag: "Incomplete"; readonly detail: string }
  /** Every blob is present; the snapshot chain (or the config's label for it) is missing: unpack again. */
  | { readonly _tag: "Packed"; readonly image: Image.Image }
  /** Ready to run. */
  | { readonly _tag: "Ready"; readonly image: Image.Image }

/** The descriptor of a containerd record (64-bit size as a number; blobs are far below 2^53). */
export const fromPb = (descriptor: DescriptorPb): Manifest.Descriptor => ({
  mediaType: descriptor.mediaType,
  digest: descriptor.digest,
  size: Number(descriptor.size),
  ...(Object.keys(descriptor.annotations).length > 0 ? { annotations: descriptor.annotations } : {})
})

/** Nested indexes deeper than this are not followed. */
export const MAX_INDEX_DEPTH = 4

export const inspect = (
  containerd: ContainerdService,
  options: {
    readonly name: string
    readonly snapshotter: string
    readonly platform: Platform.Platform
    /** Deadline of each small blob read (see ImageStoreOptions.readTimeout). */
    readonly readTimeout: Duration.Duration
  }
): Effect.Effect<LocalImage, ContainerdError> =>
  Effect.gen(function*() {
    const record = yield* containerd.images.get({ name: options.name }).pipe(
      Effect.map((response) => Option.fromNullable(response.image?.target)),
      Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed(Option.none()))
    )
    if (Option.isNone(record)) return { _tag: "Absent" } as const
    const incomplete = (detail: string): LocalImage => ({ _tag: "Incomplete", detail })
    const read = (digest: string) =>
      readAll(containerd, digest, options.readTimeout).pipe(
        Effect.map(Option.some),
        Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed(Option.none<Uint8Array>()))
      )

    const target = fromPb(record.value)
    let descriptor = target
    for (let depth = 0; Manifest.isIndex(descriptor.mediaType); depth++) {
      const bytes = yield* read(descriptor.digest)
      if (Option.isNone(bytes) || depth >= MAX_INDEX_DEPTH) return incomplete(`index ${descriptor.digest} is missing`)
      const index = Manifest.decodeIndex(bytes.value, descriptor)
      if (Either.isLeft(index)) return incomplete(index.left.message)
      const selected = Platform.selectManifest(index.right, options.platform)
      if (Option.isNone(selected)) return incomplete(`no manifest for ${Platform.format(options.platform)}`)
      descriptor = selected.value
    }
    const manifestBytes = yield* read(descriptor.digest)
    if (Option.isNone(manifestBytes)) return incomplete(`manifest ${descriptor.digest} is missing`)
    const manifest = Manifest.decodeManifest(manifestBytes.value, descriptor)
    if (Either.isLeft(manifest)) return incomplete(manifest.left.message)
    const { config, layers } = manifest.right
    const configInfo = yield* info(containerd, config.digest)
    const configBytes = yield* read(config.digest)
    if (Option.isNone(configInfo) || Option.isNone(configBytes)) return incomplete(`config ${config.digest} is missing`)
    const document = ImageConfig.decode(configBytes.value, config.digest)
    if (Either.isLeft(document)) return incomplete(document.left.message)
    if (document.right.diffIds.length !== layers.length || layers.length === 0) {
      return incomplete(`config ${config.digest} does not match the manifest's layers`)
    }
    const layerInfos = yield* Effect.forEach(layers, (layer) => info(containerd, layer.digest), { concurrency: 8 })
    const missing = layers.find((_, i) => Option.isNone(layerInfos[i]!))
    if (missing !== undefined) return incomplete(`layer ${missing.digest} is missing`)
    const image = Image.make({
      name: options.name,
      target,
      manifest: descriptor,
      layers,
      config,
      document: document.right,
      snapshotter: options.snapshotter
    })
    const unpacked = configInfo.value.labels[snapshotLabel(options.snapshotter)] === image.chainId &&
      (yield* snapshotExists(containerd, options.snapshotter, image.chainId))
    return unpacked ? { _tag: "Ready", image } as const : { _tag: "Packed", image } as const
  })
