/**
 * Content-store steps of a pull: check whether a blob is there (Content.Info), protect a present blob or
 * snapshot with the pull's lease, add missing labels (Content.Update with one mask path per label), write a blob
 * (Content.Write, retried while another writer holds the same ingest ref), and read blobs back.
 */
import { Chunk, Duration, Effect, Option, Schedule, Stream } from "effect"
import { ContainerdError, type ContainerdService } from "../Containerd.js"
import { clientError } from "../containerd/ContainerdError.js"
import type { Descriptor } from "../../src/image/Manifest.js"
import { missingLabels } from "../../src/image/GcLabels.js"
import type { ByteSource } from "../../src/stream/ByteSource.js"

export interface BlobInfo {
  readonly digest: string
  readonly size: bigint
  readonly labels: Readonly<Record<string, string>>
}

/** The blob's info, or none when this namespace does not have it. */
export const info = (containerd: ContainerdService, digest: string): Effect.Effect<Option.Option<BlobInfo>, ContainerdError> =>
  containerd.content.info({ digest }).pipe(
    Effect.map((response) =>
      Option.fromNullable(response.info).pipe(
        Option.map((i): BlobInfo => ({ digest: i.digest, size: i.size, labels: i.labels }))
      )
    ),
    Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed(Option.none()))
  )

/**
 * Adds an existing blob or snapshot to the lease, so a garbage collection between now and the moment the image
 * references it cannot remove it (it may be unreferenced, e.g. left by an image deleted without GC).
 */
export const protect = (
  containerd: ContainerdService,
  leaseId: string,
  resource: { readonly id: string; readonly type: string }
): Effect.Effect<void, ContainerdError> =>
  Effect.asVoid(containerd.leases.addResource({ id: leaseId, resource }))

/** Sets the labels of `wanted` that the blob lacks, leaving its other labels alone. */
export const addLabels = (
  containerd: ContainerdService,
  digest: string,
  existing: Readonly<Record<string, string>>,
  wanted: Readonly<Record<string, string>>
): Effect.Effect<void, ContainerdError> => {
  const missing = missingLabels(existing, wanted)
  const keys = Object.keys(missing)
  if (keys.length === 0) return Effect.void
  return Effect.asVoid(containerd.content.update({
    info: { digest, labels: missing },
    updateMask: keys.map((key) => `labels.${key}`)
  }))
}

/** containerd's "ref … locked" answer: another writer (process or pull) is ingesting the same blob right now. */
const isLocked = (error: ContainerdError): boolean => error.reason === "Unavailable" && !error.unreachable

/** Back off like the Go client (1 ms … 2 s, jittered) until the other writer finishes; the pull's timeout bounds it. */
const lockedRetry = Schedule.exponential("5 millis", 2).pipe(
  Schedule.union(Schedule.spaced("1 second")),
  Schedule.jittered
)

export interface StoreBlobOptions<E> {
  readonly descriptor: Descriptor
  /** Ingest ref prefix, e.g. "layer" → "layer-sha256:…" (as the Go client names them). */
  readonly kind: "index" | "manifest" | "config" | "layer"
  /** The labels the blob must carry, given the labels it has (none when it is new). */
  readonly labels: (existing: Readonly<Record<string, string>>) => Readonly<Record<string, string>>
  readonly leaseId: string
  /** The blob's bytes (a Stream, or pushed by a ByteSource); only run when the blob is missing. */
  readonly data: Stream.Stream<Uint8Array, E> | ByteSource<E>
  /** Called when the blob was found in the store (nothing to download, unless this re-checks it). */
  readonly onPresent?: Effect.Effect<void, E>
  /** Called once when another writer holds the blob's ingest: this one waits for it. */
  readonly onLocked?: Effect.Effect<void>
  /** Called as containerd confirms each piece written, with its byte count. */
  readonly onWritten?: (bytes: number) => Effect.Effect<void>
}

/**
 * Makes sure the blob is in the content store with (at least) the given labels, and held by the lease.
 * Returns true when it had to be written.
 */
export const storeBlob = <E>(
  containerd: ContainerdService,
  options: StoreBlobOptions<E>
): Effect.Effect<boolean, ContainerdError | E> =>
  Effect.gen(function*() {
    const { descriptor, labels, leaseId } = options
    // Held before it is looked at: a present but unreferenced blob could otherwise be collected right after the look.
    yield* protect(containerd, leaseId, { id: descriptor.digest, type: "content" })
    const existing = yield* info(containerd, descriptor.digest)
    if (Option.isSome(existing)) {
      yield* addLabels(containerd, descriptor.digest, existing.value.labels, labels(existing.value.labels))
      if (options.onPresent !== undefined) yield* options.onPresent
      return false
    }
    let reportedLock = false
    const write = (ref: string) => containerd.content.write({
      ref,
      expected: descriptor.digest,
      total: descriptor.size,
      labels: labels({}),
      data: options.data,
      onWritten: options.onWritten
    }).pipe(
      Effect.tapError((error: unknown) => {
        if (reportedLock || !(error instanceof ContainerdError && isLocked(error)) || options.onLocked === undefined) {
          return Effect.void
        }
        reportedLock = true
        return options.onLocked
      }),
      Effect.retry({ while: (error: unknown) => error instanceof ContainerdError && isLocked(error), schedule: lockedRetry })
    )
    const ref = `${options.kind}-${descriptor.digest}`
    // "write @N must occur at current offset M": containerd (seen with 1.6) resumed a stale ingest of this blob after
    // it refused the blob's commit for a digest mismatch and the ingest was aborted, then refused our writes at its
    // offset check. A writer holding the ref would be "locked" instead; so the blob is written anew under a ref of
    // its own (test/soak/registry-faults.test.ts, corrupt-blob).
    const written = yield* write(ref).pipe(
      Effect.catchIf(
        (error: unknown) => error instanceof ContainerdError && error.reason === "OutOfRange",
        () => write(`${ref}-${Math.random().toString(36).slice(2, 10)}`)
      )
    )
    if (written.alreadyExists) {
      // Another writer committed it first: its labels are not ours.
      const now = yield* info(containerd, descriptor.digest)
      yield* protect(containerd, leaseId, { id: descriptor.digest, type: "content" })
      const current = Option.match(now, { onNone: () => ({}), onSome: (i) => i.labels })
      yield* addLabels(containerd, descriptor.digest, current, labels(current))
    }
    return !written.alreadyExists
  })

/** A blob's bytes as a stream of chunks (containerd sends at most 1 MiB per message). */
export const readStream = (containerd: ContainerdService, digest: string): Stream.Stream<Uint8Array, ContainerdError> =>
  containerd.content.read({ digest }).pipe(Stream.map((response) => response.data))

/**
 * A small blob (manifest, index, config) read completely, within `deadline`: Content.Read is a server stream,
 * which the Containerd client leaves without a deadline (layer blobs take as long as they take).
 */
export const readAll = (
  containerd: ContainerdService,
  digest: string,
  deadline: Duration.Duration
): Effect.Effect<Uint8Array, ContainerdError> =>
  Stream.runCollect(readStream(containerd, digest)).pipe(
    Effect.map((chunks) => Buffer.concat(Chunk.toArray(chunks))),
    Effect.timeoutFail({
      duration: deadline,
      onTimeout: () =>
        clientError("DeadlineExceeded", "Content.Read", `no answer within ${Duration.format(deadline)} reading ${digest}`)
    })
  )
