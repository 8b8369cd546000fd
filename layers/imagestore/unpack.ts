/**
 * Unpacking an image's layers into committed snapshots named by chain ID (as containerd/containerd unpacker.go
 * does it; chain IDs per opencontainers/image-spec config.md): for each layer bottom-up, skip it when its
 * snapshot exists, else Prepare an "extract-..." snapshot on the previous chain ID, Diff.Apply the compressed
 * layer blob into its mounts, check the applied digest against the config's diff ID, Commit it under the chain
 * ID, and label the layer blob with its uncompressed digest. A prepared snapshot that was not committed
 * (failure, interruption) is removed.
 */
import { randomBytes } from "node:crypto"
import { Effect, Option } from "effect"
import type { ContainerdError, ContainerdService } from "../Containerd.js"
import { SNAPSHOT_REF, UNCOMPRESSED } from "../../src/image/GcLabels.js"
import type { Mount } from "../../src/gen/github.com/containerd/containerd/api/types/mount.js"
import type { Descriptor } from "../../src/image/Manifest.js"
import { failure, type ImageStoreError } from "./ImageStoreError.js"
import type { ProgressTracker } from "./Progress.js"
import { protect } from "./contentStore.js"

export interface UnpackOptions<E> {
  /** The image as the user wrote it (for error messages). */
  readonly image: string
  readonly snapshotter: string
  readonly leaseId: string
  readonly layers: ReadonlyArray<Descriptor>
  readonly diffIds: ReadonlyArray<string>
  readonly chainIds: ReadonlyArray<string>
  /** Completes when layer `index`'s blob is in the content store (it may still be downloading). */
  readonly layerReady: (index: number) => Effect.Effect<void, E>
  readonly progress: ProgressTracker
}

/** Prepare attempts when a concurrent unpacker keeps winning the race for the same chain ID (as the Go client). */
const PREPARE_ATTEMPTS = 3

/** `extract-<nanoseconds>-<random> <chainID>`, the Go unpacker's key format. */
const extractKey = (chainId: string): string =>
  `extract-${process.hrtime.bigint()}-${randomBytes(3).toString("base64url")} ${chainId}`

/** Whether a snapshot with this key exists. */
export const snapshotExists = (
  containerd: ContainerdService,
  snapshotter: string,
  key: string
): Effect.Effect<boolean, ContainerdError> =>
  containerd.snapshots.stat({ snapshotter, key }).pipe(
    Effect.as(true),
    Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed(false))
  )

/** Labels a layer's snapshot carries: its chain ID, plus the descriptor's `containerd.io/snapshot/` annotations. */
const snapshotLabels = (layer: Descriptor, chainId: string): Record<string, string> => {
  const labels: Record<string, string> = { [SNAPSHOT_REF]: chainId }
  for (const [key, value] of Object.entries(layer.annotations ?? {})) {
    if (key.startsWith("containerd.io/snapshot/")) labels[key] = value
  }
  return labels
}

export const unpack = <E>(
  containerd: ContainerdService,
  options: UnpackOptions<E>
): Effect.Effect<void, ContainerdError | ImageStoreError | E> => {
  const { snapshotter } = options
  const snapshots = containerd.snapshots

  const keep = (chainId: string) => protect(containerd, options.leaseId, { id: chainId, type: `snapshots/${snapshotter}` })

  /** Applies the layer into the prepared snapshot and commits it; removes the snapshot unless committed. */
  const applyAndCommit = (index: number, key: string, mounts: ReadonlyArray<Mount>) =>
    Effect.suspend(() => {
      const layer = options.layers[index]!
      const diffId = options.diffIds[index]!
      const chainId = options.chainIds[index]!
      const labels = snapshotLabels(layer, chainId)
      let settled = false
      return Effect.gen(function*() {
        const { applied } = yield* containerd.diff.apply({
          diff: { mediaType: layer.mediaType, digest: layer.digest, size: BigInt(layer.size), annotations: layer.annotations ?? {} },
          mounts
        })
        if (applied?.digest !== diffId) {
          return yield* failure(
            "pull",
            options.image,
            "Corrupt",
            `layer ${layer.digest} unpacked to ${applied?.digest ?? "nothing"}, but the image config says its diff ID is ${diffId}`
          )
        }
        yield* snapshots.commit({ snapshotter, name: chainId, key, labels }).pipe(
          Effect.tap(() => {
            settled = true
          }),
          // Another unpacker committed the same chain first: ours is redundant.
          Effect.catchIf((error) => error.reason === "AlreadyExists", () => Effect.void)
        )
      }).pipe(
        Effect.onExit(() =>
          settled ?
            Effect.void :
            snapshots.remove({ snapshotter, key }).pipe(
              Effect.catchAll((error) => Effect.logWarning(`could not remove snapshot ${key}: ${error.message}`))
            )
        )
      )
    })

  const unpackLayer = (index: number) =>
    Effect.gen(function*() {
      const chainId = options.chainIds[index]!
      const parent = index === 0 ? "" : options.chainIds[index - 1]!
      // Held before it is looked at, as blobs are (contentStore.ts): an unreferenced snapshot may be collected.
      yield* keep(chainId)
      if (yield* snapshotExists(containerd, snapshotter, chainId)) {
        return yield* options.progress.unpack(index, "unpacked")
      }
      yield* options.layerReady(index)
      yield* options.progress.unpack(index, "unpacking")
      const layer = options.layers[index]!
      for (let attempt = 1;; attempt++) {
        const key = extractKey(chainId)
        const prepared = yield* snapshots.prepare({ snapshotter, key, parent, labels: snapshotLabels(layer, chainId) }).pipe(
          Effect.map(Option.some),
          // "target snapshot ... already exists": the chain was unpacked meanwhile (the snapshot.ref label).
          Effect.catchIf((error) => error.reason === "AlreadyExists", () => Effect.succeed(Option.none()))
        )
        if (Option.isSome(prepared)) {
          yield* applyAndCommit(index, key, prepared.value.mounts)
          break
        }
        if (yield* snapshotExists(containerd, snapshotter, chainId)) break
        if (attempt >= PREPARE_ATTEMPTS) {
          return yield* failure(
            "pull",
            options.image,
            "Containerd",
            `could not prepare a snapshot for layer ${layer.digest} (chain ${chainId}) after ${PREPARE_ATTEMPTS} attempts`,
            { recoverable: true }
          )
        }
      }
      yield* containerd.content.update({
        info: { digest: layer.digest, labels: { [UNCOMPRESSED]: options.diffIds[index]! } },
        updateMask: [`labels.${UNCOMPRESSED}`]
      })
      yield* options.progress.unpack(index, "unpacked")
    })

  return Effect.forEach(options.layers, (_, index) => unpackLayer(index), { discard: true })
}
