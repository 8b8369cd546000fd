/**
 * The Content.Write protocol (containerd-api.md §2.6) as one call: open the ingest with STAT, send the
 * bytes as WRITE messages of at most 1 MiB at increasing offsets (the first at offset 0, which also
 * restarts a stale ingest under the same ref), then COMMIT with the expected size, digest and labels.
 * ALREADY_EXISTS (at open or commit) means containerd has the blob: success without writing. Any other
 * failure or an interruption aborts the ingest so it does not linger.
 */
import { Effect, type Scope, Stream } from "effect"
import {
  type WriteContentRequest,
  type WriteContentResponse,
  WriteAction
} from "../../src/gen/github.com/containerd/containerd/api/services/content/v1/content.js"
import { clientError, type ContainerdError } from "./ContainerdError.js"
import type { DuplexSession } from "./rpc.js"

/** containerd's own read/write buffers are 1 MiB; larger messages gain nothing. */
export const maxWriteChunk = 1 << 20

export interface WriteBlobOptions<E, R> {
  /** Ingest reference; unique per concurrent writer (another writer on the same ref gets Unavailable). */
  readonly ref: string
  /** Expected digest, e.g. "sha256:…"; containerd verifies it on commit. */
  readonly expected: string
  /** Expected size in bytes. */
  readonly total: bigint | number
  /** Labels of the committed blob (e.g. GC references). */
  readonly labels?: Readonly<Record<string, string>> | undefined
  /** The blob's bytes from the start, in chunks of any size. */
  readonly data: Stream.Stream<Uint8Array, E, R>
}

export interface WriteBlobResult {
  readonly digest: string
  readonly size: bigint
  /** True when containerd already had the blob and nothing was committed by this call. */
  readonly alreadyExists: boolean
}

/** Re-cuts a byte stream into pieces of exactly `size` bytes (the last one may be shorter). */
export const rechunkBytes = (size: number) => <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
  Stream.suspend(() => {
    let pending: Array<Uint8Array> = []
    let pendingLength = 0
    const flush = (): Uint8Array => {
      const piece = Buffer.concat(pending, pendingLength)
      pending = []
      pendingLength = 0
      return piece
    }
    return self.pipe(
      Stream.mapConcat((bytes) => {
        const pieces: Array<Uint8Array> = []
        let rest = bytes
        while (pendingLength + rest.length >= size) {
          const needed = size - pendingLength
          pending.push(rest.subarray(0, needed))
          pendingLength += needed
          pieces.push(flush())
          rest = rest.subarray(needed)
        }
        if (rest.length > 0) {
          pending.push(rest)
          pendingLength += rest.length
        }
        return pieces
      }),
      Stream.concat(Stream.suspend(() => (pendingLength > 0 ? Stream.make(flush()) : Stream.empty)))
    )
  })

export const writeBlob = <E, R>(
  openSession: Effect.Effect<DuplexSession<WriteContentRequest, WriteContentResponse>, ContainerdError, Scope.Scope>,
  abort: (ref: string) => Effect.Effect<unknown, ContainerdError>,
  options: WriteBlobOptions<E, R>
): Effect.Effect<WriteBlobResult, ContainerdError | E, R> => {
  const total = BigInt(options.total)
  const existing: WriteBlobResult = { digest: options.expected, size: total, alreadyExists: true }
  return Effect.suspend(() => {
    // Only an ingest this call opened is aborted: a STAT failure may mean another writer holds the ref.
    let ownsIngest = false
    const write = Effect.gen(function*() {
      const session = yield* openSession
      const exists = yield* session.exchange({ action: WriteAction.STAT, ref: options.ref, total, expected: options.expected }).pipe(
        Effect.map(() => false),
        Effect.catchIf((error) => error.reason === "AlreadyExists", () => Effect.succeed(true))
      )
      if (exists) return existing
      ownsIngest = true
      let offset = 0n
      yield* options.data.pipe(
        rechunkBytes(maxWriteChunk),
        Stream.runForEach((chunk) =>
          session.exchange({ action: WriteAction.WRITE, offset, data: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) }).pipe(
            Effect.flatMap((response) => {
              const expectedOffset = offset + BigInt(chunk.byteLength)
              if (response.offset !== expectedOffset) {
                return Effect.fail(
                  clientError("OutOfRange", "Content.Write", `ingest ${options.ref} is at offset ${response.offset}, expected ${expectedOffset}`)
                )
              }
              offset = expectedOffset
              return Effect.void
            })
          )
        )
      )
      const committed = yield* session.exchange({
        action: WriteAction.COMMIT,
        offset,
        total,
        expected: options.expected,
        labels: options.labels ?? {}
      }).pipe(
        Effect.map((response): WriteBlobResult => ({
          digest: response.digest === "" ? options.expected : response.digest,
          size: response.offset,
          alreadyExists: false
        })),
        Effect.catchIf((error) => error.reason === "AlreadyExists", () => Effect.succeed(existing))
      )
      yield* session.end
      if (committed.digest !== options.expected) {
        return yield* Effect.fail(
          clientError("FailedPrecondition", "Content.Write", `committed digest ${committed.digest}, expected ${options.expected}`)
        )
      }
      return committed
    })
    return Effect.scoped(write).pipe(
      Effect.onError(() => (ownsIngest ? abort(options.ref).pipe(Effect.ignore) : Effect.void))
    )
  })
}
