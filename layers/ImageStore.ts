/**
 * ImageStore: images in containerd, pulled client-side (DESIGN.md decision 7, containerd-api.md §2.12).
 *
 * `pull` uses what the namespace already holds when it is complete (no registry traffic; a missing snapshot
 * chain is unpacked again from the content store), else pulls from the registry under one lease: documents and
 * layers go into the content store with the GC labels, layers are unpacked into snapshots while later ones
 * still download, and the image record is written last. Concurrent pulls of one reference in this process share
 * one pull; `image_pull_timeout` bounds each caller; progress goes to listeners, throttled. `readFile` reads a
 * file from the image's layer blobs without mounting anything.
 */
import { Context, Deferred, Duration, Effect, Fiber, FiberRef, Layer, Option, type Scope } from "effect"
import { Containerd, type ContainerdError, currentNamespace, inLease } from "./Containerd.js"
import { Registry } from "./Registry.js"
import { fingerprint, staticCredential, type UserPassword } from "../src/image/Credentials.js"
import type { Image } from "../src/image/Image.js"
import * as ImageConfig from "../src/image/ImageConfig.js"
import * as Platform from "../src/image/Platform.js"
import * as Reference from "../src/image/Reference.js"
import { fetchImage, labelSnapshot } from "./imagestore/fetchImage.js"
import {
  failure,
  fromContainerdError,
  fromReferenceError,
  ImageStoreError,
  type Operation,
  timedOut
} from "./imagestore/ImageStoreError.js"
import { inspect } from "./imagestore/localImage.js"
import { makeTracker, type ProgressListener, type PullProgress } from "./imagestore/Progress.js"
import { DEFAULT_MAX_FILE_BYTES, readFile as readImageFile } from "./imagestore/readFile.js"
import { unpack } from "./imagestore/unpack.js"

export type { Image } from "../src/image/Image.js"
export type { ImageConfig } from "../src/image/ImageConfig.js"
export { ImageStoreError, type ImageStoreErrorReason } from "./imagestore/ImageStoreError.js"
export {
  describe as describeProgress,
  type FetchStatus,
  type LayerProgress,
  type ProgressListener,
  type PullPhase,
  type PullProgress,
  type UnpackStatus
} from "./imagestore/Progress.js"

export interface ImageStoreOptions {
  /** Snapshotter layers are unpacked into (the driver's `snapshotter` option). */
  readonly snapshotter: string
  /** Platform picked from multi-platform indexes; default: this host's. */
  readonly platform?: Platform.Platform | undefined
  /**
   * Layers downloaded at the same time per pull (default 2). Layers are unpacked in order as soon as each is
   * stored; more parallel downloads share the bandwidth (or CPU) so that the lower layers finish later, and more of
   * the unpacking is left for the end (measured with bench/pull.mjs: 2 is about 6 % faster than 3 on a local
   * registry, 1 no faster than 2).
   */
  readonly maxConcurrentDownloads?: number | undefined
  /** Minimum time between two byte-count progress reports (default 1 second). */
  readonly progressInterval?: Duration.DurationInput | undefined
}

export interface PullOptions {
  /** The task's own `auth` block; wins over the driver's credential sources. */
  readonly auth?: UserPassword | undefined
  /** Ask the registry even when the image is present (`force_pull`). */
  readonly forcePull?: boolean | undefined
  /** Bound on this caller's wait for the pull (`image_pull_timeout`). */
  readonly timeout?: Duration.DurationInput | undefined
  readonly onProgress?: ProgressListener | undefined
}

export class ImageStore extends Context.Tag("containerd-driver/ImageStore")<ImageStore, {
  readonly snapshotter: string
  /** Makes the image present and unpacked in the current namespace; `reference` as the user wrote it. */
  readonly pull: (reference: string, options?: PullOptions) => Effect.Effect<Image, ImageStoreError>
  /** The image if it is present and unpacked in the current namespace, else a NotFound error. No registry. */
  readonly get: (reference: string) => Effect.Effect<Image, ImageStoreError>
  /** A file of the image's root filesystem (e.g. `etc/passwd`) as UTF-8, or none when there is no such file. */
  readonly readFile: (image: Image, path: string) => Effect.Effect<Option.Option<string>, ImageStoreError>
  /** Deletes the image record (its blobs and snapshots go with containerd's next GC, at once with `sync`). */
  readonly remove: (reference: string, options?: { readonly sync?: boolean }) => Effect.Effect<void, ImageStoreError>
}>() {}

/** One pull in progress, shared by every caller asking for the same image meanwhile. */
interface InFlight {
  readonly result: Deferred.Deferred<Image, ImageStoreError>
  readonly listeners: Set<ProgressListener>
  fiber: Fiber.RuntimeFiber<unknown> | undefined
  last: PullProgress | undefined
  waiters: number
}

export const make = (
  options: ImageStoreOptions
): Effect.Effect<ImageStore["Type"], never, Scope.Scope | Containerd | Registry> =>
  Effect.gen(function*() {
    const containerd = yield* Containerd
    const registry = yield* Registry
    const scope = yield* Effect.scope
    const { snapshotter } = options
    const platform = options.platform ?? Platform.host()
    const maxConcurrentDownloads = Math.max(1, options.maxConcurrentDownloads ?? 2)
    const progressInterval = options.progressInterval ?? Duration.seconds(1)
    const inFlight = new Map<string, InFlight>()

    const namespace = Effect.map(FiberRef.get(currentNamespace), Option.getOrElse(() => containerd.namespace))

    const parse = (input: string) =>
      Effect.mapError(Reference.parse(input), (error) => fromReferenceError(input, error)).pipe(Effect.map(Reference.canonical))

    const containerdFailure = (operation: Operation, input: string) => <A, E>(effect: Effect.Effect<A, E | ContainerdError>) =>
      Effect.mapError(effect, (error) =>
        error instanceof ImageStoreError ? error : fromContainerdError(operation, input, error as ContainerdError))

    /** The pull itself: local if complete, else from the registry, each under its own lease. */
    const runPull = (input: string, ref: Reference.Reference, pull: PullOptions, report: ProgressListener) =>
      Effect.gen(function*() {
        const progress = makeTracker(ref.normalized, progressInterval, report)
        if (pull.forcePull !== true) {
          const local = yield* inspect(containerd, { name: ref.normalized, snapshotter, platform })
          if (local._tag === "Ready") {
            yield* progress.phase("done")
            return local.image
          }
          if (local._tag === "Packed") {
            const { image } = local
            yield* Effect.scoped(Effect.gen(function*() {
              const lease = yield* containerd.withLease()
              yield* progress.layers(image.layers)
              yield* Effect.forEach(image.layers, (_, index) => progress.fetch(index, "present"), { discard: true })
              yield* progress.phase("unpack")
              yield* unpack(containerd, {
                image: input,
                snapshotter,
                leaseId: lease.id,
                layers: image.layers,
                diffIds: image.diffIds,
                chainIds: ImageConfig.chainIds(image.diffIds),
                layerReady: () => Effect.void,
                progress
              }).pipe(Effect.zipRight(labelSnapshot(containerd, image)), inLease(lease.id))
            }))
            yield* progress.phase("done")
            return image
          }
          if (local._tag === "Incomplete") yield* Effect.logDebug(`image ${ref.normalized} is incomplete (${local.detail}); pulling it`)
        }
        return yield* Effect.scoped(Effect.gen(function*() {
          const lease = yield* containerd.withLease()
          return yield* fetchImage({
            containerd,
            registry,
            image: input,
            ref,
            request: { auth: pull.auth },
            snapshotter,
            platform,
            leaseId: lease.id,
            maxConcurrentDownloads,
            progress
          }).pipe(inLease(lease.id))
        }))
      }).pipe(
        containerdFailure("pull", input),
        Effect.withSpan("ImageStore.pull", { attributes: { image: ref.normalized } })
      )

    /**
     * Joins the pull running under `key`, or starts it in the layer's scope. The last caller to leave (done,
     * timed out or interrupted) interrupts a pull still running, which releases its lease and ingests.
     */
    const joinPull = (
      key: string,
      start: (report: ProgressListener) => Effect.Effect<Image, ImageStoreError>,
      onProgress: ProgressListener | undefined
    ) =>
      Effect.acquireUseRelease(
        Effect.gen(function*() {
          let entry = inFlight.get(key)
          if (entry === undefined) {
            const created: InFlight = {
              result: yield* Deferred.make<Image, ImageStoreError>(),
              listeners: new Set(),
              fiber: undefined,
              last: undefined,
              waiters: 0
            }
            const report: ProgressListener = (progress) =>
              Effect.suspend(() => {
                created.last = progress
                return Effect.forEach(created.listeners, (listener) => Effect.catchAllCause(listener(progress), Effect.logWarning), {
                  discard: true
                })
              })
            inFlight.set(key, created)
            created.fiber = yield* start(report).pipe(
              Effect.intoDeferred(created.result),
              Effect.ensuring(Effect.sync(() => {
                if (inFlight.get(key) === created) inFlight.delete(key)
              })),
              Effect.interruptible,
              Effect.forkIn(scope)
            )
            entry = created
          }
          entry.waiters++
          if (onProgress !== undefined) {
            entry.listeners.add(onProgress)
            if (entry.last !== undefined) yield* Effect.catchAllCause(onProgress(entry.last), Effect.logWarning)
          }
          return entry
        }),
        (entry) => Deferred.await(entry.result),
        (entry) =>
          Effect.suspend(() => {
            entry.waiters--
            if (onProgress !== undefined) entry.listeners.delete(onProgress)
            if (entry.waiters > 0) return Effect.void
            if (inFlight.get(key) === entry) inFlight.delete(key)
            return entry.fiber === undefined ? Effect.void : Effect.asVoid(Fiber.interrupt(entry.fiber))
          })
      )

    const pull = (input: string, pullOptions: PullOptions = {}) =>
      Effect.gen(function*() {
        const ref = yield* parse(input)
        const ns = yield* namespace
        const credential = staticCredential(pullOptions.auth, undefined)
        const key = [
          ns,
          snapshotter,
          ref.normalized,
          pullOptions.forcePull === true ? "force" : "",
          Option.match(credential, { onNone: () => "", onSome: fingerprint })
        ].join("\0")
        const joined = joinPull(key, (report) => runPull(input, ref, pullOptions, report), pullOptions.onProgress)
        if (pullOptions.timeout === undefined) return yield* joined
        const timeout = Duration.decode(pullOptions.timeout)
        return yield* Effect.timeoutFail(joined, { duration: timeout, onTimeout: () => timedOut(input, ref.normalized, timeout) })
      })

    const get = (input: string) =>
      Effect.gen(function*() {
        const ref = yield* parse(input)
        const local = yield* inspect(containerd, { name: ref.normalized, snapshotter, platform })
        if (local._tag === "Ready") return local.image
        const ns = yield* namespace
        return yield* failure(
          "read",
          input,
          "NotFound",
          local._tag === "Absent" ?
            `image ${ref.normalized} is not present in containerd namespace ${ns}` :
            local._tag === "Packed" ?
            `image ${ref.normalized} is not unpacked into snapshotter ${snapshotter} in containerd namespace ${ns}` :
            `image ${ref.normalized} is incomplete in containerd namespace ${ns}: ${local.detail}`
        )
      }).pipe(containerdFailure("read", input))

    const readFile = (image: Image, path: string) =>
      readImageFile(containerd, image.name, image.layers, path, DEFAULT_MAX_FILE_BYTES).pipe(
        Effect.map(Option.map((bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"))),
        containerdFailure("read", image.name),
        Effect.withSpan("ImageStore.readFile", { attributes: { image: image.name, path } })
      )

    const remove = (input: string, removeOptions: { readonly sync?: boolean } = {}) =>
      Effect.gen(function*() {
        const ref = yield* parse(input)
        yield* containerd.images.delete({ name: ref.normalized, sync: removeOptions.sync ?? false }).pipe(
          Effect.catchIf((error) => error.reason === "NotFound", () => Effect.void)
        )
      }).pipe(containerdFailure("remove", input))

    return ImageStore.of({ snapshotter, pull, get, readFile, remove })
  })

export const layer = (options: ImageStoreOptions): Layer.Layer<ImageStore, never, Containerd | Registry> =>
  Layer.scoped(ImageStore, make(options))
