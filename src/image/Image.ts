/**
 * A pulled image as the driver uses it: where it came from (normalised name, root descriptor), what was chosen
 * for this host (platform manifest, config), how it is stored (layers, diff IDs, the top chain ID naming its
 * unpacked snapshot in `snapshotter`), and the config a task's process inherits.
 */
import { chainIds, type ConfigDocument, type ImageConfig } from "./ImageConfig.js"
import type { Descriptor, Platform } from "./Manifest.js"

export interface Image {
  /** Normalised reference, also the containerd image record name, e.g. `docker.io/library/redis:7`. */
  readonly name: string
  /** What the record points at: the resolved root (an index for multi-platform images). */
  readonly target: Descriptor
  /** The platform manifest used on this host (equal to `target` for single-platform images). */
  readonly manifest: Descriptor
  readonly config: Descriptor
  /** Layer blobs, bottom first. */
  readonly layers: ReadonlyArray<Descriptor>
  readonly diffIds: ReadonlyArray<string>
  /** Chain ID of the top layer: the committed snapshot a container's root filesystem is prepared on. */
  readonly chainId: string
  readonly snapshotter: string
  /** The platform the config declares. */
  readonly platform: Platform
  readonly imageConfig: ImageConfig
}

/** Assembles the Image value from the documents of a pulled (or locally present) image. */
export const make = (fields: {
  readonly name: string
  readonly target: Descriptor
  readonly manifest: Descriptor
  readonly layers: ReadonlyArray<Descriptor>
  readonly config: Descriptor
  readonly document: ConfigDocument
  readonly snapshotter: string
}): Image => {
  const chain = chainIds(fields.document.diffIds)
  return {
    name: fields.name,
    target: fields.target,
    manifest: fields.manifest,
    config: fields.config,
    layers: fields.layers,
    diffIds: fields.document.diffIds,
    chainId: chain[chain.length - 1] ?? "",
    snapshotter: fields.snapshotter,
    platform: fields.document.platform,
    imageConfig: fields.document.config
  }
}
