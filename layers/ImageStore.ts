/**
 * ImageStore: images in containerd, pulled client-side (README.md, "How a task runs"; the steps of containerd's own
 * client, containerd/containerd pull.go and unpacker.go).
 *
 * `pull` asks the registry at every call what a tag points to, as the original driver does at every task start
 * (Roblox/nomad-driver-containerd pulls at every start): one manifest HEAD, with the usual authentication, so a moved tag is picked up and
 * credentials the registry refuses fail the pull even when the image is present. When the answer is the image the
 * namespace already holds complete, that image is used (a missing snapshot chain is unpacked again from the
 * content store); otherwise the image is pulled under one lease, fetching only the blobs the content store lacks:
 * documents and layers go into the content store with the GC labels, layers are unpacked into snapshots while later
 * ones still download, and the image record is written last. Better than the original: a digest-pinned reference
 * whose image is present asks the registry nothing, and a registry that cannot be reached (network, timeout, 5xx,
 * 429) does not stop a present image, which is used with a warning. `forcePull` downloads every blob again, checking
 * its digest.
 *
 * Concurrent pulls of one reference in this process share one pull; `image_pull_timeout` bounds each caller;
 * progress goes to listeners, throttled. `readFile` reads a file from the image's layer blobs without mounting
 * anything.
 */
import { Context, Deferred, Duration, Effect, Either, Fiber, FiberRef, Layer, Option, Schedule, type Scope } from "effect"
import { Containerd, type ContainerdError, currentNamespace, inLease } from "./Containerd.js"
import { Registry, withHostFailures } from "./Registry.js"
import { fingerprint, staticCredential, type UserPassword } from "../src/image/Credentials.js"
import type { Image } from "../src/image/Image.js"
import type { Descriptor } from "../src/image/Manifest.js"
import * as ImageConfig from "../src/image/ImageConfig.js"
import * as Platform from "../src/image/Platform.js"
import * as Reference from "../src/image/Reference.js"
import { isRecoverable, type RegistryError, TEMPORARY_HINT } from "../src/image/RegistryProtocol.js"
import { fetchImage, labelSnapshot } from "./imagestore/fetchImage.js"
import {
  failure,
  fromContainerdError,
  fromReferenceError,
  fromRegistryError,
  ImageStoreError,
  type Operation,
  timedOut
} from "./imagestore/ImageStoreError.js"
import { boundedCache } from "./imagestore/boundedCache.js"
import { inspect, type LocalImage } from "./imagestore/localImage.js"
import { makeTracker, type ProgressListener, type PullProgress } from "./imagestore/Progress.js"
import { DEFAULT_MAX_FILE_BYTES, readFile as readImageFile } from "./imagestore/readFile.js"
import { snapshotExists, unpack } from "./imagestore/unpack.js"

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
  /**
   * Deadline of reading a small blob (manifest, index, config) from the content store (default 1 minute, like the
   * Containerd client's deadline of other small calls, which its server streams lack), so a hung containerd cannot
   * hold a pull, or `get`, forever. Layer blobs are read and written without one.
   */
  readonly readTimeout?: Duration.DurationInput | undefined
}

export interface PullOptions {
  /** The task's own `auth` block; wins over the driver's credential sources. */
  readonly auth?: UserPassword | undefined
  /** Download every blob from the registry again, even those present, checking their digests (`force_pull`). */
  readonly forcePull?: boolean | undefined
  /** Bound on this caller's wait for the pull (`image_pull_timeout`). */
  readonly timeout?: Duration.DurationInput | undefined
  readonly onProgress?: ProgressListener | undefined
  /**
   * Told when the pull succeeded in a degraded way: the registry could not be reached, and the image already present
   * is used unchecked (the message names the registry, the reason and the digest). Without a listener the warning
   * is logged.
   */
  readonly onWarning?: ((message: string) => Effect.Effect<void>) | undefined
  /**
   * Labels added to the image record when this pull writes it (downloads the image or a moved tag), not when an
   * image already present is used: how the image GC tells the images the driver pulled from the operator's.
   */
  readonly labels?: Readonly<Record<string, string>> | undefined
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

/** What a pull yields to each caller that shares it. */
interface PullResult {
  readonly image: Image
  readonly warnings: ReadonlyArray<string>
}

/** One pull in progress, shared by every caller asking for the same image meanwhile. */
interface InFlight {
  readonly result: Deferred.Deferred<PullResult, ImageStoreError>
  readonly listeners: Set<ProgressListener>
  fiber: Fiber.RuntimeFiber<unknown> | undefined
  last: PullProgress | undefined
  waiters: number
}

/**
 * A registry that answers 429 or 5xx, or refuses or drops a connection, is asked twice more (after 0.2 s and 0.4 s)
 * before it counts as unreachable. Timeouts are not retried: each already took the request timeout.
 */
const transientRetry = Schedule.exponential("200 millis", 2).pipe(Schedule.intersect(Schedule.recurs(2)))

const isTransient = (error: RegistryError): boolean => error.reason === "Unreachable"

/** The registry's error message without the "temporary" hint, for a sentence that says what happens instead. */
const reasonOf = (error: RegistryError): string => error.message.replace(`; ${TEMPORARY_HINT}`, "")

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
    const readTimeout = Duration.decode(options.readTimeout ?? Duration.minutes(1))
    const inFlight = new Map<string, InFlight>()

    const namespace = Effect.map(FiberRef.get(currentNamespace), Option.getOrElse(() => containerd.namespace))

    const parse = (input: string) =>
      Effect.mapError(Reference.parse(input), (error) => fromReferenceError(input, error)).pipe(Effect.map(Reference.canonical))

    const containerdFailure = (operation: Operation, input: string) => <A, E>(effect: Effect.Effect<A, E | ContainerdError>) =>
      Effect.mapError(effect, (error) =>
        error instanceof ImageStoreError ? error : fromContainerdError(operation, input, error as ContainerdError))

    type Present = Extract<LocalImage, { readonly _tag: "Ready" | "Packed" }>

    /** A present image: ready as it is, or its snapshot chain unpacked again from the content store (no registry). */
    const usePresent = (input: string, local: Present, progress: ReturnType<typeof makeTracker>) =>
      Effect.gen(function*() {
        const { image } = local
        if (local._tag === "Packed") {
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
        }
        yield* progress.phase("done")
        return image
      })

    /**
     * The pull itself. A digest reference whose image is present and complete needs no registry; anything else is
     * resolved with the registry first (the pull's credential check), then used if present with that digest, else
     * fetched under its own lease.
     */
    // An image found ready stays ready while its record points at the same target and its top snapshot exists:
    // its documents are content-addressed and kept alive by the record. Checking those two is what a start of a
    // present image costs instead of reading every document and asking for every layer again.
    const readyImages = boundedCache<Image>(256)
    const inspectLocal = (name: string) =>
      Effect.gen(function*() {
        const key = `${yield* namespace}\0${name}`
        const known = readyImages.get(key)
        if (known !== undefined) {
          const [target, unpacked] = yield* Effect.all([
            containerd.images.get({ name }).pipe(
              Effect.map((response) => response.image?.target?.digest),
              Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed(undefined))
            ),
            snapshotExists(containerd, snapshotter, known.chainId)
          ], { concurrency: 2 })
          if (target === known.target.digest && unpacked) return { _tag: "Ready", image: known } as const
          readyImages.delete(key)
        }
        const local = yield* inspect(containerd, { name, snapshotter, platform, readTimeout })
        if (local._tag === "Ready") readyImages.set(key, local.image)
        return local
      })

    const addRecordLabels = (image: Image, labels: Readonly<Record<string, string>>) =>
      Object.keys(labels).length === 0 ?
        Effect.void :
        Effect.asVoid(containerd.images.update({
          image: {
            name: image.name,
            labels: { ...labels },
            target: { mediaType: image.target.mediaType, digest: image.target.digest, size: BigInt(image.target.size), annotations: {} }
          },
          updateMask: Object.keys(labels).map((key) => `labels.${key}`)
        }))

    const runPull = (input: string, ref: Reference.Reference, pull: PullOptions, report: ProgressListener) =>
      Effect.gen(function*() {
        const progress = makeTracker(ref.normalized, progressInterval, report)
        const force = pull.forcePull === true
        const resolve = registry.resolve(ref, { auth: pull.auth }).pipe(
          Effect.retry({ while: isTransient, schedule: transientRetry }),
          Effect.either
        )
        // A tag is always checked with the registry: ask it while the namespace is looked at.
        const asked = ref.digest === undefined ? yield* Effect.fork(resolve) : undefined
        const local: LocalImage = force ?
          { _tag: "Absent" } :
          yield* inspectLocal(ref.normalized)
        const present = local._tag === "Ready" || local._tag === "Packed" ? local : undefined
        if (present !== undefined && ref.digest !== undefined) {
          return { image: yield* usePresent(input, present, progress), warnings: [] }
        }
        yield* progress.phase("resolve")
        const resolved = asked === undefined ? yield* resolve : yield* Fiber.join(asked)
        if (Either.isLeft(resolved)) {
          const error = resolved.left
          // Only an unreachable registry lets a present image through: refused credentials, a tag the registry does
          // not know and a broken answer fail the pull as they would without the image.
          if (present === undefined || !isRecoverable(error)) return yield* fromRegistryError(input, error)
          const image = yield* usePresent(input, present, progress)
          const warning = `registry ${ref.domain} could not be reached to check ${ref.normalized}: ${reasonOf(error)}; ` +
            `using the image already present, ${image.target.digest}`
          return { image, warnings: [warning] }
        }
        const target: Descriptor = resolved.right
        if (present !== undefined && present.image.target.digest === target.digest) {
          return { image: yield* usePresent(input, present, progress), warnings: [] }
        }
        if (local._tag === "Incomplete") yield* Effect.logDebug(`image ${ref.normalized} is incomplete (${local.detail}); pulling it`)
        if (present !== undefined) {
          yield* Effect.logDebug(`tag ${ref.normalized} moved from ${present.image.target.digest} to ${target.digest}; pulling it`)
        }
        const image = yield* Effect.scoped(Effect.gen(function*() {
          const lease = yield* containerd.withLease()
          return yield* fetchImage({
            containerd,
            registry,
            image: input,
            ref,
            target,
            request: { auth: pull.auth },
            force,
            snapshotter,
            platform,
            leaseId: lease.id,
            maxConcurrentDownloads,
            readTimeout,
            progress
          }).pipe(inLease(lease.id))
        }))
        yield* addRecordLabels(image, pull.labels ?? {})
        return { image, warnings: [] }
      }).pipe(
        containerdFailure("pull", input),
        Effect.withSpan("ImageStore.pull", { attributes: { image: ref.normalized } })
      )

    /**
     * Joins the pull running under `key`, or starts it in the layer's scope, and waits for it at most `timeout`
     * (the message then says what the pull was doing). The last caller to leave (done, timed out or interrupted)
     * interrupts a pull still running, which releases its lease and ingests.
     */
    const joinPull = (
      key: string,
      start: (report: ProgressListener) => Effect.Effect<PullResult, ImageStoreError>,
      onProgress: ProgressListener | undefined,
      timeout: Duration.Duration | undefined,
      onTimeout: (last: PullProgress | undefined) => ImageStoreError
    ) =>
      Effect.acquireUseRelease(
        Effect.gen(function*() {
          let entry = inFlight.get(key)
          if (entry === undefined) {
            const created: InFlight = {
              result: yield* Deferred.make<PullResult, ImageStoreError>(),
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
        (entry) =>
          timeout === undefined ?
            Deferred.await(entry.result) :
            Effect.timeoutFail(Deferred.await(entry.result), { duration: timeout, onTimeout: () => onTimeout(entry.last) }),
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
        const timeout = pullOptions.timeout === undefined ? undefined : Duration.decode(pullOptions.timeout)
        const { image, warnings } = yield* joinPull(
          key,
          (report) => withHostFailures(runPull(input, ref, pullOptions, report)),
          pullOptions.onProgress,
          timeout,
          (last) => timedOut(input, ref.normalized, timeout ?? Duration.infinity, last)
        )
        const warn = pullOptions.onWarning ?? Effect.logWarning
        yield* Effect.forEach(warnings, (warning) => Effect.catchAllCause(warn(warning), Effect.logWarning), { discard: true })
        return image
      })

    const get = (input: string) =>
      Effect.gen(function*() {
        const ref = yield* parse(input)
        const local = yield* inspectLocal(ref.normalized)
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

    // A file of an image is the same for as long as the image exists (layers are content-addressed): every task
    // start reads the image's /etc/passwd and /etc/group, and decompressing the layers again each time cost more
    // than all the containerd calls of the start (bench/start.mjs).
    const files = boundedCache<Option.Option<string>>(512)
    const readFile = (image: Image, path: string) =>
      files.getOrCompute(
        `${image.manifest.digest}\0${path}`,
        readImageFile(containerd, image.name, image.layers, path, DEFAULT_MAX_FILE_BYTES).pipe(
          Effect.map(Option.map((bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"))),
          containerdFailure("read", image.name),
          Effect.withSpan("ImageStore.readFile", { attributes: { image: image.name, path } })
        )
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
